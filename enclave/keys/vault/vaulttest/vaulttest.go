// Package vaulttest starts a throwaway HashiCorp Vault dev server on a
// loopback port for tests, with the transit engine enabled.
//
// The vault binary is found through the ENCLAVE_VAULT_BIN environment
// variable or at build/bin/vault under the repository root, where
// `tools/vault/build.sh build/bin/vault` (or the Makefile) puts it. When
// it is missing, Start skips the test visibly, or fails it when CI=true,
// so that CI always exercises the real Vault. The server is killed by its
// PID when the test ends, and by the kernel if the test process dies.
package vaulttest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// modulePath is the first line of the repository's go.mod.
const modulePath = "module github.com/enclave-dev/enclave"

// Server is a running Vault dev server.
type Server struct {
	// Addr is the server's URL, "http://127.0.0.1:PORT".
	Addr string
	// Token is the root token.
	Token string
	// Log is the path of the server's combined output.
	Log string

	cmd      *exec.Cmd
	home     string
	exited   chan struct{}
	stopOnce sync.Once
}

// Binary returns the path of the vault binary: $ENCLAVE_VAULT_BIN, or
// build/bin/vault under the repository root found from the working
// directory. It returns an error when neither is an executable file.
func Binary() (string, error) {
	if p := os.Getenv("ENCLAVE_VAULT_BIN"); p != "" {
		if isExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("ENCLAVE_VAULT_BIN=%q is not an executable file: %w", p, ErrNoBinary)
	}
	root, err := repoRoot()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoBinary, err)
	}
	p := filepath.Join(root, "build", "bin", "vault")
	if !isExecutable(p) {
		return "", fmt.Errorf("%w at %q (build it with tools/vault/build.sh build/bin/vault, or set ENCLAVE_VAULT_BIN)", ErrNoBinary, p)
	}
	return p, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			first, _, _ := strings.Cut(string(data), "\n")
			if strings.TrimSpace(first) == modulePath {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod of github.com/enclave-dev/enclave) not found above the working directory")
		}
		dir = parent
	}
}

// ErrNoBinary is wrapped by the errors of Binary and Launch when no vault
// binary is available.
var ErrNoBinary = errors.New("no vault binary")

// Start launches a server for one test: it skips t when no vault binary is
// available, or fails it when the CI environment variable is "true", and
// stops the server when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := Launch()
	if err != nil {
		SkipOrFail(t, err)
	}
	t.Cleanup(s.Stop)
	return s
}

// SkipOrFail ends t after Launch failed with err: a skip, visible in the
// test output, when the binary is missing outside CI; a failure otherwise.
func SkipOrFail(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrNoBinary) && os.Getenv("CI") != "true" {
		t.Skipf("SKIP: no vault server for this test: %v", err)
	}
	t.Fatalf("vault dev server: %v", err)
}

// Launch starts a Vault dev server listening on a free 127.0.0.1 port with
// a random root token, waits until /v1/sys/health answers, and enables the
// transit engine at "transit". The caller must call Stop; a package can
// share one server between its tests by launching it lazily and stopping
// it in TestMain.
func Launch() (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := launch(bin)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("start vault dev server: %w", lastErr)
}

// Stop kills the server by its PID, waits for it to exit and removes its
// temporary directory. It is safe to call more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.cmd.Process.Kill()
		<-s.exited
		os.RemoveAll(s.home)
	})
}

func launch(bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	tokenBytes := make([]byte, 16)
	rand.Read(tokenBytes)
	home, err := os.MkdirTemp("", "vaulttest-")
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(home, "vault.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(home)
		return nil, err
	}
	defer logFile.Close()

	listen := fmt.Sprintf("127.0.0.1:%d", port)
	s := &Server{
		Addr:   "http://" + listen,
		Token:  "root-" + hex.EncodeToString(tokenBytes),
		Log:    logPath,
		home:   home,
		exited: make(chan struct{}),
	}
	s.cmd = exec.Command(bin, "server", "-dev",
		"-dev-root-token-id="+s.Token,
		"-dev-listen-address="+listen,
		"-dev-no-store-token",
	)
	// A clean environment: no VAULT_* from the developer's shell, and a
	// HOME of its own.
	s.cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "VAULT_LOG_LEVEL=warn"}
	s.cmd.Stdout = logFile
	s.cmd.Stderr = logFile
	setParentDeathSignal(s.cmd)
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(home)
		return nil, fmt.Errorf("run %q: %w", bin, err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	if err := waitHealthy(s.Addr, s.exited, 60*time.Second); err != nil {
		log := tail(logPath, 20)
		s.Stop()
		return nil, fmt.Errorf("%w; server log:\n%s", err, log)
	}
	if err := s.do(http.MethodPost, "/v1/sys/mounts/transit", `{"type":"transit"}`); err != nil {
		s.Stop()
		return nil, fmt.Errorf("enable transit: %w", err)
	}
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitHealthy(addr string, exited <-chan struct{}, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("vault exited before it was healthy")
		default:
		}
		resp, err := client.Get(addr + "/v1/sys/health")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("vault not healthy after %v", limit)
}

// Do sends a request with the root token to path (such as
// "/v1/transit/keys/x") and returns the status code and body.
func (s *Server) Do(method, path, body string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.Addr+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Vault-Token", s.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (s *Server) do(method, path, body string) error {
	code, b, err := s.Do(method, path, body)
	if err != nil {
		return err
	}
	if code/100 != 2 {
		return fmt.Errorf("%s %s: status %d: %s", method, path, code, bytes.TrimSpace(b))
	}
	return nil
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
