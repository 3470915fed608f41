//go:build tools

// Package cp only pins the commands scripts/e2e-kube.sh builds, so `go mod
// tidy` keeps their dependencies in go.sum.
package cp

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
