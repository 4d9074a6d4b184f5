package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/enclave-dev/enclave/enclave/api"
	"github.com/enclave-dev/enclave/enclave/client"
	"github.com/enclave-dev/enclave/enclave/store"
)

// TestMain lets a test re-execute its own binary as the daemon, so that
// the daemon can be killed with SIGKILL like a real process.
func TestMain(m *testing.M) {
	if dir := os.Getenv("ENCLAVED_TEST_PLAIN_VERIFY"); dir != "" {
		// The plain reference handler of BenchmarkServiceVerify.
		err := plainVerifyMain(dir, os.Getenv("ENCLAVED_TEST_LISTEN"), os.Getenv("ENCLAVED_TEST_TLS_DIR"))
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if dir := os.Getenv("ENCLAVED_TEST_DAEMON"); dir != "" {
		cfg := Default()
		cfg.DataDir = dir
		cfg.VaultAddr = os.Getenv("ENCLAVED_TEST_VAULT_ADDR")
		cfg.Sandbox = os.Getenv("ENCLAVED_TEST_SANDBOX") == "1"
		cfg.Listen = os.Getenv("ENCLAVED_TEST_LISTEN") // the TLS listener, when set
		if q := os.Getenv("ENCLAVED_TEST_RUN_FLAGS"); q != "" {
			// Flags of enclaved run, parsed as the command parses them.
			rc, err := runConfig(append([]string{"--data-dir", dir}, strings.Fields(q)...))
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			cfg.UploadQuota = rc.UploadQuota
		}
		if kc := os.Getenv("ENCLAVED_TEST_KUBECONFIG"); kc != "" {
			cfg.SandboxKind, cfg.Kubeconfig, cfg.KubeletConfig = sandboxKubernetes, kc, os.Getenv("ENCLAVED_TEST_KUBELET_CONFIG")
		}
		if err := cfg.Validate(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if err := serve(context.Background(), cfg, log); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// daemonStartWait bounds how long a test waits for a daemon it started to
// answer. A daemon under the race detector loads and probes its policies
// and starts containerd before it answers; on a loaded 2-core machine that
// took over 30 s, and the wait returns as soon as it answers.
const daemonStartWait = 3 * time.Minute

func startDaemon(t testing.TB, dir string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "ENCLAVED_TEST_DAEMON="+dir), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "enclaved.sock")
	c, _ := client.New(sock, "")
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

func TestInitTwiceRefusesAndChangesNothing(t *testing.T) {
	cfg := Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	if _, err := initDataDir(context.Background(), cfg, testAdmin("platform")); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, cfg.DataDir)
	if _, err := initDataDir(context.Background(), cfg, testAdmin("platform")); err == nil {
		t.Fatal("second init succeeded, want a refusal")
	}
	if after := snapshot(t, cfg.DataDir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("second init changed the data directory:\nbefore %v\nafter  %v", before, after)
	}
	fi, err := os.Stat(cfg.DataDir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data directory mode: got %v, want 0700", fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(filepath.Dir(cfg.DataDir))
	if len(ents) != 1 {
		t.Fatalf("init left %d entries beside the data directory, want none", len(ents)-1)
	}
}

// snapshot lists every file under dir with its size and modification time.
func snapshot(t *testing.T, dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %d %d %v", p, fi.Size(), fi.ModTime().UnixNano(), fi.Mode()))
		return nil
	})
	return out
}

// TestKillDuringConcurrentWrites: kill -9 of enclaved in the middle of 32
// concurrent writers; after a restart every write that a client saw
// acknowledged is present, audit verify passes, and the database is
// consistent.
func TestKillDuringConcurrentWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills the daemon")
	}
	ctx := context.Background()
	cfg := Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	res, err := initDataDir(ctx, cfg, testAdmin("platform"))
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(cfg.DataDir, "enclaved.sock")
	d := startDaemon(t, cfg.DataDir)
	admin, _ := client.New(sock, res.AdminToken)
	auth, err := admin.AddPerson(ctx, registered(api.PersonRequest{Name: "Zhou Min", Org: "platform", Roles: []string{"authority"}}))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := client.New(sock, auth.Token, client.WithTimeout(10*time.Second))

	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("org-%02d-%04d", w, i)
				if _, err := c.AddOrg(ctx, licensed(api.OrgRequest{Name: name, Type: "company", LicenceUntil: time.Now().AddDate(1, 0, 0).Format("2006-01-02")})); err != nil {
					return // the daemon is gone
				}
				mu.Lock()
				acked = append(acked, name)
				mu.Unlock()
			}
		}(w)
	}
	// Let the writers get going, then kill the daemon mid-flight.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := d.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.Wait()
	close(stop)
	wg.Wait()
	if len(acked) < 32 {
		t.Fatalf("only %d writes were acknowledged before the kill; the test proves nothing", len(acked))
	}

	// The database is consistent.
	db, err := store.Open(ctx, cfg.statePath())
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := db.SQL().QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity check: got %q %v, want ok", check, err)
	}
	db.Close()

	d = startDaemon(t, cfg.DataDir)
	defer func() { d.Process.Signal(syscall.SIGTERM); d.Wait() }()
	orgs, err := c.ListOrgs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, o := range orgs {
		have[o.Name] = true
	}
	for _, name := range acked {
		if !have[name] {
			t.Errorf("acknowledged organisation %q is missing after the restart", name)
		}
	}
	bureau, err := admin.AddPerson(ctx, registered(api.PersonRequest{Name: "Sun Hao", Org: "platform", Roles: []string{"bureau"}}))
	if err != nil {
		t.Fatal(err)
	}
	bc, _ := client.New(sock, bureau.Token)
	rep, err := bc.AuditVerify(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("audit verify after the crash: %+v %v", rep, err)
	}
	// Every acknowledged organisation has its audit entry.
	ents, err := bc.AuditList(ctx, client.AuditFilter{Action: "org.add", Limit: "0"})
	if err != nil {
		t.Fatal(err)
	}
	audited := map[string]bool{}
	for _, e := range ents {
		if e.Outcome == "ok" && len(e.Objects) > 0 {
			audited[e.Objects[0]] = true
		}
	}
	for _, name := range acked {
		if !audited["org:"+name] {
			t.Errorf("acknowledged organisation %q has no audit entry", name)
		}
	}
	t.Logf("%d writes acknowledged before the kill, all present and audited", len(acked))
}
