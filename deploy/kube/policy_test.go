package kube

import (
	"slices"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/modelgate/modelgate/envoy/bootstrap"
)

const component = "app.kubernetes.io/component"

// admitted lists, per component, who the NetworkPolicies let in: other
// components of the namespace by name, "anywhere" for a rule without
// peers, and "ns:<name>" for another namespace's pods.
func admitted(t *testing.T, s stack) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range s.pods() {
		comp := p.labels[component]
		for _, o := range s.byKind("NetworkPolicy") {
			np := o.Value.(*networkingv1.NetworkPolicy)
			sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
			if err != nil {
				t.Fatal(err)
			}
			if !sel.Matches(labels.Set(p.labels)) {
				continue
			}
			for _, r := range np.Spec.Ingress {
				if len(r.From) == 0 {
					out[comp] = append(out[comp], "anywhere")
				}
				for _, f := range r.From {
					switch {
					case f.NamespaceSelector != nil:
						out[comp] = append(out[comp], "ns:"+f.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"])
					case f.PodSelector != nil:
						out[comp] = append(out[comp], f.PodSelector.MatchLabels[component])
					default:
						out[comp] = append(out[comp], "unexpected peer")
					}
				}
			}
		}
		sort.Strings(out[comp])
		out[comp] = slices.Compact(out[comp])
	}
	return out
}

func TestKubernetes_networkPolicies(t *testing.T) {
	t.Parallel()
	_, files := rendered(t)
	s := load(t, fileMap(files), "deploy/kubernetes")
	mon := "ns:" + MonitoringNamespace
	want := map[string][]string{
		"envoy":      {"anywhere", mon},
		"extproc":    {"envoy", mon},
		"ratelimit":  {"envoy", "extproc", mon},
		"redis":      {"ratelimit"},
		"jobs-redis": {"inference"},
		"inference":  {"envoy", mon},
	}
	got := admitted(t, s)
	for comp, w := range want {
		if !slices.Equal(got[comp], w) {
			t.Errorf("%s admits %v, want %v", comp, got[comp], w)
		}
	}
	for comp := range got {
		if _, ok := want[comp]; !ok {
			t.Errorf("component %s has no expectation here", comp)
		}
	}
	// The default deny covers every pod, so a workload without a policy
	// of its own is closed, not open.
	o, ok := s.find("NetworkPolicy", "default-deny")
	if np, _ := o.Value.(*networkingv1.NetworkPolicy); !ok || len(np.Spec.PodSelector.MatchLabels)+len(np.Spec.PodSelector.MatchExpressions) != 0 || len(np.Spec.Ingress) != 0 {
		t.Error("default-deny must select every pod and admit nothing")
	}
}

func TestIstio_networkPolicies(t *testing.T) {
	t.Parallel()
	_, files := rendered(t)
	got := admitted(t, load(t, fileMap(files), "deploy/istio"))
	gw := "ns:" + GatewayNamespace
	for _, comp := range []string{"extproc", "ratelimit", "inference"} {
		if !slices.Contains(got[comp], gw) {
			t.Errorf("%s does not admit the ingress gateway (admits %v)", comp, got[comp])
		}
	}
	if _, ok := got["envoy"]; ok {
		t.Error("the Istio set still runs the standalone Envoy")
	}
}

// Envoy resolves its clusters' names with STRICT_DNS: the Services must be
// headless for it to see, balance over and eject single pods.
func TestKubernetes_envoyClustersAreHeadless(t *testing.T) {
	t.Parallel()
	src, files := rendered(t)
	s := load(t, fileMap(files), "deploy/kubernetes")
	names := []string{"extproc", "ratelimit"}
	names = append(names, bootstrapTargets(src)...)
	for _, n := range names {
		o, ok := s.find("Service", n)
		if !ok {
			t.Errorf("no Service %s", n)
			continue
		}
		if ip := o.Value.(*corev1.Service).Spec.ClusterIP; ip != corev1.ClusterIPNone {
			t.Errorf("Service %s: clusterIP %q, want None", n, ip)
		}
	}
}

func bootstrapTargets(src Sources) []string {
	var out []string
	for _, tg := range bootstrap.Targets(src.Catalog) {
		out = append(out, tg.Service)
	}
	return out
}
