package kube

import (
	"fmt"
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/modelgate/modelgate/envoy/bootstrap"
)

// selects lists the pods a label selector matches.
func (s stack) selects(sel *metav1.LabelSelector) ([]pod, error) {
	ls, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, err
	}
	var out []pod
	for _, p := range s.pods() {
		if ls.Matches(labels.Set(p.labels)) {
			out = append(out, p)
		}
	}
	return out, nil
}

func selectsAny(s stack, sel *metav1.LabelSelector) bool {
	ps, err := s.selects(sel)
	return err == nil && len(ps) > 0
}

// hasPort says whether every pod has a container port of that name or
// number.
func hasPort(ps []pod, port intstr.IntOrString) bool {
	for _, p := range ps {
		found := false
		for _, c := range p.spec.Containers {
			for _, cp := range c.Ports {
				if (port.Type == intstr.String && cp.Name == port.StrVal) || (port.Type == intstr.Int && cp.ContainerPort == port.IntVal) {
					found = true
				}
			}
		}
		if !found {
			return false
		}
	}
	return len(ps) > 0
}

func TestKubernetes_catalogVersions(t *testing.T) {
	t.Parallel()
	src, files := rendered(t)
	s := load(t, fileMap(files), "deploy/kubernetes")
	targets := bootstrap.Targets(src.Catalog)
	want := map[string]bool{}
	for _, tg := range targets {
		want[tg.Service] = true
		d, ok := s.find("Deployment", tg.Service)
		if !ok {
			t.Errorf("%s: no Deployment %s", tg.Serve(), tg.Service)
			continue
		}
		env := map[string]string{}
		for _, e := range d.Value.(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Env {
			env[e.Name] = e.Value
		}
		if env["INFERENCE_SERVE"] != tg.Serve() {
			t.Errorf("Deployment %s serves %q, want %q", tg.Service, env["INFERENCE_SERVE"], tg.Serve())
		}
		if _, ok := s.find("Service", tg.Service); !ok {
			t.Errorf("%s: no Service %s (Envoy's cluster %s points at it)", tg.Serve(), tg.Service, tg.Cluster)
		}
		if _, ok := s.find("PodDisruptionBudget", tg.Service); !ok {
			t.Errorf("%s: no PodDisruptionBudget", tg.Serve())
		}
	}
	for _, o := range s.byKind("Deployment") {
		if o.Meta.Labels["app.kubernetes.io/component"] == "inference" && !want[o.Meta.Name] {
			t.Errorf("Deployment %s serves a version the catalog does not have", o.Meta.Name)
		}
	}
	// Envoy's config: the routes and clusters of every version, proto-valid.
	cm, ok := s.find("ConfigMap", "modelgate-envoy")
	if !ok {
		t.Fatal("no ConfigMap modelgate-envoy")
	}
	if err := bootstrap.Check([]byte(cm.Value.(*corev1.ConfigMap).Data["envoy.yaml"]), src.Catalog); err != nil {
		t.Errorf("modelgate-envoy: %v", err)
	}
	cat, _ := s.find("ConfigMap", "modelgate-catalog")
	if got := cat.Value.(*corev1.ConfigMap).Data["catalog.yaml"]; got != string(src.CatalogYAML) {
		t.Errorf("modelgate-catalog differs from %s", CatalogFile)
	}
	rl, _ := s.find("ConfigMap", "modelgate-ratelimit")
	if got := rl.Value.(*corev1.ConfigMap).Data["modelgate.yaml"]; got != string(src.RateLimitYAML) {
		t.Errorf("modelgate-ratelimit differs from %s", RateLimitFile)
	}
}

func TestKubernetes_images(t *testing.T) {
	t.Parallel()
	src, files := rendered(t)
	im, err := composeImages(src.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{im.Envoy: true, im.Extproc: true, im.Inference: true, im.RateLimit: true, im.Redis: true}
	for _, p := range load(t, fileMap(files), "deploy/kubernetes").pods() {
		for _, c := range p.spec.Containers {
			if !allowed[c.Image] {
				t.Errorf("%s: image %s is not one compose.yaml uses", p.owner, c.Image)
			}
		}
	}
}

// checkWiring checks what makes a set of objects work together: selectors
// match pods, ports exist, NetworkPolicies select pods.
func checkWiring(t *testing.T, s stack) {
	t.Helper()
	for _, o := range s.objs {
		switch v := o.Value.(type) {
		case *appsv1.Deployment:
			checkOwnSelector(t, o, v.Spec.Selector, v.Spec.Template.Labels)
		case *appsv1.StatefulSet:
			checkOwnSelector(t, o, v.Spec.Selector, v.Spec.Template.Labels)
			if _, ok := s.find("Service", v.Spec.ServiceName); !ok {
				t.Errorf("%s/%s: serviceName %s is not a Service", o.Kind, o.Meta.Name, v.Spec.ServiceName)
			}
		case *corev1.Service:
			if len(v.Spec.Selector) == 0 {
				continue // on purpose: no endpoints (modelgate-unresolved)
			}
			ps, err := s.selects(&metav1.LabelSelector{MatchLabels: v.Spec.Selector})
			if err != nil || len(ps) == 0 {
				t.Errorf("Service %s selects no pod (%v)", o.Meta.Name, err)
				continue
			}
			for _, sp := range v.Spec.Ports {
				if !hasPort(ps, sp.TargetPort) {
					t.Errorf("Service %s port %s: targetPort %s is not a container port of every pod it selects", o.Meta.Name, sp.Name, sp.TargetPort.String())
				}
			}
		case *policyv1.PodDisruptionBudget:
			ps, err := s.selects(v.Spec.Selector)
			if err != nil || len(ps) == 0 {
				t.Errorf("PodDisruptionBudget %s selects no pod (%v)", o.Meta.Name, err)
			}
		case *networkingv1.NetworkPolicy:
			checkNetworkPolicy(t, s, o.Meta.Name, v)
		}
	}
	for _, p := range s.pods() {
		checkPod(t, s, p)
	}
}

func checkOwnSelector(t *testing.T, o Object, sel *metav1.LabelSelector, podLabels map[string]string) {
	t.Helper()
	ls, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || ls.Empty() || !ls.Matches(labels.Set(podLabels)) {
		t.Errorf("%s/%s: selector %v does not match its pod template's labels %v (%v)", o.Kind, o.Meta.Name, sel, podLabels, err)
	}
}

func checkNetworkPolicy(t *testing.T, s stack, name string, np *networkingv1.NetworkPolicy) {
	t.Helper()
	ps, err := s.selects(&np.Spec.PodSelector)
	if err != nil || len(ps) == 0 {
		t.Errorf("NetworkPolicy %s selects no pod (%v)", name, err)
		return
	}
	if len(np.Spec.PodSelector.MatchLabels) == 0 {
		return // the default deny: every pod
	}
	for i, r := range np.Spec.Ingress {
		for _, p := range r.Ports {
			if p.Port != nil && !hasPort(ps, *p.Port) {
				t.Errorf("NetworkPolicy %s rule %d: port %s is not a container port of the pods it selects", name, i, p.Port.String())
			}
		}
		for _, f := range r.From {
			if f.PodSelector == nil || f.NamespaceSelector != nil {
				continue // another namespace: not in this set
			}
			// A peer may name the pods of a workload an overlay removed
			// (Envoy, under Istio): a rule that admits nobody.
			gone := stack{objs: s.deleted}
			if from, err := s.selects(f.PodSelector); err != nil || len(from) == 0 && !selectsAny(gone, f.PodSelector) {
				t.Errorf("NetworkPolicy %s rule %d: from selects no pod (%v)", name, i, err)
			}
		}
	}
}

// checkPod holds every pod to the restricted Pod Security Standard and
// checks its probes, resources, volumes and scrape annotations.
func checkPod(t *testing.T, s stack, p pod) {
	t.Helper()
	errorf := func(format string, a ...any) { t.Errorf("%s: %s", p.owner, fmt.Sprintf(format, a...)) }
	sc := p.spec.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		errorf("pod must run as a non-root user")
	}
	if sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		errorf("pod seccomp profile must be RuntimeDefault")
	}
	for _, c := range p.spec.Containers {
		cs := c.SecurityContext
		if cs == nil || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem {
			errorf("container %s: root filesystem must be read-only", c.Name)
		}
		if cs == nil || cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
			errorf("container %s: privilege escalation must be off", c.Name)
		}
		if cs == nil || cs.Capabilities == nil || len(cs.Capabilities.Drop) != 1 || cs.Capabilities.Drop[0] != "ALL" || len(cs.Capabilities.Add) > 0 {
			errorf("container %s: must drop ALL capabilities and add none", c.Name)
		}
		if c.ReadinessProbe == nil || c.LivenessProbe == nil {
			errorf("container %s: needs readiness and liveness probes", c.Name)
		}
		for _, pr := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
			if pr != nil && pr.HTTPGet != nil && !hasPort([]pod{{spec: corev1.PodSpec{Containers: []corev1.Container{c}}}}, pr.HTTPGet.Port) {
				errorf("container %s: probe port %s is not a container port", c.Name, pr.HTTPGet.Port.String())
			}
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			errorf("container %s: needs cpu and memory requests and a memory limit", c.Name)
		}
	}
	for _, v := range p.spec.Volumes {
		if v.ConfigMap != nil {
			if _, ok := s.find("ConfigMap", v.ConfigMap.Name); !ok {
				errorf("volume %s: ConfigMap %s is not in the set", v.Name, v.ConfigMap.Name)
			}
		}
	}
	if p.annot["prometheus.io/scrape"] == "true" {
		n, err := strconv.Atoi(p.annot["prometheus.io/port"])
		if err != nil || !hasPort([]pod{p}, intstr.FromInt32(int32(n))) {
			errorf("prometheus.io/port %q is not a container port", p.annot["prometheus.io/port"])
		}
	}
}

func TestKubernetes_wiring(t *testing.T) {
	t.Parallel()
	_, files := rendered(t)
	s := load(t, fileMap(files), "deploy/kubernetes")
	checkWiring(t, s)
	// Only Envoy is reachable from outside: every other workload's
	// policies admit pods of this namespace or the monitoring namespace.
	for _, o := range s.byKind("Service") {
		if v := o.Value.(*corev1.Service); v.Spec.Type != corev1.ServiceTypeClusterIP && v.Spec.Type != "" && o.Meta.Name != "envoy" {
			t.Errorf("Service %s is %s: only envoy may be exposed", o.Meta.Name, v.Spec.Type)
		}
	}
	for _, o := range s.byKind("NetworkPolicy") {
		np := o.Value.(*networkingv1.NetworkPolicy)
		for i, r := range np.Spec.Ingress {
			if len(r.From) == 0 && np.Spec.PodSelector.MatchLabels["app.kubernetes.io/component"] != "envoy" {
				t.Errorf("NetworkPolicy %s rule %d admits every source, and it does not select Envoy", o.Meta.Name, i)
			}
		}
	}
	if _, ok := s.find("NetworkPolicy", "default-deny"); !ok {
		t.Error("no default-deny NetworkPolicy")
	}
}
