// Package checker runs the egress checks, and whatever else parses a job's
// outputs, in a child process of the daemon with limits on its memory, CPU
// time, file size and wall time, so that a parser bug an untrusted output
// triggers (a hard panic, an allocation without end, a loop) costs one
// failed check, never the daemon (issue 16).
//
// The child is the daemon's own binary run again with a hidden command
// (Runner.Exe and Runner.Args; /proc/self/exe by default, so an upgrade of
// the binary on disk does not change what runs). The parent writes one
// request to the child's standard input: a JSON envelope naming an
// operation, the secret the operation needs (the fingerprint key; it never
// goes on a command line or into the environment), then the fingerprint
// sets and one optional blob as length-prefixed frames. The child applies
// its limits before it reads anything, runs the operation and writes one
// JSON answer to its standard output. Serve is the child's side.
//
// A child that crashes, runs out of memory or CPU time, outlives its time
// or answers malformed output is an error of the call (Failure, with an
// errdefs class), which callers turn into a failed check: they fail closed.
// What the child writes to its standard error (a panic's message may hold a
// value of the output it was reading) is read only to tell an out-of-memory
// death from a crash; it is never logged or returned.
package checker

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

// ChildCommand is the hidden command of enclaved that serves one request as
// the child (cmd/enclaved dispatches it to Serve).
const ChildCommand = "internal-check-child"

// Limits bound one child process. A zero field takes its default.
type Limits struct {
	// Memory is the most private, writable memory the child may hold
	// (RLIMIT_DATA, beyond what it held when it started, and a watchdog
	// over its anonymous resident memory). Read-only mappings of the files
	// it checks do not count. Default 2 GiB.
	Memory int64
	// CPU is the most CPU time the child may use (RLIMIT_CPU). Default 60
	// minutes.
	CPU time.Duration
	// FileSize is the largest file the child may write (RLIMIT_FSIZE).
	// Default 4 GiB.
	FileSize int64
	// Wall is how long the child may run. Default 30 minutes.
	Wall time.Duration
}

// DefaultLimits returns the limits of a child when none are set.
func DefaultLimits() Limits {
	return Limits{Memory: 2 << 30, CPU: time.Hour, FileSize: 4 << 30, Wall: 30 * time.Minute}
}

func (l Limits) effective() Limits {
	d := DefaultLimits()
	if l.Memory > 0 {
		d.Memory = l.Memory
	}
	if l.CPU > 0 {
		d.CPU = l.CPU
	}
	if l.FileSize > 0 {
		d.FileSize = l.FileSize
	}
	if l.Wall > 0 {
		d.Wall = l.Wall
	}
	return d
}

// args are the limits as the child's command-line arguments (they are not
// secret).
func (l Limits) args() []string {
	return []string{"-memory", strconv.FormatInt(l.Memory, 10), "-cpu", strconv.FormatInt(int64((l.CPU+time.Second-1)/time.Second), 10),
		"-file-size", strconv.FormatInt(l.FileSize, 10)}
}

// Runner starts children. The zero value runs /proc/self/exe ChildCommand
// with the default limits. A Runner is safe for concurrent use; each call
// has a child of its own.
type Runner struct {
	// Exe is the program to run; empty is /proc/self/exe, the running
	// daemon's own binary.
	Exe string
	// Args come before the limits; nil is {ChildCommand}.
	Args []string
	// Limits bound every child.
	Limits Limits
	// Dir is the child's working directory; empty is "/".
	Dir string
	// Log receives one line per failed child (the operation, the reason,
	// the exit status; never what the child wrote). Nil discards.
	Log *slog.Logger
}

// Request is one call of an operation in a child.
type Request struct {
	// Op names the operation (a key of the child's Ops).
	Op string
	// Payload is marshalled to JSON for the operation.
	Payload any
	// Secret goes to the child over its standard input only.
	Secret []byte
	// Sets are fingerprint sets the operation reads.
	Sets []*fingerprint.Set
	// Blob is one more input of the operation (a job's log), or nil.
	Blob []byte
}

// Why a child failed.
const (
	ReasonMemory    = "memory"
	ReasonCPU       = "cpu"
	ReasonWall      = "wall"
	ReasonCrash     = "crash"
	ReasonMalformed = "malformed"
	ReasonStart     = "start"
	ReasonCanceled  = "canceled"
	ReasonError     = "error"
)

// Failure is the error of a call whose child did not answer, or answered
// with an error. Its message says why in words fit for a finding's
// evidence (no value of any output); it wraps an errdefs class:
// ErrResourceExhausted for a memory or CPU limit, context.DeadlineExceeded
// for the wall limit, context.Canceled when the caller gave up, ErrInternal
// for a crash or malformed answer, and the operation's own class for its
// error.
type Failure struct {
	// Reason is one of the Reason constants.
	Reason string
	msg    string
	class  error
}

func (f *Failure) Error() string { return f.msg }

// Unwrap returns the errdefs class.
func (f *Failure) Unwrap() error { return f.class }

func failure(reason string, class error, format string, a ...any) *Failure {
	return &Failure{Reason: reason, msg: fmt.Sprintf(format, a...), class: class}
}

// envelope is the first frame of a request.
type envelope struct {
	Op      string          `json:"op"`
	Secret  []byte          `json:"secret,omitempty"`
	Payload json.RawMessage `json:"payload"`
	Sets    int             `json:"sets"`
	Blob    bool            `json:"blob"`
}

// answer is what the child writes to its standard output.
type answer struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *answerError    `json:"error,omitempty"`
}

type answerError struct {
	Class   string `json:"class"`
	Message string `json:"message"`
}

// maxAnswer bounds what the parent reads of a child's answer.
const maxAnswer = 256 << 20

// Call runs req in a child and decodes its result into out. Any way the
// child fails is a *Failure.
func (r *Runner) Call(ctx context.Context, req Request, out any) error {
	lim := r.Limits.effective()
	payload, err := json.Marshal(req.Payload)
	if err != nil {
		return fmt.Errorf("check request %q: %w", req.Op, errors.Join(errdefs.ErrInvalidArgument, err))
	}
	env, err := json.Marshal(envelope{Op: req.Op, Secret: req.Secret, Payload: payload, Sets: len(req.Sets), Blob: req.Blob != nil})
	if err != nil {
		return fmt.Errorf("check request %q: %w", req.Op, errors.Join(errdefs.ErrInvalidArgument, err))
	}
	exe := r.Exe
	if exe == "" {
		exe = "/proc/self/exe"
	}
	args := r.Args
	if args == nil {
		args = []string{ChildCommand}
	}
	wctx, cancel := context.WithTimeout(ctx, lim.Wall)
	defer cancel()
	cmd := exec.Command(exe, append(append([]string{}, args...), lim.args()...)...)
	cmd.Env = childEnv()
	cmd.Dir = r.Dir
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	// Killed with the daemon; a group of its own, so that a signal to the
	// daemon's terminal does not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return failure(ReasonStart, errdefs.ErrInternal, "the check process could not be started")
	}
	var stdout bytes.Buffer
	cmd.Stdout = &limitWriter{w: &stdout, n: maxAnswer}
	stderr := &headWriter{max: 8 << 10}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		r.log().Error("start check process", "op", req.Op, "err", err)
		return failure(ReasonStart, errdefs.ErrInternal, "the check process could not be started")
	}
	var (
		mu        sync.Mutex
		killedFor string
	)
	kill := func(why string) {
		mu.Lock()
		if killedFor == "" {
			killedFor = why
		}
		mu.Unlock()
		cmd.Process.Kill()
	}
	done := make(chan struct{})
	go func() {
		// The wall limit, the caller's cancellation and the memory
		// watchdog (which holds also where RLIMIT_DATA cannot be set).
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-wctx.Done():
				if ctx.Err() != nil {
					kill(ReasonCanceled)
				} else {
					kill(ReasonWall)
				}
				return
			case <-tick.C:
				if anon := anonResident(cmd.Process.Pid); anon > lim.Memory+watchdogSlack {
					kill(ReasonMemory)
					return
				}
			}
		}
	}()
	werr := writeRequest(stdin, env, req.Sets, req.Blob)
	stdin.Close()
	err = cmd.Wait()
	close(done)
	mu.Lock()
	why := killedFor
	mu.Unlock()
	if f := r.classify(req.Op, lim, cmd.ProcessState, err, why, stderr.Bytes()); f != nil {
		return f
	}
	if werr != nil {
		// The child exited cleanly without reading all its input.
		return r.failed(req.Op, failure(ReasonMalformed, errdefs.ErrInternal, "the check process did not read its request"), cmd.ProcessState)
	}
	var a answer
	if err := decodeAnswer(stdout.Bytes(), &a); err != nil {
		return r.failed(req.Op, failure(ReasonMalformed, errdefs.ErrInternal, "the check process answered malformed output"), cmd.ProcessState)
	}
	if a.Error != nil {
		return failure(ReasonError, classOf(a.Error.Class), "%s", clip(a.Error.Message))
	}
	if out != nil {
		if err := json.Unmarshal(a.Result, out); err != nil {
			return r.failed(req.Op, failure(ReasonMalformed, errdefs.ErrInternal, "the check process answered a malformed result"), cmd.ProcessState)
		}
	}
	return nil
}

// watchdogSlack lets RLIMIT_DATA, where it is set, stop the child first,
// with a clearer death; the watchdog is the limit where it cannot be set.
const watchdogSlack = 64 << 20

func (r *Runner) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

// classify says why a child that exited failed, or nil when it exited 0.
func (r *Runner) classify(op string, lim Limits, ps *os.ProcessState, waitErr error, killedFor string, stderr []byte) *Failure {
	switch killedFor {
	case ReasonCanceled:
		return r.failed(op, failure(ReasonCanceled, context.Canceled, "the check was cancelled"), ps)
	case ReasonWall:
		return r.failed(op, failure(ReasonWall, context.DeadlineExceeded, "the check process ran longer than its limit of %s", lim.Wall), ps)
	case ReasonMemory:
		return r.failed(op, failure(ReasonMemory, errdefs.ErrResourceExhausted, "the check process used more memory than its limit of %s", bytesText(lim.Memory)), ps)
	}
	if ps == nil {
		return r.failed(op, failure(ReasonCrash, errdefs.ErrInternal, "the check process could not be waited for"), ps)
	}
	if waitErr == nil && ps.Success() {
		return nil
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		sig := ws.Signal()
		if (sig == syscall.SIGKILL || sig == syscall.SIGXCPU) && ps.UserTime()+ps.SystemTime() >= lim.CPU-time.Second {
			return r.failed(op, failure(ReasonCPU, errdefs.ErrResourceExhausted, "the check process used more CPU time than its limit of %s", lim.CPU), ps)
		}
		return r.failed(op, failure(ReasonCrash, errdefs.ErrInternal, "the check process was killed by signal %d", int(sig)), ps)
	}
	if outOfMemory(stderr) {
		return r.failed(op, failure(ReasonMemory, errdefs.ErrResourceExhausted, "the check process ran out of memory (limit %s)", bytesText(lim.Memory)), ps)
	}
	return r.failed(op, failure(ReasonCrash, errdefs.ErrInternal, "the check process crashed (exit status %d)", ps.ExitCode()), ps)
}

// memoryDeaths are what the Go runtime writes when an allocation, a heap
// growth or a new thread's stack fails against RLIMIT_DATA: "fatal error:
// runtime: out of memory", mmap's ENOMEM ("cannot allocate memory",
// "errno=12") and a thread it could not start for want of memory. A larger
// binary starts more threads before a check allocates, so the limit is
// met in any of these places.
var memoryDeaths = [][]byte{
	[]byte("out of memory"),
	[]byte("cannot allocate memory"),
	[]byte("errno=12"),
	[]byte("failed to create new OS thread"),
	[]byte("pthread_create failed"),
}

// outOfMemory reports whether a child's error output says it died for
// want of memory.
func outOfMemory(stderr []byte) bool {
	for _, m := range memoryDeaths {
		if bytes.Contains(stderr, m) {
			return true
		}
	}
	return false
}

// failed logs a failed check process by its operation and the reason's
// fixed name only: its exit status, CPU time and memory are figures the
// content under review can set (a file built to spin for so long), and the
// daemon's log is read outside the review.
func (r *Runner) failed(op string, f *Failure, _ *os.ProcessState) *Failure {
	r.log().Warn("check process failed; the check fails closed", "op", op, "reason", f.Reason)
	return f
}

// childEnv is the child's environment: nothing of the daemon's (which may
// hold a Vault token), only what the Go runtime and coverage tooling read.
func childEnv() []string {
	env := []string{"GOTRACEBACK=single"}
	for _, k := range []string{"GOMAXPROCS", "GODEBUG", "GOCOVERDIR", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// writeRequest writes the envelope, the sets and the blob as frames.
func writeRequest(w io.Writer, env []byte, sets []*fingerprint.Set, blob []byte) error {
	if err := writeFrame(w, env); err != nil {
		return err
	}
	for _, s := range sets {
		v, rows := s.Len()
		n := uint64(setHeader + 8*(v+rows) + setTrailer)
		var hdr [8]byte
		binary.LittleEndian.PutUint64(hdr[:], n)
		if _, err := w.Write(hdr[:]); err != nil {
			return err
		}
		if m, err := s.WriteTo(w); err != nil {
			return err
		} else if uint64(m) != n {
			return fmt.Errorf("fingerprint set frame: wrote %d bytes, announced %d: %w", m, n, errdefs.ErrInternal)
		}
	}
	if blob != nil {
		return writeFrame(w, blob)
	}
	return nil
}

// The fixed parts of a fingerprint set in its binary format: the header
// (magic, version, flags, key ID, two counts) and the SHA-256 after it.
const (
	setHeader  = 8 + 4 + 4 + 8 + 8 + 8
	setTrailer = 32
)

func writeFrame(w io.Writer, p []byte) error {
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], uint64(len(p)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(p)
	return err
}

// decodeAnswer parses a child's standard output: exactly one answer
// object, nothing after it.
func decodeAnswer(data []byte, a *answer) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(a); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the answer: %w", errdefs.ErrInvalidArgument)
	}
	if a.Error == nil && len(a.Result) == 0 {
		return fmt.Errorf("an answer without a result or an error: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

// classes maps errdefs classes to the names on the wire, both ways.
var classes = []struct {
	name string
	err  error
}{
	{"invalid-argument", errdefs.ErrInvalidArgument},
	{"not-found", errdefs.ErrNotFound},
	{"failed-precondition", errdefs.ErrFailedPrecondition},
	{"resource-exhausted", errdefs.ErrResourceExhausted},
	{"not-implemented", errdefs.ErrNotImplemented},
	{"data-loss", errdefs.ErrDataLoss},
	{"unavailable", errdefs.ErrUnavailable},
	{"permission-denied", errdefs.ErrPermissionDenied},
}

func className(err error) string {
	for _, c := range classes {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	return "internal"
}

func classOf(name string) error {
	for _, c := range classes {
		if c.name == name {
			return c.err
		}
	}
	return errdefs.ErrInternal
}

func clip(s string) string {
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// anonResident returns the anonymous resident memory of process pid (its
// heap and stacks, not the files it maps), or 0 when it cannot be read.
func anonResident(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// limitWriter keeps at most n bytes and then fails the writes, which
// ends the child's answer as malformed.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, fmt.Errorf("check answer over %d bytes: %w", maxAnswer, errdefs.ErrResourceExhausted)
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}

// headWriter keeps the first max bytes written to it and discards the rest.
type headWriter struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (h *headWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room := h.max - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (h *headWriter) Bytes() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.b
}
