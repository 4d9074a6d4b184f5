package cni

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRunRefusesBadCalls(t *testing.T) {
	conf := `{"cniVersion":"0.4.0","name":"n","type":"` + Type + `"}`
	tests := []struct {
		name     string
		env      Env
		stdin    string
		wantCode int
	}{
		{"not json", Env{Command: "ADD", Netns: "/x", IfName: "eth0"}, "{", 6},
		{"unknown version", Env{Command: "ADD", Netns: "/x", IfName: "eth0"}, `{"cniVersion":"9.9.9"}`, 1},
		{"unknown command", Env{Command: "FROB"}, conf, 4},
		{"no netns", Env{Command: "ADD", IfName: "eth0"}, conf, 4},
		{"netns missing", Env{Command: "ADD", Netns: "/nonexistent/netns", IfName: "eth0"}, conf, 11},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Run(tc.env, strings.NewReader(tc.stdin), &out)
			var ce *Error
			if !errors.As(err, &ce) || ce.Code != tc.wantCode {
				t.Fatalf("Run: got %v, want a CNI error with code %d", err, tc.wantCode)
			}
			if out.Len() != 0 {
				t.Errorf("output on error: got %q, want none", out.String())
			}
		})
	}
}

func TestRunVersionAndDel(t *testing.T) {
	var out bytes.Buffer
	if err := Run(Env{Command: "VERSION"}, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Supported []string `json:"supportedVersions"`
	}
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || len(v.Supported) == 0 {
		t.Errorf("VERSION: got %q (%v), want supported versions", out.String(), err)
	}
	out.Reset()
	conf := `{"cniVersion":"1.0.0","name":"n","type":"` + Type + `"}`
	if err := Run(Env{Command: "DEL", Netns: "/gone", IfName: "eth0"}, strings.NewReader(conf), &out); err != nil || out.Len() != 0 {
		t.Errorf("DEL: got %v, %q; want nil and no output", err, out.String())
	}
}

// newNetns makes a network namespace (needs root) bound to a file and
// returns its path; with extra it also holds a bridge interface.
func newNetns(t *testing.T, extra bool) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("root required in CI")
		}
		t.Skip("needs root")
	}
	f, err := os.CreateTemp("", "netns-")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	path := f.Name()
	t.Cleanup(func() { unix.Unmount(path, unix.MNT_DETACH); os.Remove(path) })
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // this thread ends in the new namespace, never reused
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("unshare: %w", err)
			}
			if err := unix.Mount(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), path, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind the namespace: %w", err)
			}
			if extra {
				if err := addBridge(); err != nil {
					return fmt.Errorf("add a bridge interface: %w", err)
				}
			}
			return nil
		}()
	}()
	if err := <-errc; err != nil {
		t.Fatalf("make a network namespace: %v", err)
	}
	return path
}

func TestAddBringsLoopbackUpAndRefusesOtherInterfaces(t *testing.T) {
	conf := `{"cniVersion":"0.4.0","name":"n","type":"` + Type + `"}`
	ns := newNetns(t, false)
	var out bytes.Buffer
	if err := Run(Env{Command: "ADD", Netns: ns, IfName: "eth0"}, strings.NewReader(conf), &out); err != nil {
		t.Fatalf("ADD: %v", err)
	}
	var res struct {
		Interfaces []struct{ Name string }
		IPs        []struct{ Address string }
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res.IPs) != 1 || res.IPs[0].Address != "127.0.0.1/8" {
		t.Errorf("ADD result: got %q (%v), want the loopback address", out.String(), err)
	}
	withDummy := newNetns(t, true)
	err := Run(Env{Command: "ADD", Netns: withDummy, IfName: "eth0"}, strings.NewReader(conf), &out)
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(ce.Msg, "other than lo") {
		t.Errorf("ADD into a namespace with another interface: got %v, want refused", err)
	}
}

// FuzzRun feeds arbitrary network configurations (outside input, from the
// node's configuration directory): Run never panics and answers either a
// result or a CNI error.
func FuzzRun(f *testing.F) {
	f.Add("ADD", `{"cniVersion":"0.4.0","name":"n","type":"enclave-loopback"}`)
	f.Add("DEL", `{"cniVersion":"1.0.0"}`)
	f.Add("CHECK", `{"cniVersion":"0.3.1","name":1}`)
	f.Add("VERSION", ``)
	f.Fuzz(func(t *testing.T, cmd, conf string) {
		var out bytes.Buffer
		// A netns path that does not exist: ADD never touches the host.
		err := Run(Env{Command: cmd, Netns: "/nonexistent/netns", IfName: "eth0"}, strings.NewReader(conf), &out)
		var ce *Error
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("Run: got %T %v, want a CNI error", err, err)
		}
		if err == nil && cmd == "ADD" {
			t.Fatalf("ADD into a missing namespace: got success")
		}
	})
}
