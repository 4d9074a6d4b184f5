package scan

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
)

// benchReport returns a scanner over the kinds of values the importer
// fingerprints (raw and masked resident IDs and phone numbers, names) and a
// log-like report of about size bytes, like the review benchmark's, with
// some of those values planted in it; it also returns how many it planted.
func benchReport(b *testing.B, size int) (*Scanner, []byte, int) {
	b.Helper()
	h := testHasher(b, 9)
	bld := fingerprint.NewBuilder()
	bld.SetKeyID(h.ID())
	r := rand.New(rand.NewPCG(7, 8))
	var ids, phones []string
	for range 2000 {
		id := fmt.Sprintf("%06d%04d%02d%02d%03d", 110101+r.IntN(9000)*10, 1950+r.IntN(60), 1+r.IntN(12), 1+r.IntN(28), r.IntN(1000))
		id += string("0123456789X"[r.IntN(11)])
		phone := fmt.Sprintf("1%d%d%08d", 3+r.IntN(6), r.IntN(10), r.IntN(100000000))
		given := []rune("伟芳娜秀英")
		name := string([]rune("王李张刘陈")[r.IntN(5)]) + string(given[r.IntN(5)])
		if r.IntN(2) == 0 {
			name += string(given[r.IntN(5)])
		}
		for _, v := range []string{id, id[:3] + "***********" + id[14:], phone, phone[:3] + "****" + phone[7:], name} {
			for _, x := range h.Value(v) {
				bld.AddValue(x)
			}
		}
		ids, phones = append(ids, id), append(phones, phone)
	}
	set, err := bld.Build()
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(h, []*fingerprint.Set{set})
	if err != nil {
		b.Fatal(err)
	}
	districts := []string{"Haidian", "Chaoyang", "Fengtai", "Dongcheng", "Xicheng", "Shijingshan", "Tongzhou", "Shunyi"}
	var buf bytes.Buffer
	planted := 0
	for i := 0; buf.Len() < size; i++ {
		fmt.Fprintf(&buf, "20%02d-%02d-%02d job step %d: district %s industry C%04d processed %d records, mean amount %.1f in %dms",
			18+r.IntN(6), 1+r.IntN(12), 1+r.IntN(28), i%1000, districts[r.IntN(len(districts))], r.IntN(20)*100+11,
			r.IntN(100000), r.Float64()*1e4, r.IntN(5000))
		if i%1000 == 0 {
			p := phones[r.IntN(len(phones))]
			switch i / 1000 % 3 {
			case 0:
				fmt.Fprintf(&buf, " contact %s", p)
			case 1:
				fmt.Fprintf(&buf, " contact %s-%s-%s", p[:3], p[3:7], p[7:])
			default:
				fmt.Fprintf(&buf, " owner id=%s", ids[r.IntN(len(ids))])
			}
			planted++
		}
		buf.WriteByte('\n')
	}
	return s, buf.Bytes(), planted
}

// BenchmarkTextReport measures TextScanner.Text on a log-like report, in
// chunks of 256 KiB as the raw-values check reads text files, with the
// class masks (as Text does) and a byte at a time (as Text does below
// minMaskText bytes) in the same run. Compare revisions by instruction
// counts or in the same run; the review package's BenchmarkScanText is the
// figure of record.
func BenchmarkTextReport(b *testing.B) {
	s, text, planted := benchReport(b, 8<<20)
	for _, bc := range []struct {
		name string
		scan func(st *textState, p []byte)
	}{
		{"masks", func(st *textState, p []byte) { s.textMasks(p, st) }},
		{"bytes", func(st *textState, p []byte) { s.scalarRun(p, 0, true, st) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				m := new(memo)
				hits := 0
				for p := text; len(p) > 0; {
					n := min(len(p), 256<<10)
					if n < len(p) {
						n = bytes.LastIndexByte(p[:n], '\n') + 1
					}
					st := textState{m: m}
					bc.scan(&st, p[:n])
					hits += st.hits
					p = p[n:]
				}
				if hits < planted {
					b.Fatalf("got %d hits, want at least %d", hits, planted)
				}
			}
		})
	}
}

// BenchmarkTextCJK measures TextScanner.Text on a report in Chinese, whose
// runs hold non-ASCII bytes and are scanned a byte at a time.
func BenchmarkTextCJK(b *testing.B) {
	s, _, _ := benchReport(b, 0)
	var buf bytes.Buffer
	for i := 0; buf.Len() < 4<<20; i++ {
		fmt.Fprintf(&buf, "%d年%d月，北京市海淀区第%d号企业处理了%d条记录，平均金额%d元，联系人：王芳。\n", 2018+i%6, 1+i%12, i%1000, i*7%100000, i%5000)
	}
	text := buf.Bytes()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		ts := s.NewText()
		for p := text; len(p) > 0; {
			n := min(len(p), 256<<10)
			if n < len(p) {
				n = bytes.LastIndexByte(p[:n], '\n') + 1
			}
			ts.Text(p[:n])
			p = p[n:]
		}
	}
}
