package checker

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

// Input is what an operation receives in the child.
type Input struct {
	// Payload is the request's payload as JSON.
	Payload json.RawMessage
	// Secret is the request's secret (the fingerprint key), or nil.
	Secret []byte
	// Sets are the request's fingerprint sets, in order.
	Sets []*fingerprint.Set
	// Blob is the request's blob, or nil.
	Blob []byte
}

// Op is one operation a child serves. Its result is marshalled to JSON; an
// error goes back with its errdefs class and message (which, like every
// error here, holds no data value).
type Op func(ctx context.Context, in *Input) (any, error)

// Ops are the operations a child serves, by name.
type Ops map[string]Op

// maxFrame bounds one frame of a request: the envelope, a set or the blob.
const maxFrame = 1 << 34

// Serve is the child: it applies the limits in args (as Limits.args
// writes them) before it reads anything, reads one request from stdin,
// runs its operation and writes the answer to stdout. It returns the
// process's exit status: 0 when an answer was written (an operation's
// error is an answer too), 2 for bad arguments, 1 otherwise.
func Serve(args []string, stdin io.Reader, stdout io.Writer, ops Ops) int {
	fs := flag.NewFlagSet(ChildCommand, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	mem := fs.Int64("memory", 0, "")
	cpu := fs.Int64("cpu", 0, "")
	fsize := fs.Int64("file-size", 0, "")
	if err := fs.Parse(args); err != nil || *mem <= 0 || *cpu <= 0 || *fsize <= 0 || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: enclaved "+ChildCommand+" -memory BYTES -cpu SECONDS -file-size BYTES (started by the daemon)")
		return 2
	}
	if err := applyLimits(*mem, *cpu, *fsize); err != nil {
		fmt.Fprintln(os.Stderr, "check process: set limits:", err)
		return 1
	}
	// Collect early near the limit rather than die of it.
	debug.SetMemoryLimit(*mem / 4 * 3)
	a := serveOne(context.Background(), bufio.NewReaderSize(stdin, 1<<20), ops)
	data, err := json.Marshal(a)
	if err != nil {
		return 1
	}
	if _, err := stdout.Write(data); err != nil {
		return 1
	}
	return 0
}

func serveOne(ctx context.Context, r io.Reader, ops Ops) answer {
	fail := func(err error) answer {
		return answer{Error: &answerError{Class: className(err), Message: clip(err.Error())}}
	}
	head, err := readFrame(r, 64<<20)
	if err != nil {
		return fail(err)
	}
	var env envelope
	if err := json.Unmarshal(head, &env); err != nil {
		return fail(fmt.Errorf("check request envelope: %w", errdefs.ErrInvalidArgument))
	}
	op, ok := ops[env.Op]
	if !ok {
		return fail(fmt.Errorf("check operation %q is unknown: %w", env.Op, errdefs.ErrNotImplemented))
	}
	in := &Input{Payload: env.Payload, Secret: env.Secret}
	for i := 0; i < env.Sets; i++ {
		n, err := frameLen(r)
		if err != nil {
			return fail(err)
		}
		set, err := fingerprint.ReadSet(io.LimitReader(r, int64(n)))
		if err != nil {
			return fail(fmt.Errorf("fingerprint set %d: %w", i, err))
		}
		in.Sets = append(in.Sets, set)
	}
	if env.Blob {
		if in.Blob, err = readFrame(r, maxFrame); err != nil {
			return fail(err)
		}
	}
	res, err := op(ctx, in)
	if err != nil {
		return fail(err)
	}
	data, err := json.Marshal(res)
	if err != nil {
		return fail(fmt.Errorf("check result: %w", errdefs.ErrInternal))
	}
	return answer{Result: data}
}

func frameLen(r io.Reader) (uint64, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, fmt.Errorf("check request truncated: %w", errdefs.ErrInvalidArgument)
	}
	n := binary.LittleEndian.Uint64(hdr[:])
	if n > maxFrame {
		return 0, fmt.Errorf("check request frame of %d bytes: %w", n, errdefs.ErrInvalidArgument)
	}
	return n, nil
}

func readFrame(r io.Reader, max uint64) ([]byte, error) {
	n, err := frameLen(r)
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, fmt.Errorf("check request frame of %d bytes: %w", n, errdefs.ErrInvalidArgument)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("check request truncated: %w", errdefs.ErrInvalidArgument)
	}
	return b, nil
}

// applyLimits sets the child's resource limits: CPU time, file size, no
// core dump (it would hold the secret), and its private writable memory
// (RLIMIT_DATA) at what it holds now plus mem. Under the race detector,
// whose shadow memory RLIMIT_DATA would count, the parent's watchdog alone
// limits memory.
func applyLimits(mem, cpu, fsize int64) error {
	set := func(res int, v uint64) error {
		return syscall.Setrlimit(res, &syscall.Rlimit{Cur: v, Max: v})
	}
	if err := set(syscall.RLIMIT_CPU, uint64(cpu)); err != nil {
		return fmt.Errorf("RLIMIT_CPU: %w", err)
	}
	if err := set(syscall.RLIMIT_FSIZE, uint64(fsize)); err != nil {
		return fmt.Errorf("RLIMIT_FSIZE: %w", err)
	}
	if err := set(syscall.RLIMIT_CORE, 0); err != nil {
		return fmt.Errorf("RLIMIT_CORE: %w", err)
	}
	if raceEnabled {
		return nil
	}
	data, err := dataNow()
	if err != nil {
		return err
	}
	if err := set(syscall.RLIMIT_DATA, uint64(data+mem)); err != nil {
		return fmt.Errorf("RLIMIT_DATA: %w", err)
	}
	return nil
}

// dataNow returns the process's data and stack size (the sixth field of
// /proc/self/statm), in bytes.
func dataNow() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 6 {
		return 0, errors.New("/proc/self/statm: too few fields")
	}
	pages, err := strconv.ParseInt(f[5], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/self/statm: %w", err)
	}
	return pages * int64(os.Getpagesize()), nil
}
