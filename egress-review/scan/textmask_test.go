package scan

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// compareMasks checks that textMasks, with sections of several sizes and
// with and without a memo, counts the hits that scalarRun counts, and that
// the unfiltered reference algorithm counts, in p.
func compareMasks(t *testing.T, fast, ref *Scanner, p []byte) {
	t.Helper()
	var st textState
	fast.scalarRun(p, 0, true, &st)
	want := st.hits
	if r := refText(ref, p); r != want {
		t.Fatalf("scalarRun counts %d hits in %q, the reference algorithm %d", want, p, r)
	}
	avx2, asm := haveAVX2, useTokenRunsAMD64
	defer func() { haveAVX2, useTokenRunsAMD64 = avx2, asm }()
	for _, native := range []bool{true, false} {
		// With the assembly where there is (haveAVX2 as found), and in Go.
		haveAVX2, useTokenRunsAMD64 = avx2 && native, asm && native
		for _, blocks := range []int{1, 2, 3, sectionBlocks} {
			for _, m := range []*memo{nil, new(memo)} {
				for round := range 2 { // the second round answers from the memo
					st := textState{m: m, blocks: blocks}
					fast.textMasks(p, &st)
					if st.hits != want {
						t.Fatalf("textMasks (assembly %v, %d blocks a section, memo %v, round %d) of %q: got %d hits, want %d",
							haveAVX2, blocks, m != nil, round, p, st.hits, want)
					}
				}
			}
		}
	}
}

// maskPlanted are input values whose lengths make many tokens and pairs of
// a text worth a look, and values that windows of groups find.
const maskPlanted = "13812345678|11010519491231002X|zhang san|ab12|138 1234|9 8|a.b|x=1234567|张三|12 34 56 78|1|ab"

// maskPieces are the pieces the texts of TestTextMasks are made of.
var maskPieces = []string{
	"13812345678", "138", "1234", "5678", "138-1234-5678", "110105", "19491231", "002X", "002x",
	"11010519491231002X", "MTM4MTIzNDU2Nzg=", "3133383132333435363738", "id%3D13812345678",
	"zhang", "San", "ZHANG", "ab", "12", "ab12", "9", "8", "x", "X", "a.b", "x=1234567", "=abcd=",
	"张三", "张", "三", "１３８", "\xff", "\x00", "é", "district", "industry", "processed", "2021-03-15",
	"1234.5", "123ms", "verylongtokenwithoutanyspaceatall0123456789abcdef",
}

var maskSeps = []string{" ", " ", " ", "  ", "\t", " \t ", ",", ", ", "\n", ": ", "\u3000", "，", " ，", "|", "(", ""}

// maskText returns a text of about n bytes of pieces and separators.
func maskText(r *rand.Rand, n int) []byte {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(maskPieces[r.IntN(len(maskPieces))])
		b.WriteString(maskSeps[r.IntN(len(maskSeps))])
	}
	return []byte(b.String())
}

func TestTextMasks(t *testing.T) {
	fast, ref := diffScanners(t, maskPlanted)
	r := rand.New(rand.NewPCG(11, 12))
	for i := range 400 {
		n := []int{10, 63, 64, 65, 100, 200, 500, 1500, 5000}[i%9]
		compareMasks(t, fast, ref, maskText(r, n))
	}
	// A token longer than a section, and runs across section ends.
	long := strings.Repeat("a", 3*sectionBytes+5)
	for _, p := range []string{
		long, long + " 13812345678", "13812345678 " + long, "138 " + long + " 5678",
		strings.Repeat("138 1234 5678 ", 400), strings.Repeat("张三 ", 1000), strings.Repeat("x", 63) + " 13812345678",
	} {
		compareMasks(t, fast, ref, []byte(p))
	}
}

func FuzzTextMasks(f *testing.F) {
	r := rand.New(rand.NewPCG(13, 14))
	for range 8 {
		f.Add(maskText(r, 300), maskPlanted)
	}
	f.Add([]byte(strings.Repeat("138 1234 5678\t", 20)), "13812345678")
	f.Fuzz(func(t *testing.T, p []byte, planted string) {
		if len(p) > 8192 || len(planted) > 512 {
			return
		}
		fast, ref := diffScanners(t, planted)
		compareMasks(t, fast, ref, p)
		checkTokenRuns(t, fast, p)
	})
}
