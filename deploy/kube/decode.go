package kube

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	istionetv1 "istio.io/api/networking/v1"
	istionetv1alpha3 "istio.io/api/networking/v1alpha3"
	istiosecv1 "istio.io/api/security/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Object is one decoded manifest.
type Object struct {
	// File is where it came from, Index its position in the file.
	File  string
	Index int
	metav1.TypeMeta
	Meta metav1.ObjectMeta
	// Value is the typed object: a *appsv1.Deployment, *corev1.Service, …
	// for Kubernetes kinds; for Istio kinds an *IstioObject.
	Value any
}

// IstioObject is an Istio resource: Kubernetes metadata and the spec as
// istio.io/api's proto message.
type IstioObject struct {
	Meta metav1.ObjectMeta
	Spec proto.Message
}

// Kustomization is the part of a kustomization.yaml these manifests use.
type Kustomization struct {
	metav1.TypeMeta `json:",inline"`
	Namespace       string   `json:"namespace,omitempty"`
	Resources       []string `json:"resources"`
	Patches         []struct {
		Path   string `json:"path,omitempty"`
		Patch  string `json:"patch,omitempty"`
		Target *struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"target,omitempty"`
	} `json:"patches,omitempty"`
}

// MeshValues is istiod's Helm values file holding meshConfig.
type MeshValues struct {
	MeshConfig *meshv1alpha1.MeshConfig
}

// kinds maps apiVersion/kind to a new typed Kubernetes object.
var kinds = map[string]func() any{
	"v1/Namespace":                                  func() any { return &corev1.Namespace{} },
	"v1/ConfigMap":                                  func() any { return &corev1.ConfigMap{} },
	"v1/Service":                                    func() any { return &corev1.Service{} },
	"apps/v1/Deployment":                            func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                           func() any { return &appsv1.StatefulSet{} },
	"policy/v1/PodDisruptionBudget":                 func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy":            func() any { return &networkingv1.NetworkPolicy{} },
	"kustomize.config.k8s.io/v1beta1/Kustomization": func() any { return &Kustomization{} },
}

// istioKinds maps apiVersion/kind to a new istio.io/api spec message.
var istioKinds = map[string]func() proto.Message{
	"networking.istio.io/v1/Gateway":           func() proto.Message { return &istionetv1.Gateway{} },
	"networking.istio.io/v1/VirtualService":    func() proto.Message { return &istionetv1.VirtualService{} },
	"networking.istio.io/v1alpha3/EnvoyFilter": func() proto.Message { return &istionetv1alpha3.EnvoyFilter{} },
	"security.istio.io/v1/AuthorizationPolicy": func() proto.Message { return &istiosecv1.AuthorizationPolicy{} },
}

// Decode decodes every YAML document of a manifest file strictly: unknown
// or duplicate fields and unknown kinds are errors. Kubernetes kinds go
// into k8s.io/api's types; Istio specs into istio.io/api's messages with
// protojson, which refuses unknown fields (the JSON decoding istio.io's own
// types do would ignore them).
func Decode(file string, b []byte) ([]Object, error) {
	var out []Object
	for i, doc := range splitDocuments(b) {
		o, err := decodeOne(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		o.File, o.Index = file, i
		out = append(out, o)
	}
	return out, nil
}

// DecodeMeshValues decodes istiod's values file strictly.
func DecodeMeshValues(b []byte) (*MeshValues, error) {
	var v struct {
		MeshConfig json.RawMessage `json:"meshConfig"`
	}
	if err := strict(b, &v); err != nil {
		return nil, fmt.Errorf("mesh values: %w", err)
	}
	m := &meshv1alpha1.MeshConfig{}
	if err := protojson.Unmarshal(v.MeshConfig, m); err != nil {
		return nil, fmt.Errorf("mesh values: meshConfig: %w", err)
	}
	return &MeshValues{MeshConfig: m}, nil
}

func decodeOne(doc []byte) (Object, error) {
	var o Object
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return o, err
	}
	o.TypeMeta = tm
	key := tm.APIVersion + "/" + tm.Kind
	if mk, ok := kinds[key]; ok {
		v := mk()
		if err := strict(doc, v); err != nil {
			return o, fmt.Errorf("%s: %w", key, err)
		}
		o.Value = v
		if m, ok := v.(metav1.Object); ok {
			o.Meta = metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), Labels: m.GetLabels(), Annotations: m.GetAnnotations()}
		}
		return o, nil
	}
	if mk, ok := istioKinds[key]; ok {
		var env struct {
			metav1.TypeMeta `json:",inline"`
			Metadata        metav1.ObjectMeta `json:"metadata"`
			Spec            json.RawMessage   `json:"spec"`
		}
		if err := strict(doc, &env); err != nil {
			return o, fmt.Errorf("%s: %w", key, err)
		}
		spec := mk()
		if err := protojson.Unmarshal(env.Spec, spec); err != nil {
			return o, fmt.Errorf("%s %s: spec: %w", key, env.Metadata.Name, err)
		}
		o.Meta = env.Metadata
		o.Value = &IstioObject{Meta: env.Metadata, Spec: spec}
		return o, nil
	}
	return o, fmt.Errorf("unknown kind %q", key)
}

// strict decodes a YAML document into v the way the API server reads
// JSON: field names are case-sensitive (encoding/json alone would take
// "readinessprobe" for readinessProbe), and unknown or duplicate fields
// are errors.
func strict(doc []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	serrs, err := sigsjson.UnmarshalStrict(j, v, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(serrs...)
}

// splitDocuments splits a YAML stream at its "---" lines, dropping
// documents that hold only comments.
func splitDocuments(b []byte) [][]byte {
	var out [][]byte
	for _, doc := range bytes.Split(append([]byte("\n"), b...), []byte("\n---\n")) {
		empty := true
		for _, l := range strings.Split(string(doc), "\n") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
				empty = false
				break
			}
		}
		if !empty {
			// The separator took the document's last newline.
			out = append(out, append(doc, '\n'))
		}
	}
	return out
}
