package storetime

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"codec", "2026-03-01T00:00:00.500000000Z", true},
		{"zero time", "0001-01-01T00:00:00.000000000Z", true},
		{"trimmed fraction", "2026-03-01T00:00:00.5Z", false},
		{"no fraction", "2026-03-01T00:00:00Z", false},
		{"offset", "2026-03-01T08:00:00.000000000+08:00", false},
		{"offset of the same width", "2026-03-01T00:00:00.00000+08:00", false},
		{"lower-case z", "2026-03-01T00:00:00.000000000z", false},
		{"space for T", "2026-03-01 00:00:00.000000000Z", false},
		{"day out of range", "2026-02-30T00:00:00.000000000Z", false},
		{"hour out of range", "2026-03-01T24:00:00.000000000Z", false},
		{"sign in the fraction", "2026-03-01T00:00:00.-00000000Z", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if !tc.ok {
				if !errdefs.IsDataLoss(err) {
					t.Fatalf("Parse(%q): got %v, %v; want a data-loss error", tc.in, got, err)
				}
				if tc.in != "" && strings.Contains(err.Error(), tc.in) {
					t.Errorf("the error quotes the stored text: %v", err)
				}
				return
			}
			if err != nil || Format(got) != tc.in || got.Location() != time.UTC {
				t.Fatalf("Parse(%q): got %v (%s), %v; want it back in UTC", tc.in, got, Format(got), err)
			}
		})
	}
}

func TestFormatIsUTCAndFixedWidth(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	for _, in := range []time.Time{
		time.Date(2026, 3, 1, 8, 0, 0, 500_000_000, cst),
		time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		{},
	} {
		s := Format(in)
		back, err := Parse(s)
		if len(s) != len(Layout) || err != nil || !back.Equal(in) || !strings.HasSuffix(s, "Z") {
			t.Errorf("Format(%v) = %q, parsed back %v, %v; want %d bytes in UTC that parse to the same instant", in, s, back, err, len(Layout))
		}
	}
	if got := Format(time.Date(2026, 3, 1, 8, 0, 0, 500_000_000, cst)); got != "2026-03-01T00:00:00.500000000Z" {
		t.Errorf("Format of 08:00:00.5 +08:00: got %q, want 2026-03-01T00:00:00.500000000Z", got)
	}
}

// TestTextOrderIsTimeOrder is the bug the codec fixes: the RFC 3339 text
// of times within one second, and a month's first instant, sort as the
// times do.
func TestTextOrderIsTimeOrder(t *testing.T) {
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	times := []time.Time{base.Add(-time.Nanosecond), base, base.Add(500 * time.Millisecond), base.Add(100 * time.Millisecond),
		base.Add(120 * time.Millisecond), base.Add(time.Second), base.Add(1_000_000_001)}
	texts := make([]string, len(times))
	for i, tm := range times {
		texts[i] = Format(tm)
	}
	sort.Strings(texts)
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	for i := range times {
		if texts[i] != Format(times[i]) {
			t.Fatalf("text order %v differs from time order at %d (%s)", texts, i, Format(times[i]))
		}
	}
	// The old layout did not: "...05.1Z" sorted after "...05.12Z".
	if a, b := base.Add(100*time.Millisecond).Format(time.RFC3339Nano), base.Add(120*time.Millisecond).Format(time.RFC3339Nano); a < b {
		t.Fatalf("RFC 3339 text %q sorts before %q: the premise of this test is gone", a, b)
	}
}

func TestColumnNamesWhere(t *testing.T) {
	_, err := Column("job", "j-1", "created_at", "2026-03-01T00:00:00Z")
	if !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), `job "j-1" created_at`) {
		t.Errorf("Column: got %v, want a data-loss error naming the job and the column", err)
	}
	if p, err := OptionalColumn("job", "j-1", "ended_at", ""); p != nil || err != nil {
		t.Errorf("OptionalColumn of an unset time: got %v, %v; want nil, nil", p, err)
	}
	if p, err := OptionalColumn("job", "j-1", "ended_at", "x"); p != nil || !errdefs.IsDataLoss(err) {
		t.Errorf("OptionalColumn of a bad time: got %v, %v; want a data-loss error", p, err)
	}
	if p, err := OptionalColumn("job", "j-1", "ended_at", "2026-03-01T00:00:00.000000001Z"); err != nil || p == nil || p.Nanosecond() != 1 {
		t.Errorf("OptionalColumn of a set time: got %v, %v", p, err)
	}
}

// FuzzParse: Parse accepts exactly the texts Format makes.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"2026-03-01T00:00:00.500000000Z", "2026-03-01T00:00:00.5Z", "2026-03-01T00:00:00Z", "", "0000-00-00T00:00:00.000000000Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := Parse(s)
		if err != nil {
			if !errdefs.IsDataLoss(err) {
				t.Fatalf("Parse(%q): error %v of another class", s, err)
			}
			return
		}
		if Format(tm) != s {
			t.Fatalf("Parse(%q) accepted text that Format writes as %q", s, Format(tm))
		}
	})
}

// FuzzOrder: text order is time order for any two instants of years 1-9999.
func FuzzOrder(f *testing.F) {
	f.Add(int64(1772323200), int64(100_000_000), int64(1772323200), int64(120_000_000))
	f.Add(int64(1772323199), int64(999_999_999), int64(1772323200), int64(500_000_000))
	f.Fuzz(func(t *testing.T, s1, n1, s2, n2 int64) {
		const lo, hi = -62135596800, 253402300799 // 0001-01-01 and 9999-12-31T23:59:59
		if s1 < lo || s1 > hi || s2 < lo || s2 > hi {
			return
		}
		a, b := time.Unix(s1, n1%1e9), time.Unix(s2, n2%1e9)
		if a.Year() < 1 || a.Year() > 9999 || b.Year() < 1 || b.Year() > 9999 {
			return
		}
		ta, tb := Format(a), Format(b)
		if (ta < tb) != a.Before(b) || (ta == tb) != a.Equal(b) {
			t.Fatalf("%v %s and %v %s: text order differs from time order", a, ta, b, tb)
		}
	})
}
