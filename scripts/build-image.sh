#!/usr/bin/env bash
# Builds wsbench's container image as an OCI image archive, offline and with
# no container engine: the static binary (CGO_ENABLED=0) in one layer with
# what distroless/static gives a Go program (CA certificates, /etc/passwd and
# /etc/group with the user nonroot, 65532, /etc/nsswitch.conf, /tmp, a home),
# run as 65532:65532, ENTRYPOINT ["/wsbench"]: the same layout as
# kube/image/Dockerfile, which needs an engine and the network.
#
#   scripts/build-image.sh                          # builds ./cmd/wsbench, writes bench-out/wsbench-image.oci.tar
#   BIN=path/to/wsbench scripts/build-image.sh      # packs that binary instead (it must be static)
#   GOARCH=arm64 TAG=v1 scripts/build-image.sh      # another architecture, another tag
#
# Writes, in $OUT (bench-out):
#   wsbench-image.oci.tar      the OCI image archive (oci-archive), ref name $IMAGE:$TAG
#   wsbench-image.docker.tar   the same image as a docker-archive (RepoTags $IMAGE:$TAG),
#                              the form `kind load image-archive` and `docker load` take
# and then verifies the OCI archive: skopeo reads its manifest and config
# (entrypoint, user, architecture), the binary in the layer is the one that
# was packed, and that binary, run from the unpacked image as user 65532 in a
# chroot, prints its version and holds connections to `wsbench serve`, itself
# run from the image, on loopback.
#
# Needs buildah and skopeo (Debian: apt-get install buildah skopeo; 1.28 and
# 1.9 here). buildah keeps its images in a storage of its own under a
# temporary folder (the vfs driver: no overlay mounts), removed at the end;
# nothing is pulled: the image starts `from scratch`. Runs as root or as a
# user buildah can map (buildah unshare). The verification's chroot needs
# root; VERIFY=0 skips it (skopeo's checks still run).
#
# The same commit gives the same image digest: the binary is built with
# -trimpath and no build ID, file times and the image's creation time are
# SOURCE_DATE_EPOCH (the commit's time unless set), and the layer is written
# in a fixed order.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench-out}
IMAGE=${IMAGE:-docker.io/library/wsbench}
GOARCH=${GOARCH:-$(go env GOARCH)}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
TAG=${TAG:-$(tr -c 'A-Za-z0-9_.\n-' '_' <<<"$VERSION")}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
VERIFY=${VERIFY:-1}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

for t in buildah skopeo python3; do
  command -v "$t" >/dev/null || { echo "build-image: $t not found (Debian: apt-get install buildah skopeo)" >&2; exit 1; }
done
mkdir -p "$OUT"
oci="$OUT/wsbench-image.oci.tar"
dock="$OUT/wsbench-image.docker.tar"
work=$(mktemp -d)
B=(buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs)
ctr=""
cleanup() {
  [ -z "$ctr" ] || "${B[@]}" rm "$ctr" >/dev/null 2>&1 || true
  # vfs layers are plain folders; buildah's own rm leaves the storage's files
  "${B[@]}" rmi --all --force >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# 1. The binary: built here, or BIN; either way it must be static.
bin="$work/wsbench"
if [ -n "${BIN:-}" ]; then
  cp "$BIN" "$bin"
else
  CGO_ENABLED=0 GOOS=linux GOARCH="$GOARCH" go build -trimpath \
    -ldflags "-s -w -buildid= -X main.version=$VERSION" -o "$bin" ./cmd/wsbench
fi
python3 - "$bin" "$GOARCH" <<'PY'
# static: an ELF executable without a program interpreter (PT_INTERP), for
# the architecture the image says; anything else would not start on scratch.
import struct, sys
path, goarch = sys.argv[1], sys.argv[2]
machines = {"amd64": 62, "arm64": 183, "386": 3, "arm": 40, "ppc64le": 21, "s390x": 22, "riscv64": 243}
b = open(path, "rb").read()
if b[:4] != b"\x7fELF":
    sys.exit(f"build-image: {path} is not an ELF executable")
end = "<" if b[5] == 1 else ">"
is64 = b[4] == 2
machine = struct.unpack_from(end + "H", b, 18)[0]
if goarch in machines and machine != machines[goarch]:
    sys.exit(f"build-image: {path} is for ELF machine {machine}, not {goarch} ({machines[goarch]})")
if is64:
    phoff, = struct.unpack_from(end + "Q", b, 32); phentsize, phnum = struct.unpack_from(end + "HH", b, 54)
else:
    phoff, = struct.unpack_from(end + "I", b, 28); phentsize, phnum = struct.unpack_from(end + "HH", b, 42)
for i in range(phnum):
    if struct.unpack_from(end + "I", b, phoff + i * phentsize)[0] == 3:  # PT_INTERP
        sys.exit(f"build-image: {path} is dynamically linked (it names a program interpreter): "
                 "build it with CGO_ENABLED=0")
PY

# 2. The layer: a tar written in a fixed order with fixed owners, modes and
# times, extracted into the image by buildah add.
python3 - "$work/rootfs.tar" "$bin" "$CA_BUNDLE" "$SOURCE_DATE_EPOCH" <<'PY'
import io, os, sys, tarfile
out, binpath, ca, epoch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
t = tarfile.open(out, "w", format=tarfile.PAX_FORMAT)
def entry(name, mode, uid=0, data=None):
    ti = tarfile.TarInfo(name)
    ti.mode, ti.uid, ti.gid, ti.mtime = mode, uid, uid, epoch
    ti.uname = ti.gname = ""
    if data is None:
        ti.type = tarfile.DIRTYPE
        t.addfile(ti)
    else:
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
entry("etc", 0o755)
entry("etc/passwd", 0o644, data=b"root:x:0:0:root:/root:/sbin/nologin\n"
      b"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
      b"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")
entry("etc/group", 0o644, data=b"root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")
entry("etc/nsswitch.conf", 0o644, data=b"hosts: files dns\n")
if os.path.exists(ca):
    entry("etc/ssl", 0o755)
    entry("etc/ssl/certs", 0o755)
    entry("etc/ssl/certs/ca-certificates.crt", 0o644, data=open(ca, "rb").read())
else:
    print(f"build-image: no CA bundle at {ca}: wss:// to public servers will not verify (set CA_BUNDLE)", file=sys.stderr)
entry("home", 0o755)
entry("home/nonroot", 0o700, uid=65532)
entry("tmp", 0o1777)
entry("wsbench", 0o755, data=open(binpath, "rb").read())
t.close()
PY

# 3. The image.
export BUILDAH_ISOLATION=chroot
ctr=$("${B[@]}" from --quiet scratch)
"${B[@]}" add --quiet "$ctr" "$work/rootfs.tar" /
"${B[@]}" config \
  --os linux --arch "$GOARCH" \
  --entrypoint '["/wsbench"]' --cmd '' \
  --user 65532:65532 --workingdir /home/nonroot --env HOME=/home/nonroot \
  --port 9090/tcp \
  --created-by "scripts/build-image.sh" \
  --label org.opencontainers.image.title=wsbench \
  --label "org.opencontainers.image.description=WebSocket load testing and benchmarking" \
  --label org.opencontainers.image.source=https://github.com/wsbench/wsbench \
  --label "org.opencontainers.image.version=$VERSION" \
  --label "org.opencontainers.image.revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  "$ctr"
rm -f "$oci" "$dock"
"${B[@]}" commit --quiet --format oci --disable-compression=false --identity-label=false --timestamp "$SOURCE_DATE_EPOCH" \
  "$ctr" "oci-archive:$oci:$IMAGE:$TAG" >/dev/null
"${B[@]}" rm "$ctr" >/dev/null
ctr=""
skopeo copy --quiet "oci-archive:$oci" "docker-archive:$dock:$IMAGE:$TAG"

# 4. Verify what was written.
python3 - "$oci" "$bin" "$GOARCH" "$IMAGE:$TAG" "$work/unpacked" \
  "$(skopeo inspect --raw "oci-archive:$oci")" "$(skopeo inspect --config "oci-archive:$oci")" "$dock" <<'PY'
import hashlib, json, os, sys, tarfile
oci, binpath, goarch, ref, dest, raw, config = sys.argv[1:8]  # and sys.argv[8], the docker-archive
manifest, config = json.loads(raw), json.loads(config)
c = config["config"]
def need(ok, what):
    if not ok:
        sys.exit(f"build-image: the image is wrong: {what}")
need(config["architecture"] == goarch and config["os"] == "linux", f"platform {config['os']}/{config['architecture']}")
need(c.get("Entrypoint") == ["/wsbench"], f"entrypoint {c.get('Entrypoint')}")
need(c.get("User") == "65532:65532", f"user {c.get('User')!r} (must not be root)")
need(len(manifest["layers"]) == 1, f"{len(manifest['layers'])} layers")
with tarfile.open(oci) as a:
    index = json.load(a.extractfile("index.json"))
    names = [m.get("annotations", {}).get("org.opencontainers.image.ref.name") for m in index["manifests"]]
    need(names == [ref], f"ref names {names}")
    layer = manifest["layers"][0]["digest"].replace(":", "/")
    with tarfile.open(fileobj=a.extractfile("blobs/" + layer)) as l:
        members = {m.name.lstrip("./"): m for m in l.getmembers()}
        w = members.get("wsbench")
        need(w is not None and w.mode & 0o111 and w.uid == 0, "/wsbench missing or not executable")
        packed = hashlib.sha256(l.extractfile(w).read()).hexdigest()
        need(packed == hashlib.sha256(open(binpath, "rb").read()).hexdigest(), "/wsbench is not the binary built")
        h = members.get("home/nonroot")
        need(h is not None and h.uid == 65532, "/home/nonroot not owned by 65532")
        l.extractall(dest, numeric_owner=True, filter="fully_trusted" if hasattr(tarfile, "data_filter") else None)
with tarfile.open(sys.argv[8]) as a:
    tags = [t for m in json.load(a.extractfile("manifest.json")) for t in m["RepoTags"]]
    need(tags == [ref], f"docker-archive RepoTags {tags}")
size = sum(x["size"] for x in manifest["layers"])
digest = "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
print(f"image {ref}@{digest}\n  layer {size/1048576:.1f} MiB (compressed), "
      f"{config['os']}/{config['architecture']}, user {c['User']}, entrypoint {c['Entrypoint']}")
PY
if [ "$VERIFY" = 1 ] && [ "$GOARCH" = "$(go env GOHOSTARCH)" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "build-image: not root: the run from the image is skipped (VERIFY=0 to silence)"
  else
    # The binary from the image, in the image's file tree, as the image's user:
    # `version`, then `serve` and a short `run --kind hold` against it.
    in_image=(env -i HOME=/home/nonroot "$(command -v chroot)" --userspec=65532:65532 "$work/unpacked")
    v=$("${in_image[@]}" /wsbench version)
    [ "$v" = "wsbench $VERSION" ] || [ -n "${BIN:-}" ] || { echo "build-image: the image's wsbench says $v, not wsbench $VERSION" >&2; exit 1; }
    "${in_image[@]}" /wsbench serve --addr 127.0.0.1:0 >"$work/serve.log" 2>&1 &
    spid=$!
    url=""
    for _ in $(seq 100); do
      url=$(sed -n 's/.*listening on \(ws:[^ ]*\).*/\1/p' "$work/serve.log")
      [ -n "$url" ] && break
      sleep 0.05
    done
    rc=0
    if [ -n "$url" ]; then
      "${in_image[@]}" /wsbench run -q --kind hold -c 100 -d 1s --warmup 0s -o /tmp/hold.json "$url" \
        >"$work/run.log" 2>&1 || rc=$?
    fi
    kill -INT "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    [ -n "$url" ] || { echo "build-image: wsbench serve from the image did not start:" >&2; cat "$work/serve.log" >&2; exit 1; }
    opened=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["connections"]["opened"])' \
      "$work/unpacked/tmp/hold.json" 2>/dev/null || echo 0)
    if [ "$rc" != 0 ] || [ "$opened" != 100 ]; then
      echo "build-image: wsbench run from the image exited $rc, opened $opened of 100:" >&2
      cat "$work/run.log" >&2
      exit 1
    fi
    echo "ran from the image as 65532: $v; serve + run --kind hold: 100 of 100 connections opened"
  fi
fi
ls -l "$oci" "$dock" | awk '{printf "%s  %.1f MiB\n", $NF, $5/1048576}'
