package scan

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

// Synthetic identifiers: a resident ID with a valid check digit, a mobile
// number and a name that belong to nobody.
const (
	testID    = "11010519491231002X"
	testPhone = "13812345678"
	testName  = "Zhang Sanfeng"
)

func testHasher(t testing.TB, seed byte) *fingerprint.Hasher {
	t.Helper()
	k := make([]byte, fingerprint.KeySize)
	for i := range k {
		k[i] = seed + byte(i)
	}
	h, err := fingerprint.NewHasher(k)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func testScanner(t testing.TB) *Scanner {
	t.Helper()
	h := testHasher(t, 1)
	b := fingerprint.NewBuilder()
	b.SetKeyID(h.ID())
	for _, v := range []string{testID, testPhone, testName, "张三丰"} {
		for _, x := range h.Value(v) {
			b.AddValue(x)
		}
	}
	b.AddRow(h.Row([]string{testName, testPhone, "Haidian"}))
	set, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(h, []*fingerprint.Set{nil, set})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNew(t *testing.T) {
	if _, err := New(nil, nil); !errdefs.IsInvalidArgument(err) {
		t.Errorf("nil hasher: got %v, want invalid argument", err)
	}
	h1, h2 := testHasher(t, 1), testHasher(t, 2)
	b := fingerprint.NewBuilder()
	b.SetKeyID(h1.ID())
	b.AddValue(1)
	set, _ := b.Build()
	if _, err := New(h2, []*fingerprint.Set{set}); !errdefs.IsFailedPrecondition(err) {
		t.Errorf("wrong key: got %v, want failed precondition", err)
	}
}

func TestValue(t *testing.T) {
	s := testScanner(t)
	for _, tc := range []struct {
		name string
		in   string
		want bool
	}{
		{"plain id", testID, true},
		{"lower id", strings.ToLower(testID), true},
		{"id digits only", testID[:17], true},
		{"phone with dashes", "138-1234-5678", true},
		{"phone with spaces", "138 1234 5678", true},
		{"name case and space", "zhangsanfeng", true},
		{"cjk name with space", "张 三丰", true},
		{"base64 phone", base64.StdEncoding.EncodeToString([]byte(testPhone)), true},
		{"raw url base64 id", base64.RawURLEncoding.EncodeToString([]byte(testID)), true},
		{"hex phone", hex.EncodeToString([]byte(testPhone)), true},
		{"upper hex name", strings.ToUpper(hex.EncodeToString([]byte(testName))), true},
		{"url escaped name", url.QueryEscape(testName), true},
		{"url escaped cjk", url.PathEscape("张三丰"), true},
		{"base64 of hex", base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString([]byte(testPhone)))), true},
		{"in a sentence", "call " + testPhone + " today", true},
		{"key value", "id=" + testID, true},
		{"full width phone", "１３８１２３４５６７８", true},
		{"other phone", "13912345678", false},
		{"partial phone", "1381234567", false},
		{"aggregate", "Haidian district: 1234 enterprises", false},
		{"empty", "", false},
		{"base64 of other", base64.StdEncoding.EncodeToString([]byte("nothing here")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Value(tc.in); got != tc.want {
				t.Errorf("Value: got %v, want %v", got, tc.want)
			}
			if got := s.Bytes([]byte(tc.in)); got != tc.want {
				t.Errorf("Bytes: got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestText(t *testing.T) {
	s := testScanner(t)
	for _, tc := range []struct {
		name string
		in   string
		want int
	}{
		{"clean", "district,count\nHaidian,120\nChaoyang,98\n", 0},
		{"csv row", "Haidian," + testPhone + ",x", 1},
		{"json", `{"name":"Zhang Sanfeng","n":3}`, 1},
		{"two values", testID + " and " + testPhone, 2},
		{"grouped id", "id 110105 19491231 002X end", 1},
		{"cjk punctuation", "姓名：张三丰，电话", 1},
		{"markdown table", "| " + testName + " | 12 |", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Text([]byte(tc.in)); got != tc.want {
				t.Errorf("got %d hits, want %d", got, tc.want)
			}
		})
	}
}

func TestRow(t *testing.T) {
	s := testScanner(t)
	if got := s.Row([]string{"haidian", testPhone, testName}); got != 1 {
		t.Errorf("copied row: got input %d, want 1", got)
	}
	if got := s.Row([]string{"haidian", testPhone}); got != -1 {
		t.Errorf("partial row: got input %d, want -1", got)
	}
	if !s.HasRows() {
		t.Errorf("HasRows: got false, want true")
	}
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

func TestScanText(t *testing.T) {
	s := testScanner(t)
	in := "starting job\nloaded 1000 rows\nfirst: " + testPhone + "\n" + strings.Repeat("a", MaxLine+10) + "\ndone " + base64.StdEncoding.EncodeToString([]byte(testID)) + "\nbye"
	got, err := s.ScanText(context.Background(), strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("withheld: got %v, want %v", got, want)
	}
	if _, err := s.ScanText(context.Background(), failReader{}); err == nil {
		t.Errorf("failing reader: got nil error, want one")
	}
}

func FuzzText(f *testing.F) {
	f.Add([]byte("id 110105 19491231 002X"))
	f.Add([]byte("%E5%BC%A0 MTM4MTIzNDU2Nzg= \xff\xfe"))
	s := testScanner(f)
	f.Fuzz(func(t *testing.T, p []byte) {
		n := s.Text(p)
		if n < 0 {
			t.Fatalf("got %d hits", n)
		}
		// A value appended after a separator is always found.
		if s.Text(append(append(p, '\n'), testPhone...)) < 1 {
			t.Errorf("value after a newline not found")
		}
	})
}

func TestTextScannerMemo(t *testing.T) {
	s := testScanner(t)
	ts := s.NewText()
	for _, line := range []string{
		"Zhang Sanfeng called " + testPhone,
		"district Haidian 120",
		"Zhang Sanfeng called " + testPhone,
		"again Zhang Sanfeng",
	} {
		want := s.Text([]byte(line))
		for _, cell := range []string{testPhone, "Haidian", "zhangsanfeng"} {
			for i := range 2 {
				if got, want := ts.Value(cell), s.Value(cell); got != want {
					t.Errorf("Value(%q) pass %d: got %v with the memo, want %v", cell, i, got, want)
				}
			}
		}
		for i := range 2 {
			if got := ts.Text([]byte(line)); got != want {
				t.Errorf("%q pass %d: got %d hits with the memo, want %d", line, i, got, want)
			}
		}
	}
}

// TestIntRange compares IntRange with a reference that intersects [lo, hi]
// with the values of each decimal length and sign, and checks that a value
// of the test phone number's range is found while a range of small counts
// is refused.
func TestIntRange(t *testing.T) {
	s := testScanner(t)
	pow := func(n int) int64 { // 10^n, n <= 18
		p := int64(1)
		for range n {
			p *= 10
		}
		return p
	}
	ref := func(lo, hi int64) bool {
		for n := 1; n <= 19; n++ {
			// Non-negative values of n digits: [10^(n-1), 10^n-1], [0, 9] for n = 1.
			a, b := int64(0), int64(math.MaxInt64)
			if n > 1 {
				a = pow(n - 1)
			}
			if n < 19 {
				b = pow(n) - 1
			}
			if max(lo, a) <= min(hi, b) && s.decimalLen(n, false) {
				return true
			}
			// Negative values of n digits: [-(10^n-1), -10^(n-1)], [-9, -1] for n = 1.
			na, nb := int64(math.MinInt64), int64(-1)
			if n < 19 {
				na = -(pow(n) - 1)
			}
			if n > 1 {
				nb = -pow(n - 1)
			}
			if max(lo, na) <= min(hi, nb) && s.decimalLen(n, true) {
				return true
			}
		}
		return false
	}
	edges := []int64{math.MinInt64, math.MinInt64 + 1, -99999999999, -10000000000, -9999999999, -1, 0, 1, 9, 10,
		999999, 1000000, 9999999999, 10000000000, 13812345678, 99999999999, 100000000000, math.MaxInt64}
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		edges = append(edges, r.Int64()>>r.IntN(63), -(r.Int64() >> r.IntN(63)))
	}
	for i, lo := range edges {
		for _, hi := range edges[max(0, i-40):min(len(edges), i+40)] {
			if got, want := s.IntRange(lo, hi), ref(lo, hi); got != want {
				t.Fatalf("IntRange(%d, %d): got %v, want %v", lo, hi, got, want)
			}
		}
	}
	if !s.IntRange(100, 99999999999) || !s.Int(13812345678) {
		t.Error("a range holding the phone number's length: got refused, want possible")
	}
	if s.IntRange(100, 599) {
		t.Error("counts of three digits: got possible, want refused")
	}
}
