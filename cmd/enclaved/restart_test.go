package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/client"
	ctrd "github.com/enclave-dev/enclave/sandbox-runtime/containerd"
)

// startDaemonIn starts the daemon as startDaemon does, in a mount
// namespace of its own when ownNS is set: systemd gives enclaved.service
// one (ProtectSystem=, PrivateTmp=), a new one at every start, so that the
// mounts a daemon made are not those the next one sees.
func startDaemonIn(t *testing.T, dir string, ownNS bool) *exec.Cmd {
	t.Helper()
	if !ownNS {
		return startDaemon(t, dir, "ENCLAVED_TEST_SANDBOX=1")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ENCLAVED_TEST_DAEMON="+dir, "ENCLAVED_TEST_SANDBOX=1")
	cmd.Stderr = os.Stderr
	// Go makes the new namespace's mounts private (MS_REC|MS_PRIVATE).
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c, _ := client.New(filepath.Join(dir, "enclaved.sock"), "")
	deadline := time.Now().Add(daemonStartWait)
	for {
		if _, err := c.Health(context.Background()); err == nil {
			return cmd
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("daemon did not answer within " + daemonStartWait.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sweepSandbox kills and removes every job left in a sandbox directory
// whose daemon has stopped, as the next daemon's start would.
func sweepSandbox(t *testing.T, dir string) {
	ctx := context.Background()
	if _, err := os.Stat(filepath.Join(dir, "containerd")); err != nil {
		return
	}
	cd, err := ctrd.StartDaemon(ctx, filepath.Join(dir, "containerd"), nil)
	if err != nil {
		t.Errorf("sweep the sandbox: %v", err)
		return
	}
	defer cd.Stop()
	rt, err := ctrd.New(ctx, cd.Address(), namespace, ctrd.WithWorkDir(filepath.Join(dir, "work")))
	if err != nil {
		t.Errorf("sweep the sandbox: %v", err)
		return
	}
	defer rt.Close()
	if _, err := rt.Recover(ctx, nil); err != nil {
		t.Errorf("sweep the sandbox: %v", err)
	}
}

// TestJobsSurviveRestart: a job of 15 s runs; at its 4th second enclaved is
// stopped, with SIGTERM and, separately, with SIGKILL (its private
// containerd gets SIGTERM with it), and started again. The job completes
// as if nothing had happened: its declared output is collected, its log
// holds all it wrote (also while no daemon ran), its wall time counts from
// its real start, its end and the reattach are audited, and the sandbox
// keeps nothing of it. The last case runs each daemon in a mount namespace
// of its own, as the systemd unit does.
func TestJobsSurviveRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Started as startDaemonIn(t, dir, false) would.
	jd := startJobDaemon(t, ctx, jobDaemonOpts{prefix: "enclave-restart-"})
	cfg := jd.cfg
	w := jd.world(t, ctx)
	operator, officer, bureau := w.operator, w.officer, w.bureau

	// The job ticks each second for 15 s, then writes its output.
	script := `echo begin; i=0; while [ $i -lt 15 ]; do sleep 1; i=$((i+1)); echo tick $i; done; ` +
		`wc -c < /in/credit_penalties/data.arrow > /out/size.txt; echo end`
	var want strings.Builder
	want.WriteString("begin\n")
	for i := 1; i <= 15; i++ {
		fmt.Fprintf(&want, "tick %d\n", i)
	}
	want.WriteString("end\n")

	for _, tc := range []struct {
		name  string
		sig   syscall.Signal
		ownNS bool
	}{
		{"SIGTERM", syscall.SIGTERM, false},
		{"SIGKILL", syscall.SIGKILL, false},
		{"SIGTERM in mount namespaces of their own", syscall.SIGTERM, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			if tc.ownNS {
				// The daemon that starts the job runs in its own namespace
				// too.
				jd.d.Process.Signal(syscall.SIGTERM)
				jd.d.Wait()
				jd.d = startDaemonIn(t, cfg.DataDir, true)
			}
			j, err := operator.RunJob(ctx, api.JobRequest{Image: w.image, Inputs: []string{"credit_penalties"}, Outputs: []string{"size.txt"},
				Args: []string{"sh", "-c", script}, Timeout: "2m"})
			must(err)
			var started time.Time
			for {
				seen, err := officer.ShowJob(ctx, j.ID)
				must(err)
				if seen.State == "running" && seen.StartedAt != nil {
					started = *seen.StartedAt
					break
				}
				if seen.State != "queued" && seen.State != "initializing" {
					t.Fatalf("job before the stop: got %+v", seen)
				}
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(time.Until(started.Add(4 * time.Second)))
			must(jd.d.Process.Signal(tc.sig))
			jd.d.Wait()
			stopped := time.Now()
			// The job goes on while no daemon runs.
			time.Sleep(time.Second)
			jd.d = startDaemonIn(t, cfg.DataDir, tc.ownNS)
			if time.Since(started) > 14*time.Second {
				t.Logf("the daemon was back only %v after the job started; the job may have ended meanwhile", time.Since(started))
			}

			// An officer of another organisation sees the job exactly.
			var seen api.Job
			for {
				seen, err = officer.ShowJob(ctx, j.ID)
				must(err)
				if seen.EndedAt != nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if seen.State != "complete" || seen.ExitCode == nil || *seen.ExitCode != 0 || len(seen.Outputs) != 1 || seen.Outputs[0].Name != "size.txt" {
				t.Fatalf("job after the restart: got state %q, exit %v, outputs %+v (reason %q, %q); want complete with size.txt",
					seen.State, seen.ExitCode, seen.Outputs, seen.Reason, seen.Message)
			}
			if seen.Usage.WallSeconds < 15 || seen.Usage.WallSeconds > 60 || seen.Usage.CPUSeconds <= 0 || seen.StartedAt == nil || !seen.StartedAt.Equal(started) {
				t.Errorf("usage after the restart: got %+v started %v; want the whole run of 15 s or more from %v", seen.Usage, seen.StartedAt, started)
			}
			rc, err := officer.JobLogs(ctx, j.ID)
			must(err)
			logs, _ := io.ReadAll(rc)
			rc.Close()
			if string(logs) != want.String() {
				t.Errorf("log: got %q, want every line the job wrote, those while no daemon ran too", logs)
			}
			if op, err := operator.WaitJob(ctx, j.ID); err != nil || op.State != "complete" || len(op.Outputs) != 1 {
				t.Errorf("the operator's view: got %+v, %v; want complete with its output", op, err)
			}
			evs, err := bureau.AuditList(ctx, client.AuditFilter{Object: "job:" + j.ID, Limit: "0"})
			must(err)
			var life []string
			for _, ev := range evs {
				switch ev.Action {
				case "job.run", "job.initialize", "job.start", "job.reattach", "job.end", "job.requeue":
					life = append(life, ev.Action+":"+ev.Outcome)
				}
			}
			if got, want := strings.Join(life, ","), "job.run:ok,job.initialize:ok,job.start:ok,job.reattach:ok,job.end:ok"; got != want {
				t.Errorf("the job's life in the audit log: got %s, want %s", got, want)
			}
			// Nothing of the job is left in the sandbox: no work area, no
			// input area (the plaintext of its input).
			deadline := time.Now().Add(30 * time.Second)
			for {
				work, _ := os.ReadDir(filepath.Join(cfg.SandboxDir, "work"))
				inputs, _ := os.ReadDir(filepath.Join(cfg.SandboxDir, "inputs"))
				if len(work) == 0 && len(inputs) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("left in the sandbox after the job: work %v, inputs %v", work, inputs)
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Logf("stopped %v after the start; the job ran %.1f s", stopped.Sub(started).Round(100*time.Millisecond), seen.Usage.WallSeconds)
		})
	}
	rep, err := bureau.AuditVerify(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("audit verify: %+v, %v", rep, err)
	}
}
