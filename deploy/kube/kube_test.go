package kube

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// root is the repository root, seen from this package's folder.
const root = "../.."

// rendered renders the manifests once per test binary.
func rendered(t *testing.T) (Sources, []File) {
	t.Helper()
	src, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Render(src)
	if err != nil {
		t.Fatal(err)
	}
	return src, files
}

// stack is a set of decoded objects: what one `kubectl apply -k` applies.
type stack struct {
	objs []Object
	// deleted are the objects a kustomization's delete patches removed.
	deleted []Object
}

func (s stack) byKind(kind string) []Object {
	var out []Object
	for _, o := range s.objs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func (s stack) find(kind, name string) (Object, bool) {
	for _, o := range s.objs {
		if o.Kind == kind && o.Meta.Name == name {
			return o, true
		}
	}
	return Object{}, false
}

// pod is a workload's pod template.
type pod struct {
	owner  string
	labels map[string]string
	spec   corev1.PodSpec
	annot  map[string]string
}

func (s stack) pods() []pod {
	var out []pod
	for _, o := range s.objs {
		switch v := o.Value.(type) {
		case *appsv1.Deployment:
			out = append(out, pod{o.Kind + "/" + o.Meta.Name, v.Spec.Template.Labels, v.Spec.Template.Spec, v.Spec.Template.Annotations})
		case *appsv1.StatefulSet:
			out = append(out, pod{o.Kind + "/" + o.Meta.Name, v.Spec.Template.Labels, v.Spec.Template.Spec, v.Spec.Template.Annotations})
		}
	}
	return out
}

// load decodes the kustomization in dir and every resource it lists,
// following bases, and applies its delete patches (the only kind of
// inline patch these manifests use). Patch files are decoded but not
// added: they change objects, they are not objects.
func load(t *testing.T, files map[string][]byte, dir string) stack {
	t.Helper()
	objs := decodeFile(t, files, path.Join(dir, "kustomization.yaml"))
	if len(objs) != 1 {
		t.Fatalf("%s: want one Kustomization", dir)
	}
	k := objs[0].Value.(*Kustomization)
	var s stack
	for _, r := range k.Resources {
		p := path.Join(dir, r)
		if _, ok := files[path.Join(p, "kustomization.yaml")]; ok {
			base := load(t, files, p)
			s.objs = append(s.objs, base.objs...)
			s.deleted = append(s.deleted, base.deleted...)
			continue
		}
		s.objs = append(s.objs, decodeFile(t, files, p)...)
	}
	for _, p := range k.Patches {
		switch {
		case p.Path != "":
			decodeFile(t, files, path.Join(dir, p.Path))
		case strings.HasPrefix(p.Patch, "$patch: delete") && p.Target != nil:
			s.objs = slices.DeleteFunc(s.objs, func(o Object) bool {
				del := o.Kind == p.Target.Kind && o.Meta.Name == p.Target.Name
				if del {
					s.deleted = append(s.deleted, o)
				}
				return del
			})
		default:
			t.Fatalf("%s: patch %+v: only files and deletes are understood here", dir, p)
		}
	}
	return s
}

func decodeFile(t *testing.T, files map[string][]byte, p string) []Object {
	t.Helper()
	b, ok := files[p]
	if !ok {
		t.Fatalf("%s is not rendered", p)
	}
	objs, err := Decode(p, b)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func fileMap(files []File) map[string][]byte {
	m := map[string][]byte{}
	for _, f := range files {
		m[f.Path] = f.Data
	}
	return m
}

func TestRender_checkedIn(t *testing.T) {
	t.Parallel()
	_, files := rendered(t)
	want := map[string]bool{}
	for _, f := range files {
		want[f.Path] = true
		got, err := os.ReadFile(filepath.Join(root, f.Path))
		if err != nil {
			t.Errorf("%s: %v (run `make generate` (or `cd deploy && go run ./cmd/kubegen`))", f.Path, err)
			continue
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf("%s is stale: run `make generate` (or `cd deploy && go run ./cmd/kubegen`)", f.Path)
		}
	}
	for _, dir := range []string{"deploy/kubernetes", "deploy/istio"} {
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if p := path.Join(dir, e.Name()); !want[p] {
				t.Errorf("%s is not rendered by kubegen: remove it or add a template", p)
			}
		}
	}
}

func TestDecode_everyFile(t *testing.T) {
	t.Parallel()
	_, files := rendered(t)
	for _, f := range files {
		if strings.HasSuffix(f.Path, "/mesh-config.yaml") {
			if _, err := DecodeMeshValues(f.Data); err != nil {
				t.Error(err)
			}
			continue
		}
		objs, err := Decode(f.Path, f.Data)
		if err != nil {
			t.Error(err)
			continue
		}
		if len(objs) == 0 {
			t.Errorf("%s holds no object", f.Path)
		}
	}
}

// The checks below are only worth something if the decoding is strict.
func TestDecode_refuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, doc, wantErr string }{
		{
			name:    "refuses an unknown field of a Kubernetes kind",
			doc:     "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n",
			wantErr: `unknown field "spec.replica"`,
		},
		{
			name:    "refuses an unknown field deep in a pod template",
			doc:     "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: b, readinessprobe: {}}]\n",
			wantErr: `unknown field "spec.template.spec.containers[0].readinessprobe"`,
		},
		{
			name:    "refuses a duplicate field",
			doc:     "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  type: ClusterIP\n  type: LoadBalancer\n",
			wantErr: `already set in map`,
		},
		{
			name:    "refuses an unknown field of an Istio spec",
			doc:     "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: ['*']\n  htpp: []\n",
			wantErr: `unknown field "htpp"`,
		},
		{
			name:    "refuses an unknown field of Istio metadata",
			doc:     "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: x, namespaces: y}\nspec: {}\n",
			wantErr: `unknown field "metadata.namespaces"`,
		},
		{
			name:    "refuses a wrong enum value of an Istio spec",
			doc:     "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: x}\nspec: {action: CUSTOMISED}\n",
			wantErr: `invalid value for enum`,
		},
		{
			name:    "refuses an unknown kind",
			doc:     "apiVersion: apps/v1\nkind: DaemonSett\nmetadata: {name: x}\n",
			wantErr: `unknown kind "apps/v1/DaemonSett"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode("test.yaml", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := DecodeMeshValues([]byte("meshConfig: {extensionProviders: [{name: a, envoyExtAuthzGrpc: {service: s, port: 1, failopen: true}}]}\n")); err == nil ||
		!strings.Contains(err.Error(), `unknown field "failopen"`) {
		t.Errorf("mesh values: err = %v, want the unknown field refused", err)
	}
}

// Every rendered file is applied: listed as a resource or a patch of its
// folder's kustomization (istiod's values file aside).
func TestKustomization_listsEveryFile(t *testing.T) {
	t.Parallel()
	_, files := rendered(t)
	m := fileMap(files)
	listed := map[string]bool{}
	for _, dir := range []string{"deploy/kubernetes", "deploy/istio"} {
		k := decodeFile(t, m, path.Join(dir, "kustomization.yaml"))[0].Value.(*Kustomization)
		for _, r := range k.Resources {
			listed[path.Join(dir, r)] = true
		}
		for _, p := range k.Patches {
			if p.Path != "" {
				listed[path.Join(dir, p.Path)] = true
			}
		}
	}
	for _, f := range files {
		name := path.Base(f.Path)
		if name == "kustomization.yaml" || name == "mesh-config.yaml" {
			continue
		}
		if !listed[f.Path] {
			t.Errorf("%s is in no kustomization", f.Path)
		}
	}
}
