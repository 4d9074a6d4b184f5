package procmem

import "testing"

// TestPeakRSSGrows: the peak follows what this process touched: it is at
// least the 64 MiB just written, read from the process's own status.
func TestPeakRSSGrows(t *testing.T) {
	before, err := PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = byte(i)
	}
	after, err := PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	if after < 64<<20 || after < before {
		t.Fatalf("peak %d MiB before and %d MiB after touching 64 MiB; want at least 64 MiB and not less", before>>20, after>>20)
	}
	_ = b[len(b)-1]
}

func TestParseHWM(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"Name:\tx\nVmHWM:\t  12345 kB\nVmRSS:\t1 kB\n", 12345 << 10, true},
		{"VmRSS:\t1 kB\n", 0, false},
		{"VmHWM:\tmany kB\n", 0, false},
		{"VmHWM:\t0 kB\n", 0, false},
	} {
		got, err := parseHWM(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseHWM(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
