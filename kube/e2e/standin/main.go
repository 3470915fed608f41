//go:build linux

// Command standin is a test-only stand-in for the kubelet, for `make
// e2e-kube` (scripts/e2e-kube.sh): it lets a real kube-apiserver and
// kube-controller-manager run a Job's pods on this machine without a
// container runtime.
//
// It registers one Node (InternalIP 127.0.0.1, kubelet port --listen) and
// keeps it Ready (node status and a Lease in kube-node-lease), binds every
// pod that waits for the default scheduler to that node (there is no
// scheduler), and runs each container of a pod bound to it as a local
// process:
//
//   - in the pod's own network namespace (veth to the host, the pod's /32
//     from --pod-range, default route via --gateway, an address the stand-in
//     puts on the host so a server listening there is reachable from every
//     pod), with the pod's net.* sysctls applied there;
//   - in a mount namespace of its own, with the pod's configMap, secret,
//     emptyDir, projected and hostPath volumes bound at their mountPaths, a
//     private /dev and the termination message file;
//   - as the securityContext's runAsUser/runAsGroup, with a read-only root
//     filesystem and no new privileges when it asks for them;
//   - with the container's environment resolved as the kubelet does (value
//     with $(VAR) expansion, fieldRef — so JOB_COMPLETION_INDEX works —,
//     resourceFieldRef, configMapKeyRef, secretKeyRef, envFrom) and its
//     command/args; an image with no command runs the program given for it
//     by --image IMAGE=PATH (its ENTRYPOINT).
//
// It reports the pod's phases, each container's state, exit code and
// termination message (the file, or the log's tail under
// FallbackToLogsOnError), honours graceful deletion (SIGTERM, SIGKILL after
// the grace period) and serves the kubelet's /containerLogs endpoint, which
// the apiserver proxies `kubectl logs` and client-go's GetLogs to.
//
// It is not a kubelet: no images, no restarts (every pod is treated as
// restartPolicy Never), no probes, no resource enforcement, no init
// containers, no capabilities, seccomp or fsGroup. It needs root
// (namespaces, veth, mounts).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

type imageFlag map[string]string

func (f imageFlag) String() string { return fmt.Sprint(map[string]string(f)) }
func (f imageFlag) Set(v string) error {
	image, path, ok := strings.Cut(v, "=")
	if !ok || image == "" || path == "" {
		return fmt.Errorf("want IMAGE=PATH, got %q", v)
	}
	f[image] = path
	return nil
}

type delayFlag map[string]time.Duration

func (f delayFlag) String() string { return fmt.Sprint(map[string]time.Duration(f)) }
func (f delayFlag) Set(v string) error {
	key, d, ok := strings.Cut(v, "=")
	job, index, ok2 := strings.Cut(key, "/")
	dur, err := time.ParseDuration(d)
	if !ok || !ok2 || job == "" || index == "" || err != nil || dur < 0 {
		return fmt.Errorf("want JOB/INDEX=DURATION, got %q", v)
	}
	f[key] = dur
	return nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == shimArg {
		shimMain() // never returns
	}
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("standin: ")
	images := imageFlag{}
	var cfg config
	flag.StringVar(&cfg.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the cluster")
	flag.StringVar(&cfg.node, "node-name", "standin-0", "name of the Node to register")
	flag.StringVar(&cfg.listen, "listen", "127.0.0.1:10250", "address of the kubelet endpoint (HTTPS: /containerLogs)")
	flag.StringVar(&cfg.workDir, "work-dir", "", "folder for pods' volumes and logs (required)")
	gateway := flag.String("gateway", "198.19.0.1", "host address every pod routes through (added to the host by the stand-in)")
	podRange := flag.String("pod-range", "198.19.0.0/16", "range pods' /32 addresses come from (must hold --gateway)")
	flag.Var(images, "image", "IMAGE=PATH: the program an image runs when the container gives no command (repeatable)")
	delays := delayFlag{}
	flag.Var(delays, "delay-start", "JOB/INDEX=DURATION: hold that pod of an Indexed Job this long before starting it, as a slow image pull would (repeatable; the e2e test's missed start)")
	flag.Parse()
	cfg.images, cfg.delays = images, delays
	var err error
	if cfg.gateway, err = netip.ParseAddr(*gateway); err != nil || !cfg.gateway.Is4() {
		log.Fatalf("--gateway %q: want an IPv4 address", *gateway)
	}
	if cfg.podRange, err = netip.ParsePrefix(*podRange); err != nil || !cfg.podRange.Addr().Is4() || !cfg.podRange.Contains(cfg.gateway) {
		log.Fatalf("--pod-range %q: want an IPv4 prefix holding --gateway %s", *podRange, cfg.gateway)
	}
	if cfg.workDir == "" {
		log.Fatal("--work-dir is required")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.kubeconfig)
	if err != nil {
		log.Fatalf("kubeconfig: %v", err)
	}
	rc.QPS, rc.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		log.Fatalf("client: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := newStandin(cfg, cs)
	if err != nil {
		log.Fatal(err)
	}
	err = s.run(ctx)
	s.cleanup()
	if err != nil {
		log.Fatal(err)
	}
}
