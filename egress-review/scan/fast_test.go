package scan

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

// diffScanners returns a scanner over the values of planted (separated by
// "|") and the rows of planted's fields split at ",", and its unfiltered
// twin.
func diffScanners(t testing.TB, planted string) (fast, ref *Scanner) {
	t.Helper()
	h := testHasher(t, 3)
	b := fingerprint.NewBuilder()
	b.SetKeyID(h.ID())
	for _, v := range strings.Split(planted, "|") {
		for _, x := range h.Value(v) {
			b.AddValue(x)
		}
		b.AddRow(h.Row(strings.Split(v, ",")))
	}
	set, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	fast, err = New(h, []*fingerprint.Set{set})
	if err != nil {
		t.Fatal(err)
	}
	return fast, fast.Unfiltered()
}

// compareFastPath checks every entry point of the filtered scanner (and of
// its memo) against the unfiltered scanner on data.
func compareFastPath(t *testing.T, fast, ref *Scanner, data string) {
	t.Helper()
	ts := fast.NewText()
	for range 2 { // the second round answers from the memo
		if got, want := ts.Value(data), ref.Value(data); got != want {
			t.Errorf("TextScanner.Value(%q): got %v, want %v", data, got, want)
		}
		if got, want := ts.Text([]byte(data)), ref.Text([]byte(data)); got != want {
			t.Errorf("TextScanner.Text(%q): got %d, want %d", data, got, want)
		}
		if got, want := ts.Text([]byte(data)), refText(ref, []byte(data)); got != want {
			t.Errorf("TextScanner.Text(%q): got %d, want %d from the reference algorithm", data, got, want)
		}
	}
	if got, want := fast.Bytes([]byte(data)), ref.Bytes([]byte(data)); got != want {
		t.Errorf("Bytes(%q): got %v, want %v", data, got, want)
	}
	if got, want := fast.Plain([]byte(data)), ref.Plain([]byte(data)); got != want {
		t.Errorf("Plain(%q): got %v, want %v", data, got, want)
	}
	if got, want := fast.Row(strings.Split(data, ",")), ref.Row(strings.Split(data, ",")); got != want {
		t.Errorf("Row(%q): got %d, want %d", data, got, want)
	}
	// Numbers: the fast paths against the formatted forms.
	if i, err := strconv.ParseInt(strings.TrimSpace(data), 10, 64); err == nil {
		want := ref.Plain(strconv.AppendInt(nil, i, 10))
		if got := fast.Int(i); got != want {
			t.Errorf("Int(%d): got %v, want %v", i, got, want)
		}
		if i >= 0 {
			if got := fast.Uint(uint64(i)); got != want {
				t.Errorf("Uint(%d): got %v, want %v", i, got, want)
			}
		}
	}
	if f, err := strconv.ParseFloat(strings.TrimSpace(data), 64); err == nil {
		want := ref.Plain(strconv.AppendFloat(nil, f, 'g', -1, 64))
		if f == math.Trunc(f) && math.Abs(f) < 1e18 {
			want = want || ref.Plain(strconv.AppendInt(nil, int64(f), 10))
		}
		if got := fast.Float(f); got != want {
			t.Errorf("Float(%v): got %v, want %v", f, got, want)
		}
	}
}

var fastPathCases = []struct{ data, planted string }{
	{"13812345678", "13812345678"},
	{"138 1234 5678", "13812345678"},
	{"１３８１２３４５６７８", "13812345678"},
	{"Tel: 138-1234-5678.", "13812345678"},
	{"ZHANG SAN", "zhang san"},
	{"zhang\tSan lives here", "Zhang San"},
	{"张 三", "张三"},
	{"张\xff三", "张\xff三"},
	{"\xff\xfe13812345678", "13812345678"},
	{"MTM4MTIzNDU2Nzg=", "13812345678"},
	{"3133383132333435363738", "13812345678"},
	{"id%3D13812345678", "13812345678"},
	{"-123456", "123456"},
	{"-123456", "-123456"},
	{"123456.78", "12345678"},
	{"123456.78", "123456.78"},
	{"0.05", "005"},
	{"1.3812345678e+10", "13812345678"},
	{"13812345678", "1.3812345678e+10"},
	{"a,b,c", "a,b,c"},
	{"c,a,b", "a,b,c"},
	{"Haidian", "haidian"},
	{"2021-07", "202107"},
	{"110105 19491231 002X", "11010519491231002X"},
	{"owner id=11010519491231002X ok", "11010519491231002x"},
	{"x 123456-7 y", "123456"},
	{"x 1234-567 y", "1234567"},
	{"=abcd= a.b @ab.c", "abcd="},
	{"=abcd= a.b @ab.c", "a.b"},
	{"=abcd= a.b @ab.c", "ab.c"},
	{"p 12345.6 q", "123456"},
	{"p 12345.6 q", "12345.6"},
}

func TestFastPathMatchesUnfiltered(t *testing.T) {
	for _, tc := range fastPathCases {
		t.Run(tc.data+"/"+tc.planted, func(t *testing.T) {
			fast, ref := diffScanners(t, tc.planted)
			compareFastPath(t, fast, ref, tc.data)
		})
	}
}

func FuzzFastPath(f *testing.F) {
	for _, tc := range fastPathCases {
		f.Add(tc.data, tc.planted)
	}
	f.Fuzz(func(t *testing.T, data, planted string) {
		if len(data) > 4096 || len(planted) > 4096 {
			return
		}
		fast, ref := diffScanners(t, planted)
		compareFastPath(t, fast, ref, data)
		// Each planted value is also looked for inside data.
		for _, v := range strings.Split(planted, "|") {
			compareFastPath(t, fast, ref, data+" "+v+" "+data)
		}
	})
}

// TestASCIICould checks the word arithmetic of asciiCould against Tags.
func TestASCIICould(t *testing.T) {
	var tags fingerprint.Tags
	for _, tg := range []int{fingerprint.ValueTag(fingerprint.KindMixed, 11), fingerprint.ValueTag(fingerprint.KindDigits, 6),
		fingerprint.ValueTag(fingerprint.KindDigits, 63), fingerprint.ValueTag(fingerprint.KindMixed, 63), fingerprint.ValueTag(fingerprint.KindOther, 7)} {
		tags.Add(tg)
	}
	s := &Scanner{tags: tags}
	for n := 0; n < 100; n++ {
		for d := 0; d <= n; d++ {
			kind := fingerprint.KindMixed
			if d == n {
				kind = fingerprint.KindDigits
			}
			want := tags.Has(fingerprint.ValueTag(kind, n)) ||
				(d >= fingerprint.MinDigits && d != n && tags.Has(fingerprint.ValueTag(fingerprint.KindDigits, d)))
			if got := s.asciiCould(n, d); got != want {
				t.Fatalf("asciiCould(%d, %d): got %v, want %v", n, d, got, want)
			}
		}
	}
}

// TestValueSplitsSingleTokens checks that cells that are one token with
// inner punctuation are split as text tokens are.
func TestValueSplitsSingleTokens(t *testing.T) {
	for _, tc := range []struct {
		cell, planted string
		want          bool
	}{
		{"zhang.san@example.com", "zhang", true},
		{"zhang.san@example.com", "example", true},
		{"zhang.san@example.com", "zhangsan", false},
		{"ab.cd", "cd", true},
		{"ab.cd", "abcd", false},
		{"user_138123", "138123", true},
		{"x=12345", "12345", true},
		{"-abc", "abc", true},
		{"abc", "ab", false},
	} {
		t.Run(tc.cell+"/"+tc.planted, func(t *testing.T) {
			fast, ref := diffScanners(t, tc.planted)
			for name, got := range map[string]bool{
				"Value":            fast.Value(tc.cell),
				"Bytes":            fast.Bytes([]byte(tc.cell)),
				"TextScanner":      fast.NewText().Value(tc.cell),
				"unfiltered Value": ref.Value(tc.cell),
			} {
				if got != tc.want {
					t.Errorf("%s(%q) with %q planted: got %v, want %v", name, tc.cell, tc.planted, got, tc.want)
				}
			}
		})
	}
}
