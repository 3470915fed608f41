//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
)

const (
	kubeletVersion = "v1.37.2-wsbench-standin"
	leaseSeconds   = 40
)

type config struct {
	kubeconfig, node, listen, workDir string
	gateway                           netip.Addr
	podRange                          netip.Prefix
	images                            map[string]string
	delays                            map[string]time.Duration // JOB/INDEX → hold before start
}

type standin struct {
	cfg  config
	cs   kubernetes.Interface
	port int32

	mu      sync.Mutex
	pods    map[types.UID]*podRun // pods this stand-in has started (or refused)
	nextIP  netip.Addr
	anchor  bool // the host end of --gateway exists
	closing bool
	wg      sync.WaitGroup
}

func newStandin(cfg config, cs kubernetes.Interface) (*standin, error) {
	if err := os.MkdirAll(cfg.workDir, 0o755); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(cfg.workDir)
	if err != nil {
		return nil, err
	}
	cfg.workDir = abs
	return &standin{cfg: cfg, cs: cs, pods: map[types.UID]*podRun{}, nextIP: cfg.gateway.Next()}, nil
}

func (s *standin) run(ctx context.Context) error {
	if err := s.addGateway(); err != nil {
		return err
	}
	logs, err := s.serveLogs(ctx)
	if err != nil {
		return err
	}
	defer logs.Close()
	if err := s.registerNode(ctx); err != nil {
		return err
	}
	log.Printf("node %s registered, kubelet endpoint %s, pods in %s via %s", s.cfg.node, s.cfg.listen, s.cfg.podRange, s.cfg.gateway)
	go s.heartbeat(ctx)

	f := informers.NewSharedInformerFactory(s.cs, 0)
	inf := f.Core().V1().Pods().Informer()
	queue := make(chan *corev1.Pod, 1024)
	enqueue := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok {
			select {
			case queue <- p:
			case <-ctx.Done():
			}
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, n any) { enqueue(n) },
	}); err != nil {
		return err
	}
	f.Start(ctx.Done())
	for {
		select {
		case <-ctx.Done():
			log.Printf("stopping: %d pod(s) to stop", s.running())
			return nil
		case p := <-queue:
			s.handle(ctx, p)
		}
	}
}

// handle moves one pod on: bind it, start it, or stop and release it.
func (s *standin) handle(ctx context.Context, p *corev1.Pod) {
	switch {
	case p.Spec.NodeName == "" && p.DeletionTimestamp == nil &&
		(p.Spec.SchedulerName == "" || p.Spec.SchedulerName == corev1.DefaultSchedulerName):
		s.bind(ctx, p)
	case p.Spec.NodeName != s.cfg.node:
	case p.DeletionTimestamp != nil:
		s.mu.Lock()
		r := s.pods[p.UID]
		s.mu.Unlock()
		if r == nil {
			s.release(ctx, p, nil)
			return
		}
		select {
		case <-r.done: // already ended: only the object is left
			s.release(ctx, p, r)
		default:
			r.stop(p.DeletionGracePeriodSeconds)
		}
	default:
		s.mu.Lock()
		if s.pods[p.UID] != nil || s.closing || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			s.mu.Unlock()
			return
		}
		r := &podRun{s: s, pod: p.DeepCopy(), stopC: make(chan struct{}), done: make(chan struct{})}
		s.pods[p.UID] = r
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			r.run(ctx)
		}()
	}
}

func (s *standin) running() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.pods {
		select {
		case <-r.done:
		default:
			n++
		}
	}
	return n
}

func (s *standin) bind(ctx context.Context, p *corev1.Pod) {
	b := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, UID: p.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: s.cfg.node},
	}
	err := s.cs.CoreV1().Pods(p.Namespace).Bind(ctx, b, metav1.CreateOptions{})
	if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		log.Printf("bind %s/%s: %v", p.Namespace, p.Name, err)
	}
}

// release deletes a pod object for good once its containers are gone (what
// the kubelet does at the end of a graceful deletion), and frees its
// namespace.
func (s *standin) release(ctx context.Context, p *corev1.Pod, r *podRun) {
	if r != nil {
		r.teardown()
	}
	zero := int64(0)
	uid := p.UID
	err := s.cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		log.Printf("delete %s/%s: %v", p.Namespace, p.Name, err)
	}
}

func (s *standin) allocIP() (netip.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.nextIP
	// Skip addresses ending in .0 or .255: some stacks treat them specially.
	for a.As4()[3] == 0 || a.As4()[3] == 255 || a == s.cfg.gateway {
		a = a.Next()
	}
	if !s.cfg.podRange.Contains(a) {
		return netip.Addr{}, fmt.Errorf("--pod-range %s is used up", s.cfg.podRange)
	}
	s.nextIP = a.Next()
	return a, nil
}

// cleanup stops every pod still running and removes what the stand-in put
// on the host (namespaces, veths, the gateway address).
func (s *standin) cleanup() {
	s.mu.Lock()
	s.closing = true
	runs := make([]*podRun, 0, len(s.pods))
	for _, r := range s.pods {
		runs = append(runs, r)
	}
	s.mu.Unlock()
	one := int64(1)
	for _, r := range runs {
		r.stop(&one)
	}
	s.wg.Wait()
	for _, r := range runs {
		r.teardown()
	}
	for range 2 { // twice: one pod may have made a folder inside another's
		for _, r := range runs {
			r.removeMountPoints()
		}
	}
	s.delGateway()
}

func (s *standin) nodeObject() *corev1.Node {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory: resource.MustParse("16Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: s.cfg.node, Labels: map[string]string{
			corev1.LabelHostname:   s.cfg.node,
			corev1.LabelOSStable:   "linux",
			corev1.LabelArchStable: runtime.GOARCH,
		}},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity,
			Phase:       corev1.NodeRunning,
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
				{Type: corev1.NodeHostName, Address: s.cfg.node},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: s.port}},
			NodeInfo: corev1.NodeSystemInfo{
				KubeletVersion: kubeletVersion, OperatingSystem: "linux", Architecture: runtime.GOARCH,
				ContainerRuntimeVersion: "wsbench-standin://local-process",
			},
			Conditions: s.conditions(metav1.Now()),
		},
	}
}

func (s *standin) conditions(now metav1.Time) []corev1.NodeCondition {
	c := func(t corev1.NodeConditionType, st corev1.ConditionStatus, reason string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: st, Reason: reason, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	return []corev1.NodeCondition{
		c(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady"),
		c(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory"),
		c(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure"),
		c(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID"),
	}
}

func (s *standin) registerNode(ctx context.Context) error {
	n := s.nodeObject()
	status := n.Status
	_, err := s.cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("register node %s: %w", s.cfg.node, err)
	}
	return s.updateNodeStatus(ctx, func(st *corev1.NodeStatus) { *st = status })
}

func (s *standin) updateNodeStatus(ctx context.Context, change func(*corev1.NodeStatus)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := s.cs.CoreV1().Nodes().Get(ctx, s.cfg.node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(&n.Status)
		_, err = s.cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
}

// heartbeat keeps the node Ready for the node lifecycle controller: a Lease
// renewed every 10 s and the Ready condition's heartbeat.
func (s *standin) heartbeat(ctx context.Context) {
	leases := s.cs.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		now := metav1.NowMicro()
		l, err := leases.Get(ctx, s.cfg.node, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			secs := int32(leaseSeconds)
			holder := s.cfg.node
			_, err = leases.Create(ctx, &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: s.cfg.node, Namespace: corev1.NamespaceNodeLease},
				Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, RenewTime: &now},
			}, metav1.CreateOptions{})
		case err == nil:
			l.Spec.RenewTime = &now
			_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		}
		if err != nil && ctx.Err() == nil {
			log.Printf("lease: %v", err)
		}
		err = s.updateNodeStatus(ctx, func(st *corev1.NodeStatus) {
			for i := range st.Conditions {
				st.Conditions[i].LastHeartbeatTime = metav1.Now()
			}
		})
		if err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
			log.Printf("node status: %v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
