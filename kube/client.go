package kube

import (
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Client makes a clientset as kubectl finds its cluster: the kubeconfig
// file given, else $KUBECONFIG's files, else ~/.kube/config, else the
// pod's service account (in-cluster). context picks a context of the
// kubeconfig ("" = its current one). namespace is the context's namespace
// ("default" when it names none).
func Client(kubeconfig, context string) (client kubernetes.Interface, namespace string, err error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("no cluster to talk to: %w", err)
	}
	cfg.UserAgent = "wsbench-kube"
	if namespace, _, err = cc.Namespace(); err != nil {
		return nil, "", err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", err
	}
	return cs, namespace, nil
}
