package services

import (
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"", DefaultRatePerMin, true},
		{"600/m", 600, true},
		{"600", 600, true},
		{"10/s", 600, true},
		{"3/min", 3, true},
		{"0/m", 0, false},
		{"-1/m", 0, false},
		{"1.5/m", 0, false},
		{"10/h", 0, false},
		{"+10/m", 0, false},
		{"010/m", 0, false},
		{"10000001/m", 0, false},
		{"200000/s", 0, false},
	} {
		got, err := ParseRate(tc.in)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("ParseRate(%q): got %d %v, want %d", tc.in, got, err, tc.want)
		}
		if !tc.ok && !errdefs.IsInvalidArgument(err) {
			t.Errorf("ParseRate(%q): got %d %v, want an invalid-argument error", tc.in, got, err)
		}
	}
}

// FuzzParseRate: a rate is read from outside input; whatever it is, the
// answer is a rate within bounds or an invalid-argument error.
func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"", "600/m", "10/s", "3/min", "x", "1/", "/m", "99999999999999999999/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseRate(s)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("ParseRate(%q): error %v is not invalid-argument", s, err)
			}
			return
		}
		if n < 1 || n > MaxRatePerMin {
			t.Fatalf("ParseRate(%q) = %d, out of bounds", s, n)
		}
	})
}

func TestOneToOne(t *testing.T) {
	for rule, want := range map[string]bool{
		"keep": true, "hash{hmac-sha256:pseudonym}": true,
		"mask{keep_first:3,keep_last:4,char:*}": false, "mask{as:identity}": false, "truncate{len:4}": false,
		"generalize{bucket:10000}": false, "generalize{date:month}": false, "noise{laplace:{epsilon:1,sensitivity:1}}": false,
		"suppress": false, "": false, "keeper": false, "hashish": false,
	} {
		if got := OneToOne(rule); got != want {
			t.Errorf("OneToOne(%q) = %v, want %v", rule, got, want)
		}
	}
}

func TestNeeded(t *testing.T) {
	for _, tc := range []struct {
		level, market string
		want          int
	}{
		{"general-1", "ordinary", 1}, {"general-2", "ordinary", 1}, {"general-3", "ordinary", 2}, {"important", "ordinary", 2},
		{"general-1", "authorized", 2}, {"nonsense", "ordinary", 2},
	} {
		s := Service{Level: tc.level, Market: tc.market}
		if got := s.Needed(); got != tc.want {
			t.Errorf("%s/%s: got %d approvals, want %d", tc.level, tc.market, got, tc.want)
		}
	}
}

func TestBucket(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	b := &bucket{tokens: 3, at: t0}
	for i := 0; i < 3; i++ {
		if _, ok := b.take(t0, 3, 1); !ok {
			t.Fatalf("call %d refused within the minute's allowance", i)
		}
	}
	wait, ok := b.take(t0, 3, 1)
	if ok || wait != 20*time.Second {
		t.Fatalf("4th call: got %v %v, want refused with a wait of 20s", ok, wait)
	}
	if _, ok := b.take(t0.Add(20*time.Second), 3, 1); !ok {
		t.Fatal("after the wait: refused")
	}
	if _, ok := b.take(t0.Add(20*time.Second), 3, 2); ok {
		t.Fatal("a batch larger than what is left: admitted")
	}
	// Idle for an hour: at most a minute's calls are banked.
	b.take(t0.Add(time.Hour), 3, 0)
	if b.tokens != 3 {
		t.Fatalf("banked %v calls, want at most 3", b.tokens)
	}
}

// FuzzCheckRequest: a call's key and claims are outside input; a refusal
// is an invalid-argument error that never repeats the values sent.
func FuzzCheckRequest(f *testing.F) {
	f.Add("91990104A6N74W818W", "legal_rep_id", "32058319900101007X")
	f.Add("", "x", "y")
	f.Add(strings.Repeat("k", 300), "legal_rep_id", "v")
	s := &Service{Name: "firms", Match: []string{"legal_rep_id"}}
	f.Fuzz(func(t *testing.T, key, col, val string) {
		err := s.CheckRequest(Request{Key: key, Claims: map[string]string{col: val}})
		if err == nil {
			return
		}
		if !errdefs.IsInvalidArgument(err) {
			t.Fatalf("error %v is not invalid-argument", err)
		}
		for _, v := range []string{key, val} {
			if len(v) >= 8 && strings.Contains(err.Error(), v) && !strings.Contains(col, v) { // the column's name may be named
				t.Fatalf("error %q repeats a value sent", err)
			}
		}
	})
}
