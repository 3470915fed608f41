//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// The shim is this same binary started in a new mount namespace (clone
// flag) with a container's spec on fd 3. It sets up the container's view of
// the world and then becomes the container's program (exec), so the
// stand-in waits for, signals and reads the exit code of the program itself.
const (
	shimArg      = "__container_shim"
	madeDirsFile = "made-on-host"
)

type bind struct {
	Src, Dst string
	ReadOnly bool
	File     bool // Dst is a file (the termination message)
}

type shimSpec struct {
	Netns   string
	Sysctls []string // name=value, net.* only
	Argv    []string
	Env     []string
	WorkDir string
	Binds   []bind
	Stage   string // a folder of the stand-in's for this container
	// The container's effective securityContext (the pod's, overridden by
	// the container's): the user and group to run as (nil: root), a
	// read-only root filesystem, no new privileges.
	UID, GID     *int64
	ReadOnlyRoot bool
	NoNewPrivs   bool
}

func shimMain() {
	fail := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "standin: container setup: "+format+"\n", a...)
		os.Exit(128)
	}
	// Namespaces are per thread: the thread that joins the pod's network
	// namespace is the one that execs.
	runtime.LockOSThread()
	f := os.NewFile(3, "spec")
	var sp shimSpec
	if err := json.NewDecoder(f).Decode(&sp); err != nil {
		fail("spec: %v", err)
	}
	f.Close()
	if err := os.MkdirAll(sp.Stage, 0o755); err != nil {
		fail("%v", err)
	}
	made, err := os.Create(filepath.Join(sp.Stage, madeDirsFile))
	if err != nil {
		fail("%v", err)
	}
	// Nothing mounted here shows on the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fail("make mounts private: %v", err)
	}
	if err := privateDev(sp.Stage); err != nil {
		fail("/dev: %v", err)
	}
	if len(sp.Argv) == 0 {
		fail("no command")
	}
	path, err := lookPath(sp.Argv[0], sp.Env)
	if err != nil {
		fail("%v", err)
	}
	// The program too may lie where a volume goes (a binary under /tmp):
	// hold it open and exec it through its descriptor if it is hidden.
	prog, err := os.Open(path)
	if err != nil {
		fail("%v", err)
	}
	var progSt unix.Stat_t
	if err := unix.Fstat(int(prog.Fd()), &progSt); err != nil {
		fail("%v", err)
	}
	// Open every source before mounting anything: a mount (an emptyDir at
	// /tmp) may hide where a later source lies (the stand-in's folder under
	// /tmp). Mounting /proc/self/fd/N binds what the descriptor holds.
	srcs := make([]int, len(sp.Binds))
	for i, b := range sp.Binds {
		fd, err := unix.Open(b.Src, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			fail("volume source %s: %v", b.Src, err)
		}
		srcs[i] = fd
	}
	for i, b := range sp.Binds {
		if err := mountBind(b, srcs[i], made); err != nil {
			fail("mount %s at %s: %v", b.Src, b.Dst, err)
		}
		unix.Close(srcs[i])
	}
	made.Close()
	nsf, err := os.Open("/var/run/netns/" + sp.Netns)
	if err != nil {
		fail("network namespace: %v", err)
	}
	if err := unix.Setns(int(nsf.Fd()), unix.CLONE_NEWNET); err != nil {
		fail("join network namespace %s: %v", sp.Netns, err)
	}
	nsf.Close()
	for _, kv := range sp.Sysctls {
		name, val, _ := strings.Cut(kv, "=")
		path := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
		if err := os.WriteFile(path, []byte(val), 0o644); err != nil {
			fail("sysctl %s: %v", name, err)
		}
	}
	if sp.ReadOnlyRoot {
		// The volumes are mounts of their own and stay writable.
		if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			fail("read-only root: %v", err)
		}
	}
	if sp.GID != nil {
		if err := unix.Setgroups([]int{int(*sp.GID)}); err != nil {
			fail("runAsGroup: %v", err)
		}
		if err := unix.Setresgid(int(*sp.GID), int(*sp.GID), int(*sp.GID)); err != nil {
			fail("runAsGroup: %v", err)
		}
	}
	if sp.UID != nil {
		// This thread is the one that execs: the others go with the exec.
		if err := unix.Setresuid(int(*sp.UID), int(*sp.UID), int(*sp.UID)); err != nil {
			fail("runAsUser: %v", err)
		}
		// A change of user makes the process undumpable, which closes
		// /proc/self/fd to it: the exec below may need that.
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0); err != nil {
			fail("runAsUser: %v", err)
		}
	}
	if sp.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			fail("allowPrivilegeEscalation false: %v", err)
		}
	}
	wd := sp.WorkDir
	if wd == "" {
		wd = "/"
	}
	if err := os.Chdir(wd); err != nil {
		fail("workingDir: %v", err)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil || st.Dev != progSt.Dev || st.Ino != progSt.Ino {
		// Hidden by a mount, or out of the user's reach (a folder only root
		// may enter): exec the file held open (an ELF binary; a script's
		// interpreter reopens the path, so the descriptor stays open).
		fd, err := unix.Dup(int(prog.Fd()))
		if err != nil {
			fail("%v", err)
		}
		path = fmt.Sprintf("/proc/self/fd/%d", fd)
	}
	prog.Close()
	err = unix.Exec(path, sp.Argv, sp.Env)
	fail("exec %s: %v", path, err)
}

// privateDev puts a tmpfs on /dev with only the usual device nodes (bound
// from the host's) and links, as a container runtime does, so a file the
// container writes there (the termination message) stays its own.
func privateDev(stage string) error {
	old := filepath.Join(stage, "olddev")
	if err := os.MkdirAll(old, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("/dev", old, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return err
	}
	for _, n := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		if _, err := os.Stat(filepath.Join(old, n)); err != nil {
			continue
		}
		if err := os.WriteFile("/dev/"+n, nil, 0o666); err != nil {
			return err
		}
		if err := unix.Mount(filepath.Join(old, n), "/dev/"+n, "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	for _, d := range []string{"pts", "shm", "mqueue"} {
		if err := os.MkdirAll("/dev/"+d, 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("shm", "/dev/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return err
	}
	for link, to := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(to, "/dev/"+link); err != nil {
			return err
		}
	}
	return unix.Unmount(old, unix.MNT_DETACH)
}

// mountBind binds b.Src at b.Dst. A mount point missing on the host is made
// (and written to made, so the stand-in removes it again once the pod is
// gone); under the private /dev nothing reaches the host.
func mountBind(b bind, src int, made *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return err
	}
	isFile := b.File || st.Mode&unix.S_IFMT != unix.S_IFDIR
	dir := b.Dst
	if isFile {
		dir = filepath.Dir(b.Dst)
	}
	if err := mkdirAllRecorded(dir, made); err != nil {
		return err
	}
	if isFile {
		if _, err := os.Stat(b.Dst); os.IsNotExist(err) {
			if err := os.WriteFile(b.Dst, nil, 0o644); err != nil {
				return err
			}
			record(made, b.Dst)
		}
	}
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", src), b.Dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	if b.ReadOnly {
		return unix.Mount("", b.Dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "")
	}
	return nil
}

func mkdirAllRecorded(dir string, made *os.File) error {
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s is not a folder", dir)
		}
		return nil
	}
	if err := mkdirAllRecorded(filepath.Dir(dir), made); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if st, serr := os.Stat(dir); serr == nil && st.IsDir() {
			return nil // another pod's container made it just now
		}
		return err
	}
	record(made, dir)
	return nil
}

func record(made *os.File, path string) {
	if !strings.HasPrefix(path, "/dev/") {
		fmt.Fprintln(made, path)
	}
}

// removeMadeDirs removes, deepest first, the mount points a shim had to make
// on the host, if they are still empty.
func removeMadeDirs(list string) {
	f, err := os.Open(list)
	if err != nil {
		return
	}
	defer f.Close()
	var paths []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		paths = append(paths, sc.Text())
	}
	slices.Reverse(paths)
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && (st.IsDir() || st.Size() == 0) {
			_ = os.Remove(p)
		}
	}
}

func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in PATH %s", name, path)
}
