//go:build linux

package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	for in, want := range map[string]string{
		"plain":          "plain",
		"$(A)":           "1",
		"x$(A)y$(B)z":    "x1ytwoz",
		"$(MISSING)":     "$(MISSING)",
		"$$(A)":          "$(A)",
		"$$":             "$",
		"cost $5":        "cost $5",
		"$(A":            "$(A",
		"--shard $(A)/3": "--shard 1/3",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTailLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("one\ntwo\nthree\nfour\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := string(tailLog(path, 2, 100)); got != "three\nfour" {
		t.Errorf("last 2 lines: %q", got)
	}
	if got := string(tailLog(path, 80, 100)); got != "one\ntwo\nthree\nfour" {
		t.Errorf("all lines: %q", got)
	}
	if got := string(tailLog(path, 80, 4)); got != "four" {
		t.Errorf("last 4 bytes: %q", got)
	}
}

// TestEnv resolves a Job pod's environment as the kubelet does: the
// completion index from the pod's label, a Secret's key, envFrom with a
// prefix, a resource limit rounded up, $(VAR) against earlier entries.
func TestEnv(t *testing.T) {
	cs := fake.NewClientset(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "auth", Namespace: "ns"}, Data: map[string][]byte{"token": []byte("s3cret")}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "conf", Namespace: "ns"}, Data: map[string]string{"MODE": "echo"}},
	)
	s := &standin{cfg: config{node: "n0"}, cs: cs}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "job-1-abcde", Namespace: "ns",
		Labels: map[string]string{batchv1.JobCompletionIndexAnnotation: "1"}}}
	c := corev1.Container{
		Name:    "c",
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "conf"}}}},
		Env: []corev1.EnvVar{
			{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['batch.kubernetes.io/job-completion-index']"}}},
			{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "auth"}, Key: "token"}}},
			{Name: "CPUS", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
			{Name: "SHARD", Value: "$(JOB_COMPLETION_INDEX)/3"},
			{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
		},
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")}},
	}
	r := &podRun{s: s, pod: pod}
	env, err := r.env(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range env {
		got[kv[0]] = kv[1]
	}
	want := map[string]string{"CM_MODE": "echo", "JOB_COMPLETION_INDEX": "1", "TOKEN": "s3cret", "CPUS": "2",
		"SHARD": "1/3", "NODE": "n0", "HOSTNAME": "job-1-abcde", "PATH": got["PATH"]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("env\n got %v\nwant %v", got, want)
	}
	// A missing Secret is an error naming it, unless optional.
	c.Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k"}}}}
	if _, err := r.env(context.Background(), c); err == nil {
		t.Error("a missing secret: no error")
	}
	yes := true
	c.Env[0].ValueFrom.SecretKeyRef.Optional = &yes
	if env, err := r.env(context.Background(), c); err != nil {
		t.Errorf("an optional missing secret: %v", err)
	} else {
		for _, kv := range env {
			if kv[0] == "X" {
				t.Errorf("an optional missing secret set X=%q", kv[1])
			}
		}
	}
}

// TestContainerLogs serves a log as the apiserver asks for it.
func TestContainerLogs(t *testing.T) {
	s := &standin{pods: map[types.UID]*podRun{}}
	dir := t.TempDir()
	r := &podRun{s: s, dir: dir, done: make(chan struct{}),
		pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"}}}
	close(r.done)
	s.pods["u1"] = r
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.logPath("c"), []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.containerLogs)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/containerLogs/ns/p/c", 200, "a\nb\nc\n"},
		{"/containerLogs/ns/p/c?tailLines=2", 200, "b\nc\n"},
		{"/containerLogs/ns/p/c?limitBytes=3", 200, "a\nb"},
		{"/containerLogs/ns/p/c?follow=true", 200, "a\nb\nc\n"},
		{"/containerLogs/ns/p/other", 404, ""},
		{"/containerLogs/ns/q/c", 404, ""},
		{"/containerLogs/ns/p/c?previous=true", 400, ""},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || (tc.code == 200 && string(b) != tc.body) {
			t.Errorf("%s: %d %q, want %d %q", tc.path, resp.StatusCode, b, tc.code, tc.body)
		}
	}
}
