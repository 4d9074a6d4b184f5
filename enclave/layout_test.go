package enclave

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/enclave-dev/enclave"

type pkg struct {
	ImportPath string
	Doc        string
	Name       string
	Imports    []string
	Deps       []string
	GoFiles    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json", module+"/...")
	cmd.Dir = ".."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var ps []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	if len(ps) < 5 {
		t.Fatalf("go list found %d packages, want the whole module", len(ps))
	}
	return ps
}

// rel returns the path of p inside the module ("enclave/server").
func rel(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, module), "/") }

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// forbidden says why an import edge from -> to breaks the architecture
// (DESIGN.md section 3, STYLE.md), or "" when it is fine.
func forbidden(from, to string) string {
	leaves := []string{"sandbox-runtime", "policies", "egress-review"}
	if !strings.HasPrefix(to, module) {
		// Heavy parts stay out of the CLI.
		if under(from, "cmd/enclave") || under(from, "enclave/client") {
			for _, heavy := range []string{"modernc.org/sqlite", "github.com/containerd/containerd", "github.com/open-policy-agent/opa"} {
				if strings.HasPrefix(to, heavy) {
					return "the CLI talks to the daemon through enclave/client only and must not link " + heavy
				}
			}
		}
		return ""
	}
	t := rel(to)
	if under(t, "cmd") {
		// A command may split itself into packages of its own tree.
		parts := strings.SplitN(t, "/", 3)
		if len(parts) >= 2 && under(from, parts[0]+"/"+parts[1]) {
			return ""
		}
		return "nothing imports a command"
	}
	for _, leaf := range leaves {
		if under(from, leaf) {
			if under(t, "enclave") {
				return leaf + " must not import enclave (dependency direction cmd -> enclave -> leaves)"
			}
			for _, other := range leaves {
				if other != leaf && under(t, other) {
					return leaf + " must not import " + other
				}
			}
		}
	}
	if under(from, "images") && !under(t, "images") {
		return "job image sources are standalone programs"
	}
	if under(from, "enclave/client") && !under(t, "enclave/api") {
		return "the client speaks only the wire contract (enclave/api): no domain type, no server, no store"
	}
	if under(from, "enclave/api") && !under(t, "enclave/api") {
		return "the wire contract (enclave/api) depends on no domain package: the server maps domain values to it"
	}
	if under(from, "cmd/enclave") && !under(t, "cmd/enclave") && !under(t, "enclave/client") && !under(t, "enclave/api") &&
		!under(t, "enclave/people") && !under(t, "enclave/audit") && !under(t, "enclave/release") && !under(t, "enclave/pii") &&
		t != "enclave/store/storetime" {
		return "the CLI may use only enclave/client, enclave/api and value types"
	}
	return ""
}

func TestImportEdges(t *testing.T) {
	for _, p := range listPackages(t) {
		from := rel(p.ImportPath)
		imports := p.Imports
		if under(from, "cmd/enclave") {
			imports = append(imports, p.Deps...)
		}
		for _, imp := range imports {
			if why := forbidden(from, imp); why != "" {
				t.Errorf("%s imports %s: %s", from, imp, why)
			}
		}
	}
}

func TestForbiddenEdgesAreCaught(t *testing.T) {
	for _, tc := range []struct{ from, to string }{
		{"sandbox-runtime/containerd", module + "/enclave/store"},
		{"policies/opa", module + "/egress-review"},
		{"egress-review", module + "/sandbox-runtime"},
		{"enclave/server", module + "/cmd/enclaved"},
		{"enclave/client", module + "/enclave/server"},
		{"enclave/client", module + "/enclave/jobs"},
		{"enclave/api", module + "/enclave/people"},
		{"cmd/enclave/cli", module + "/enclave/store"},
		{"cmd/enclave/cli", "modernc.org/sqlite"},
		{"images/groupcount", module + "/enclave/pii"},
		{"enclave/server", module + "/cmd/enclave/cli"},
		{"cmd/enclaved", module + "/cmd/enclave/cli"},
	} {
		if forbidden(tc.from, tc.to) == "" {
			t.Errorf("edge %s -> %s is allowed, want it refused", tc.from, tc.to)
		}
	}
	for _, tc := range []struct{ from, to string }{
		{"enclave/server", module + "/policies"},
		{"cmd/enclaved", module + "/sandbox-runtime/containerd"},
		{"cmd/enclave/cli", module + "/enclave/client"},
		{"enclave/client", module + "/enclave/api"},
		{"cmd/enclave", module + "/cmd/enclave/cli"},
	} {
		if why := forbidden(tc.from, tc.to); why != "" {
			t.Errorf("edge %s -> %s refused (%s), want it allowed", tc.from, tc.to, why)
		}
	}
}

func TestEveryPackageHasADocComment(t *testing.T) {
	for _, p := range listPackages(t) {
		if len(p.GoFiles) == 0 {
			continue
		}
		want := "Package " + p.Name + " "
		if p.Name == "main" {
			want = "Command "
		}
		if !strings.HasPrefix(p.Doc, want) {
			t.Errorf("package %s has no doc comment starting %q (got %q)", rel(p.ImportPath), want, p.Doc)
		}
	}
}
