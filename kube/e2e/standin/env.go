//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// env resolves a container's environment in the kubelet's order: envFrom
// first, then env (later entries win), $(VAR) expanded against what came
// before. A few variables the kubelet always sets come first.
func (r *podRun) env(ctx context.Context, c corev1.Container) ([][2]string, error) {
	p := r.pod
	var out [][2]string
	vars := map[string]string{}
	set := func(k, v string) {
		if _, ok := vars[k]; ok {
			for i := range out {
				if out[i][0] == k {
					out[i][1] = v
				}
			}
		} else {
			out = append(out, [2]string{k, v})
		}
		vars[k] = v
	}
	set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	set("HOSTNAME", p.Name)
	for _, ef := range c.EnvFrom {
		var data map[string]string
		switch {
		case ef.ConfigMapRef != nil:
			cm, err := r.s.cs.CoreV1().ConfigMaps(p.Namespace).Get(ctx, ef.ConfigMapRef.Name, metav1.GetOptions{})
			if err != nil {
				if isOptional(ef.ConfigMapRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("envFrom configMap %s: %w", ef.ConfigMapRef.Name, err)
			}
			data = cm.Data
		case ef.SecretRef != nil:
			sec, err := r.s.cs.CoreV1().Secrets(p.Namespace).Get(ctx, ef.SecretRef.Name, metav1.GetOptions{})
			if err != nil {
				if isOptional(ef.SecretRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("envFrom secret %s: %w", ef.SecretRef.Name, err)
			}
			data = map[string]string{}
			for k, v := range sec.Data {
				data[k] = string(v)
			}
		}
		for k, v := range data {
			set(ef.Prefix+k, v)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, vars))
			continue
		}
		v, skip, err := r.valueFrom(ctx, c, e.ValueFrom)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if !skip {
			set(e.Name, v)
		}
	}
	return out, nil
}

func isOptional(b *bool) bool { return b != nil && *b }

func (r *podRun) valueFrom(ctx context.Context, c corev1.Container, vf *corev1.EnvVarSource) (string, bool, error) {
	p := r.pod
	switch {
	case vf.FieldRef != nil:
		v, err := r.field(vf.FieldRef.FieldPath)
		return v, false, err
	case vf.ResourceFieldRef != nil:
		v, err := resourceField(c, vf.ResourceFieldRef)
		return v, false, err
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		cm, err := r.s.cs.CoreV1().ConfigMaps(p.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return "", isOptional(ref.Optional), ignoreIf(isOptional(ref.Optional), fmt.Errorf("configMap %s: %w", ref.Name, err))
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			return "", isOptional(ref.Optional), ignoreIf(isOptional(ref.Optional), fmt.Errorf("configMap %s has no key %s", ref.Name, ref.Key))
		}
		return v, false, nil
	case vf.SecretKeyRef != nil:
		ref := vf.SecretKeyRef
		sec, err := r.s.cs.CoreV1().Secrets(p.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return "", isOptional(ref.Optional), ignoreIf(isOptional(ref.Optional), fmt.Errorf("secret %s: %w", ref.Name, err))
		}
		v, ok := sec.Data[ref.Key]
		if !ok {
			return "", isOptional(ref.Optional), ignoreIf(isOptional(ref.Optional), fmt.Errorf("secret %s has no key %s", ref.Name, ref.Key))
		}
		return string(v), false, nil
	}
	return "", true, nil
}

func ignoreIf(optional bool, err error) error {
	if optional {
		return nil
	}
	return err
}

// field answers a downward-API fieldRef.
func (r *podRun) field(path string) (string, error) {
	p := r.pod
	if k, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		return p.Labels[strings.TrimSuffix(k, "']")], nil
	}
	if k, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		return p.Annotations[strings.TrimSuffix(k, "']")], nil
	}
	switch path {
	case "metadata.name":
		return p.Name, nil
	case "metadata.namespace":
		return p.Namespace, nil
	case "metadata.uid":
		return string(p.UID), nil
	case "spec.nodeName":
		return r.s.cfg.node, nil
	case "spec.serviceAccountName":
		return p.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return "127.0.0.1", nil
	case "status.podIP", "status.podIPs":
		return r.ip.String(), nil
	}
	return "", fmt.Errorf("fieldRef %s is not supported by the stand-in", path)
}

func resourceField(c corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	var q resource.Quantity
	switch ref.Resource {
	case "limits.cpu":
		q = c.Resources.Limits[corev1.ResourceCPU]
	case "limits.memory":
		q = c.Resources.Limits[corev1.ResourceMemory]
	case "requests.cpu":
		q = c.Resources.Requests[corev1.ResourceCPU]
	case "requests.memory":
		q = c.Resources.Requests[corev1.ResourceMemory]
	default:
		return "", fmt.Errorf("resourceFieldRef %s is not supported by the stand-in", ref.Resource)
	}
	div := ref.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	// Rounded up, as the kubelet does.
	v := (q.MilliValue() + div.MilliValue() - 1) / div.MilliValue()
	return strconv.FormatInt(v, 10), nil
}

// volumes writes the pod's volumes into its folder and returns each one's
// host path.
func (r *podRun) volumes(ctx context.Context) (map[string]string, error) {
	p := r.pod
	out := map[string]string{}
	for _, v := range p.Spec.Volumes {
		dir := filepath.Join(r.dir, "volumes", v.Name)
		var err error
		switch {
		case v.HostPath != nil:
			out[v.Name] = v.HostPath.Path
			continue
		case v.EmptyDir != nil:
			err = os.MkdirAll(dir, 0o777)
			if err == nil {
				err = os.Chmod(dir, 0o777)
			}
		case v.ConfigMap != nil:
			err = r.writeConfigMap(ctx, dir, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional)
		case v.Secret != nil:
			err = r.writeSecret(ctx, dir, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional)
		case v.Projected != nil:
			err = os.MkdirAll(dir, 0o755)
			for _, src := range v.Projected.Sources {
				if err != nil {
					break
				}
				switch {
				case src.ConfigMap != nil:
					err = r.writeConfigMap(ctx, dir, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional)
				case src.Secret != nil:
					err = r.writeSecret(ctx, dir, src.Secret.Name, src.Secret.Items, src.Secret.Optional)
				case src.DownwardAPI != nil:
					for _, f := range src.DownwardAPI.Items {
						if f.FieldRef == nil {
							continue
						}
						var val string
						if val, err = r.field(f.FieldRef.FieldPath); err == nil {
							err = writeFile(dir, f.Path, []byte(val))
						}
					}
				case src.ServiceAccountToken != nil:
					err = r.writeToken(ctx, dir, src.ServiceAccountToken)
				}
			}
		case v.DownwardAPI != nil:
			err = os.MkdirAll(dir, 0o755)
			for _, f := range v.DownwardAPI.Items {
				if err != nil || f.FieldRef == nil {
					continue
				}
				var val string
				if val, err = r.field(f.FieldRef.FieldPath); err == nil {
					err = writeFile(dir, f.Path, []byte(val))
				}
			}
		default:
			err = fmt.Errorf("this kind of volume is not supported by the stand-in")
		}
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		out[v.Name] = dir
	}
	return out, nil
}

func (r *podRun) writeConfigMap(ctx context.Context, dir, name string, items []corev1.KeyToPath, optional *bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cm, err := r.s.cs.CoreV1().ConfigMaps(r.pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return ignoreIf(isOptional(optional), fmt.Errorf("configMap %s: %w", name, err))
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return writeItems(dir, data, items)
}

func (r *podRun) writeSecret(ctx context.Context, dir, name string, items []corev1.KeyToPath, optional *bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sec, err := r.s.cs.CoreV1().Secrets(r.pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return ignoreIf(isOptional(optional), fmt.Errorf("secret %s: %w", name, err))
	}
	return writeItems(dir, sec.Data, items)
}

func (r *podRun) writeToken(ctx context.Context, dir string, src *corev1.ServiceAccountTokenProjection) error {
	sa := r.pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences: nil, ExpirationSeconds: src.ExpirationSeconds,
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: r.pod.Name, UID: r.pod.UID},
	}}
	if src.Audience != "" {
		tr.Spec.Audiences = []string{src.Audience}
	}
	tok, err := r.s.cs.CoreV1().ServiceAccounts(r.pod.Namespace).CreateToken(ctx, sa, tr, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("service account token: %w", err)
	}
	return writeFile(dir, src.Path, []byte(tok.Status.Token))
}

func writeItems(dir string, data map[string][]byte, items []corev1.KeyToPath) error {
	if len(items) == 0 {
		for k, v := range data {
			if err := writeFile(dir, k, v); err != nil {
				return err
			}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			return fmt.Errorf("no key %s", it.Key)
		}
		if err := writeFile(dir, it.Path, v); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(dir, rel string, b []byte) error {
	path := filepath.Join(dir, filepath.Clean("/"+rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
