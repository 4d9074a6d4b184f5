package checker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	review "github.com/enclave-dev/enclave/egress-review"
	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	"github.com/enclave-dev/enclave/enclave/checker"
)

// TestMain serves the child when the test binary is run again as one.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == checker.ChildCommand {
		os.Exit(checker.Serve(os.Args[2:], os.Stdin, os.Stdout, testOps()))
	}
	os.Exit(m.Run())
}

// check is a check whose behaviour is a function.
type check struct {
	name string
	run  func(ctx context.Context, req *review.Request) ([]review.Finding, error)
}

func (c check) Name() string    { return c.name }
func (c check) Version() string { return "1" }
func (c check) Run(ctx context.Context, req *review.Request) ([]review.Finding, error) {
	return c.run(ctx, req)
}

// secretValue is what the fingerprint check looks for in the inputs' sets.
const secretValue = "110101199003074514"

// hostile is a set of checks that misbehave the ways a parser bug would.
func hostile() []review.Check {
	return []review.Check{
		check{"pass", func(context.Context, *review.Request) ([]review.Finding, error) {
			return []review.Finding{{Verdict: review.VerdictPass, Evidence: "nothing found"}}, nil
		}},
		check{"panic-hard", func(context.Context, *review.Request) ([]review.Finding, error) {
			// A panic on another goroutine cannot be recovered by
			// review.Run: it ends the process.
			done := make(chan struct{})
			go func() { panic("a parser bug holding " + secretValue) }()
			<-done
			return nil, nil
		}},
		check{"alloc", func(context.Context, *review.Request) ([]review.Finding, error) {
			var keep [][]byte
			for {
				b := make([]byte, 16<<20)
				for i := 0; i < len(b); i += 4096 {
					b[i] = 1
				}
				keep = append(keep, b)
			}
		}},
		check{"spin", func(context.Context, *review.Request) ([]review.Finding, error) {
			x := 0
			for {
				x++
			}
		}},
		check{"sleep", func(context.Context, *review.Request) ([]review.Finding, error) {
			time.Sleep(time.Hour)
			return nil, nil
		}},
		check{"write-big", func(_ context.Context, req *review.Request) ([]review.Finding, error) {
			f, err := os.Create(req.DeclaredLevels["scratch"])
			if err != nil {
				return nil, err
			}
			defer f.Close()
			if _, err := f.Write(make([]byte, 4<<20)); err != nil {
				return nil, fmt.Errorf("write scratch file: %w", errdefs.ErrResourceExhausted)
			}
			return []review.Finding{{Verdict: review.VerdictPass, Evidence: "wrote it"}}, nil
		}},
		check{"stdout", func(context.Context, *review.Request) ([]review.Finding, error) {
			os.Stdout.WriteString("not an answer")
			return nil, nil
		}},
		check{"environment", func(context.Context, *review.Request) ([]review.Finding, error) {
			return []review.Finding{{Verdict: review.VerdictPass, Evidence: strings.Join(os.Args, " ") + " | " + strings.Join(os.Environ(), " ")}}, nil
		}},
		check{"fingerprints", func(_ context.Context, req *review.Request) ([]review.Finding, error) {
			if req.Hasher == nil || len(req.Inputs) != 1 || req.Inputs[0].Fingerprints == nil {
				return nil, fmt.Errorf("no hasher or set: %w", errdefs.ErrInvalidArgument)
			}
			for _, h := range req.Hasher.Value(secretValue) {
				if req.Inputs[0].Fingerprints.HasValue(h) {
					return []review.Finding{{Verdict: review.VerdictFail, Evidence: "an input value"}}, nil
				}
			}
			return []review.Finding{{Verdict: review.VerdictPass, Evidence: "no input value"}}, nil
		}},
	}
}

func testOps() checker.Ops {
	return checker.ReviewOps(checker.CheckSets{"hostile": hostile})
}

func pick(names ...string) []review.Check {
	var out []review.Check
	for _, c := range hostile() {
		for _, n := range names {
			if c.Name() == n {
				out = append(out, c)
			}
		}
	}
	return out
}

func testRunner(t *testing.T) *checker.Runner {
	t.Helper()
	return &checker.Runner{Limits: checker.Limits{Memory: 512 << 20, CPU: 2 * time.Second, FileSize: 1 << 20, Wall: 20 * time.Second}}
}

// outputFile writes a candidate file and returns it with its digest.
func outputFile(t *testing.T) review.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "out.txt")
	if err := os.WriteFile(p, []byte("count 12\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum, err := review.FileSHA256(p)
	if err != nil {
		t.Fatal(err)
	}
	return review.File{Name: "out.txt", Path: p, SHA256: sum}
}

func verdicts(res review.Result) map[string]review.Verdict {
	out := map[string]review.Verdict{}
	for _, c := range res.Checks {
		out[c.Name] = c.Verdict
	}
	return out
}

func evidence(res review.Result, name string) string {
	var out []string
	for _, f := range res.Findings {
		if f.Check == name {
			out = append(out, f.Evidence)
		}
	}
	return strings.Join(out, "; ")
}

// TestHostileCheckCostsOneFailedCheck: a check that panics on another
// goroutine, allocates without end, spins, sleeps past the wall limit,
// writes past the file-size limit or scribbles on the answer costs that
// check a fail finding naming the reason; the other check of the same
// review keeps its verdict, and the test process (the daemon) goes on.
func TestHostileCheckCostsOneFailedCheck(t *testing.T) {
	file := outputFile(t)
	tests := []struct {
		check, evidence string
		limits          checker.Limits
	}{
		{"panic-hard", "crashed (exit status 2)", checker.Limits{}},
		{"alloc", "memory", checker.Limits{}},
		{"spin", "CPU time", checker.Limits{}},
		{"sleep", "ran longer than its limit of 3s", checker.Limits{Wall: 3 * time.Second}},
		{"write-big", "could not answer", checker.Limits{}},
		{"stdout", "malformed", checker.Limits{}},
	}
	for _, tc := range tests {
		t.Run(tc.check, func(t *testing.T) {
			r := testRunner(t)
			var logged bytes.Buffer
			r.Log = slog.New(slog.NewJSONHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
			if tc.limits.Wall > 0 {
				r.Limits.Wall = tc.limits.Wall
			}
			if tc.check == "spin" {
				if testing.Short() {
					// The least RLIMIT_CPU: the spin burns its whole limit.
					r.Limits.CPU = time.Second
				}
				// Only the CPU limit may end the spin: on a loaded machine
				// a second of CPU took the spin longer than the 20 s wall
				// limit, and the evidence named the wall limit instead.
				r.Limits.Wall = 10 * time.Minute
			}
			req := &review.Request{Files: []review.File{file}, DeclaredLevels: map[string]string{"scratch": filepath.Join(t.TempDir(), "scratch")}}
			res := r.Review(context.Background(), "hostile", pick("pass", tc.check), req, nil)
			v := verdicts(res)
			if v["pass"] != review.VerdictPass || v[tc.check] != review.VerdictFail || v[review.IntegrityCheck] != review.VerdictPass {
				t.Fatalf("verdicts: got %v, want pass for pass and integrity, fail for %s\nfindings %+v", v, tc.check, res.Findings)
			}
			if res.Verdict != review.VerdictFail {
				t.Errorf("review verdict: got %s, want fail", res.Verdict)
			}
			if ev := evidence(res, tc.check); !strings.Contains(ev, tc.evidence) {
				t.Errorf("evidence of %s: got %q, want it to say %q", tc.check, ev, tc.evidence)
			}
			for _, f := range res.Findings {
				if strings.Contains(f.Evidence, secretValue) {
					t.Errorf("finding %+v carries what the child wrote", f)
				}
			}
			// The daemon's log names the failure, never a figure the
			// content can set (exit status, CPU time, memory).
			if tc.check == "spin" && !strings.Contains(logged.String(), "check process failed") {
				t.Errorf("no failure logged:\n%s", logged.String())
			}
			for _, k := range []string{`"exit":`, `"cpu":`, `"max_rss_kib":`} {
				if strings.Contains(logged.String(), k) {
					t.Errorf("the log carries %s of the failed check:\n%s", k, logged.String())
				}
			}
		})
	}
}

// TestSecretAndSetsReachTheChild: the fingerprint key (over the pipe) and
// the inputs' sets arrive, so a check in the child recognises an input
// value; the key is on no command line and in no environment.
func TestSecretAndSetsReachTheChild(t *testing.T) {
	key := make([]byte, fingerprint.KeySize)
	rand.Read(key)
	h, err := fingerprint.NewHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	b := fingerprint.NewBuilder()
	b.SetKeyID(h.ID())
	for _, v := range h.Value(secretValue) {
		b.AddValue(v)
	}
	set, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	req := &review.Request{Files: []review.File{outputFile(t)}, Hasher: h,
		Inputs: []review.Input{{Dataset: "penalties", Version: 1, Level: "general-3", Fingerprints: set}}}
	res := testRunner(t).Review(context.Background(), "hostile", pick("fingerprints"), req, key)
	if v := verdicts(res)["fingerprints"]; v != review.VerdictFail || evidence(res, "fingerprints") != "an input value" {
		t.Fatalf("got %s (%+v), want the child to find the input value", v, res.Findings)
	}

	t.Setenv("VAULT_TOKEN", "hvs.daemon-secret")
	res = testRunner(t).Review(context.Background(), "hostile", pick("environment"), req, key)
	seen := evidence(res, "environment")
	if !strings.Contains(seen, checker.ChildCommand) {
		t.Fatalf("the child's command line and environment: got %q, want its command", seen)
	}
	for _, secret := range []string{base64.StdEncoding.EncodeToString(key), hex.EncodeToString(key), "hvs.daemon-secret", "VAULT_TOKEN"} {
		if strings.Contains(seen, secret) {
			t.Errorf("the child's command line or environment holds %q: %q", secret, seen)
		}
	}
}

// TestCallFailures: the errdefs class of each way a call fails.
func TestCallFailures(t *testing.T) {
	r := testRunner(t)
	r.Exe = filepath.Join(t.TempDir(), "missing")
	err := r.Call(context.Background(), checker.Request{Op: checker.ReviewOp, Payload: struct{}{}}, nil)
	var f *checker.Failure
	if !errors.As(err, &f) || f.Reason != checker.ReasonStart || !errdefs.IsInternal(err) {
		t.Errorf("missing program: got %v, want a start failure of class internal", err)
	}
	r = testRunner(t)
	err = r.Call(context.Background(), checker.Request{Op: "no-such-op", Payload: struct{}{}}, nil)
	if !errdefs.IsNotImplemented(err) {
		t.Errorf("unknown operation: got %v, want not-implemented", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(500 * time.Millisecond); cancel() }()
	req := &review.Request{Files: []review.File{outputFile(t)}}
	res := r.Review(ctx, "hostile", pick("sleep", "pass"), req, nil)
	if res.Verdict != review.VerdictFail || !strings.Contains(evidence(res, "sleep"), "cancelled") {
		t.Errorf("cancelled review: got %s %+v, want every check failed as cancelled", res.Verdict, res.Findings)
	}
}

// TestReviewMatchesInProcess: a review in the child answers what
// review.Run answers in the process for checks that behave.
func TestReviewMatchesInProcess(t *testing.T) {
	req := &review.Request{Files: []review.File{outputFile(t)}}
	got := testRunner(t).Review(context.Background(), "hostile", pick("pass"), req, nil)
	want := review.Run(context.Background(), req, pick("pass")...)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}
