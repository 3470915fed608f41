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
	for _, b := range sp.Binds {
		if err := mountBind(b, made); err != nil {
			fail("mount %s at %s: %v", b.Src, b.Dst, err)
		}
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
	wd := sp.WorkDir
	if wd == "" {
		wd = "/"
	}
	if err := os.Chdir(wd); err != nil {
		fail("workingDir: %v", err)
	}
	if len(sp.Argv) == 0 {
		fail("no command")
	}
	path, err := lookPath(sp.Argv[0], sp.Env)
	if err != nil {
		fail("%v", err)
	}
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
func mountBind(b bind, made *os.File) error {
	st, err := os.Stat(b.Src)
	if err != nil {
		return err
	}
	isFile := b.File || !st.IsDir()
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
	if err := unix.Mount(b.Src, b.Dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
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
