package audit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashDirEnv = "ENCLAVE_AUDIT_CRASH_DIR"

// TestCrashChild is the child half of TestCrashKill9: with the environment
// variable set it opens the log, runs 32 writers forever and prints
// "ack INDEX WRITER SEQ" for every acknowledged append.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("child process of TestCrashKill9 only")
	}
	s, pub := newSigner(1)
	l, err := Open(dir, s, pub, WithSegmentSize(32<<10))
	if err != nil {
		fmt.Printf("open error %v\n", err)
		os.Exit(3)
	}
	fmt.Printf("ready %d\n", l.Size())
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; ; seq++ {
				ev := crashEvent(w, seq)
				idx, err := l.Append(context.Background(), ev)
				if err != nil {
					fmt.Printf("append error %v\n", err)
					os.Exit(4)
				}
				mu.Lock()
				fmt.Printf("ack %d %d %d\n", idx, w, seq)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func crashEvent(w, seq int) Event {
	return Event{
		Actor: fmt.Sprintf("p_w%02d", w), Org: "acme", Action: "job.run", Outcome: OutcomeOK,
		Objects: []string{fmt.Sprintf("job:j_%d_%d", w, seq)},
		Details: map[string]string{"writer": strconv.Itoa(w), "seq": strconv.Itoa(seq)},
	}
}

// TestCrashKill9 kills a process with 32 concurrent writers with SIGKILL in
// mid-flight, three times over the same directory, and checks after each
// kill that every acknowledged append is in the reopened log and that
// Verify passes.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	dir := t.TempDir()
	_, pub := newSigner(1)
	acked := map[uint64][2]int{}
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		deadline := time.Now().Add(20 * time.Second)
		killAt := 1500 + round*700
		killed := false
		for sc.Scan() {
			line := sc.Text()
			f := strings.Fields(line)
			switch {
			case len(f) == 4 && f[0] == "ack":
				idx, _ := strconv.ParseUint(f[1], 10, 64)
				w, _ := strconv.Atoi(f[2])
				seq, _ := strconv.Atoi(f[3])
				if prev, dup := acked[idx]; dup {
					t.Fatalf("round %d: index %d acknowledged twice (%v and %d %d)", round, idx, prev, w, seq)
				}
				acked[idx] = [2]int{w, seq}
				n++
			case len(f) >= 1 && (f[0] == "ready" || f[0] == "PASS" || f[0] == "ok"):
			default:
				t.Fatalf("round %d: child said %q", round, line)
			}
			if !killed && (n >= killAt || time.Now().After(deadline)) {
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		err = cmd.Wait()
		if !killed || err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("round %d: child ended with %v after %d acks, want killed by us", round, err, n)
		}

		rep, err := VerifyDir(context.Background(), dir, pub)
		if err != nil || !rep.OK {
			t.Fatalf("round %d: VerifyDir after kill: got %+v, %v; want OK", round, rep, err)
		}
		l, _, _ := openTest(t, dir, WithSegmentSize(32<<10))
		size := l.Size()
		entries, err := l.List(context.Background(), Filter{})
		if err != nil {
			t.Fatalf("round %d: List: %v", round, err)
		}
		byIndex := map[uint64]Event{}
		for _, e := range entries {
			byIndex[e.Index] = e.Event
		}
		for idx, ws := range acked {
			ev, ok := byIndex[idx]
			if !ok {
				t.Fatalf("round %d: acknowledged entry %d is missing (log size %d)", round, idx, size)
			}
			if ev.Details["writer"] != strconv.Itoa(ws[0]) || ev.Details["seq"] != strconv.Itoa(ws[1]) {
				t.Fatalf("round %d: entry %d: got writer %s seq %s, want %d %d", round, idx, ev.Details["writer"], ev.Details["seq"], ws[0], ws[1])
			}
		}
		rep, err = l.Verify(context.Background())
		if err != nil || !rep.OK {
			t.Fatalf("round %d: Verify after reopen: got %+v, %v; want OK", round, rep, err)
		}
		l.Close()
		t.Logf("round %d: %d acknowledged before the kill, log size %d", round, n, size)
	}
}
