// Package e2e holds the control-plane test of `make e2e-kube`
// (scripts/e2e-kube.sh): its tests build only with -tags e2ekube and need
// the cluster the script starts (KUBECONFIG, WSBENCH_E2E_* in the
// environment). The kubelet stand-in is in standin/, the wrapper module
// that builds kube-apiserver and kube-controller-manager in cp/.
package e2e
