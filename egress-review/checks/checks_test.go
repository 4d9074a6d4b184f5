package checks

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/containerd/errdefs"
	review "github.com/enclave-dev/enclave/egress-review"
)

func TestDisclosure(t *testing.T) {
	meta := marksMeta("general-3", "authorized")
	for _, tc := range []struct {
		name   string
		meta   map[string]string
		cols   []col
		want   review.Verdict
		count  int
		column string
	}{
		{"counts at threshold", meta, []col{{name: "n", stat: "count", vals: []int64{10, 11}}}, review.VerdictPass, 0, ""},
		{"count by name", meta, []col{{name: "enterprise_count", vals: []int64{10, 9, 2}}}, review.VerdictFail, 2, "enterprise_count"},
		{"float counts", meta, []col{{name: "freq", vals: []float64{9.5, 30}}}, review.VerdictFail, 1, "freq"},
		{"zero flagged", meta, []col{{name: "n", vals: []int64{0, 40}}}, review.VerdictReview, 1, "n"},
		{"negative", meta, []col{{name: "n", vals: []int64{-1, 40}}}, review.VerdictFail, 1, "n"},
		{"not a count", meta, []col{{name: "amount", vals: []int64{1, 2}}}, review.VerdictPass, 0, ""},
		{"nk dominance", meta, []col{
			{name: "n", stat: "count", vals: []int64{20, 20}},
			{name: "total", stat: "sum", vals: []float64{1000, 1000}},
			{name: "largest", stat: "top1", vals: []float64{800, 300}},
			{name: "second", stat: "top2", vals: []float64{150, 200}},
		}, review.VerdictFail, 1, ""},
		{"p ratio", meta, []col{
			{name: "n", stat: "count", vals: []int64{20}},
			{name: "total", stat: "sum", vals: []float64{1000}},
			{name: "largest", stat: "top1", vals: []float64{600}},
			{name: "second", stat: "top2", vals: []float64{380}},
		}, review.VerdictFail, 1, ""},
		{"magnitude without count", meta, []col{{name: "total", stat: "sum", vals: []float64{1000}}}, review.VerdictReview, 0, ""},
		{"model dof low", map[string]string{MarkLevel: "general-3", MarkMarket: "authorized", MarkStat: "model", MarkDoF: "7"},
			[]col{{name: "coef", vals: []float64{0.5}}}, review.VerdictFail, 1, ""},
		{"model dof column", meta, []col{{name: "coef", stat: "model", vals: []float64{0.5}}, {name: "df_resid", vals: []int64{120}}}, review.VerdictPass, 0, ""},
		{"model without dof", meta, []col{{name: "coef", stat: "model", vals: []float64{0.5}}}, review.VerdictReview, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.add("t.arrow", arrowFile(t, tc.meta, tc.cols))
			fs, err := Disclosure{table: table{Mem: e.mem}}.Run(t.Context(), e.req)
			e.mem.AssertSize(t, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := review.VerdictPass
			for _, f := range fs {
				got = review.Worse(got, f.Verdict)
			}
			if got != tc.want {
				t.Fatalf("got %s, want %s; %+v", got, tc.want, fs)
			}
			if tc.count > 0 {
				ok := false
				for _, f := range fs {
					if f.Verdict == tc.want && f.Count == tc.count && f.Column == tc.column {
						ok = true
					}
				}
				if !ok {
					t.Errorf("got %+v, want a %s finding with count %d on %q", fs, tc.want, tc.count, tc.column)
				}
			}
		})
	}
}

func TestDisclosureCSVManifest(t *testing.T) {
	e := newEnv(t)
	e.add("summary.csv", []byte("district,k\nHaidian,4\nChaoyang,40\n"))
	e.add(review.ManifestName, []byte(`{"files": {"summary.csv": {"level": "general-3", "market": "authorized", "columns": {"k": {"stat": "count"}}}}}`))
	fs, err := Disclosure{}.Run(t.Context(), e.req)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Verdict != review.VerdictFail || fs[0].Column != "k" || fs[0].Count != 1 {
		t.Errorf("got %+v, want one failure on k with count 1", fs)
	}
}

func TestDifferencing(t *testing.T) {
	md := marksMeta("general-3", "authorized")
	base := []col{{name: "district", vals: []string{"Haidian", "Chaoyang"}}, {name: "n", vals: []int64{120, 98}}}
	for _, tc := range []struct {
		name string
		now  []col
		want review.Verdict
	}{
		{"one small change", []col{{name: "district", vals: []string{"Haidian", "Chaoyang"}}, {name: "n", vals: []int64{121, 98}}}, review.VerdictReview},
		{"identical", base, review.VerdictPass},
		{"large change", []col{{name: "district", vals: []string{"Haidian", "Chaoyang"}}, {name: "n", vals: []int64{150, 98}}}, review.VerdictPass},
		{"other rows", []col{{name: "district", vals: []string{"Haidian", "Fengtai"}}, {name: "n", vals: []int64{121, 98}}}, review.VerdictPass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.add("old.arrow", arrowFile(t, md, base))
			old := e.req.Files[0]
			e.req.Files = nil
			e.req.Previous = []review.PreviousRelease{{Release: "r1", File: old}}
			e.add("new.arrow", arrowFile(t, md, tc.now))
			fs, err := Differencing{table: table{Mem: e.mem}}.Run(t.Context(), e.req)
			e.mem.AssertSize(t, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(fs) != 1 || fs[0].Verdict != tc.want {
				t.Errorf("got %+v, want one %s finding", fs, tc.want)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	dir := t.TempDir()
	md, clean := cleanAggregate()
	tar := make([]byte, 600)
	copy(tar[257:], "ustar")
	for _, tc := range []struct {
		name string
		data []byte
		want Kind
	}{
		{"a.arrow", arrowFile(t, md, clean), KindArrowFile},
		{"a.stream", arrowStream(t, md, clean), KindArrowStream},
		{"a.parquet", parquetFile(t, md, clean), KindParquet},
		{"a.csv", []byte("a,b\n1,2\n"), KindCSV},
		{"a.json", []byte(`{"a": [1, 2]}`), KindJSON},
		{"noext", []byte(` [1, 2]`), KindJSON},
		{"bad.json", []byte(`{"a": `), KindUnknown},
		{"a.md", []byte("# title\n"), KindMarkdown},
		{"a.txt", []byte("plain 中文 text\n"), KindText},
		{"a.png", pngFile(nil, nil), KindPNG},
		{"a.pdf", []byte("%PDF-1.7\n"), KindPDF},
		{"a.tar", tar, KindArchive},
		{"a.xz", []byte("\xfd7zXZ\x00\x00"), KindArchive},
		{"a.zst", []byte("\x28\xb5\x2f\xfd\x00"), KindArchive},
		{"a.bz2", []byte("BZh91AY&SY"), KindArchive},
		{"a.7z", []byte("7z\xbc\xaf\x27\x1c\x00"), KindArchive},
		{"a.exe", []byte("MZ\x90\x00"), KindExecutable},
		{"a.macho", []byte("\xcf\xfa\xed\xfe\x07"), KindExecutable},
		{"latin1.txt", []byte("caf\xe9\n"), KindUnknown},
		{"nul.txt", []byte("a\x00b"), KindUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, "/", "_"))
			if err := os.WriteFile(p, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			got, _, err := Sniff(p, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestFileLimits(t *testing.T) {
	e := newEnv(t)
	for range 3 {
		e.add("a"+string(rune('a'+len(e.req.Files)))+".txt", []byte("hello\n"))
	}
	e.req.Params.MaxFiles = 2
	fs, _ := FileTypes{}.Run(t.Context(), e.req)
	if len(fs) != 1 || fs[0].Verdict != review.VerdictFail || fs[0].Count != 3 {
		t.Errorf("too many files: got %+v, want one failure counting 3", fs)
	}
	e.req.Params = review.Params{MaxFileBytes: 3}
	fs, _ = FileTypes{}.Run(t.Context(), e.req)
	for _, f := range fs {
		if f.Verdict != review.VerdictFail {
			t.Errorf("file over the limit: got %+v, want fail", f)
		}
	}
	// A compressed record body that inflates past the cap fails, memory
	// stays bounded.
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	md, clean := cleanAggregate()
	e2 := newEnv(t)
	e2.add("summary.arrow", arrowFile(t, md, clean))
	_, err := table{Mem: mem}.forEach(t.Context(), e2.req.Files[0].Path, KindArrowFile, 64, func(arrow.RecordBatch) error { return nil })
	mem.AssertSize(t, 0)
	if err == nil {
		t.Errorf("table over the memory cap: got nil error, want one")
	}
}

func TestParseManifest(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		ok   bool
	}{
		{"good", `{"files": {"a.csv": {"level": "general-2", "market": "ordinary", "columns": {"n": {"stat": "count"}}}}}`, true},
		{"empty files", `{"files": {}}`, true},
		{"no files", `{}`, false},
		{"unknown field", `{"files": {}, "x": 1}`, false},
		{"bad level", `{"files": {"a": {"level": "core"}}}`, false},
		{"bad market", `{"files": {"a": {"market": "free"}}}`, false},
		{"bad stat", `{"files": {"a": {"columns": {"n": {"stat": "median"}}}}}`, false},
		{"trailing", `{"files": {}} {}`, false},
		{"not json", `files`, false},
		{"too big", `{"files": {"` + strings.Repeat("a", MaxManifestBytes) + `": {}}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseManifest(strings.NewReader(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("got error %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errdefs.IsInvalidArgument(err) {
				t.Errorf("got %v, want invalid argument", err)
			}
			if err == nil && m.Files == nil {
				t.Errorf("got nil files map")
			}
		})
	}
}

func FuzzManifest(f *testing.F) {
	f.Add([]byte(`{"files": {"a.csv": {"level": "general-2", "market": "ordinary", "columns": {"n": {"stat": "count"}}}}}`))
	f.Add([]byte(`{"files": {}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(bytes.NewReader(data))
		if err != nil {
			return
		}
		// What is accepted re-encodes to something accepted and equal.
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParseManifest(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("re-encoded manifest refused: %v", err)
		}
		if len(m2.Files) != len(m.Files) {
			t.Errorf("got %d files after round trip, want %d", len(m2.Files), len(m.Files))
		}
	})
}

// fuzzTable runs the table-reading checks over data. A file that cannot be
// read must fail the raw-values check; one that can must return all
// its memory. (arrow-go's error paths do not always release what they
// allocated; with the Go allocator the collector reclaims it, so memory is
// only asserted for readable files.)
func fuzzTable(t *testing.T, name string, data []byte) {
	e := newEnv(t)
	e.add(name, data)
	kind, _, err := Sniff(e.req.Files[0].Path, name)
	if err != nil {
		t.Fatal(err)
	}
	readable := true
	if kind.Tabular() {
		_, err = table{}.forEach(t.Context(), e.req.Files[0].Path, kind, 1<<30, func(arrow.RecordBatch) error { return nil })
		readable = err == nil
	}
	for _, c := range []review.Check{Marks{table: table{Mem: e.mem}}, RawValues{table: table{Mem: e.mem}},
		RowCopy{table: table{Mem: e.mem}}, Disclosure{table: table{Mem: e.mem}}} {
		res := review.Run(t.Context(), e.req, c)
		// Marks reads only the schema and row-copy skips inputs without
		// row fingerprints in some cases; raw-values reads every cell.
		if kind.Tabular() && !readable && c.Name() == "raw-values" && res.Verdict != review.VerdictFail {
			t.Errorf("%s: unreadable table got %s, want fail", c.Name(), res.Verdict)
		}
	}
	if readable {
		e.mem.AssertSize(t, 0)
	}
}

func FuzzArrowOutput(f *testing.F) {
	md, clean := cleanAggregate()
	f.Add(arrowFile(f, md, clean))
	f.Add(arrowStream(f, md, clean))
	f.Add([]byte("ARROW1\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzTable(t, "out.arrow", data)
	})
}

func FuzzParquetOutput(f *testing.F) {
	md, clean := cleanAggregate()
	f.Add(parquetFile(f, md, clean))
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzTable(t, "out.parquet", data)
	})
}

func FuzzPNGOutput(f *testing.F) {
	f.Add(pngFile([][]byte{pngChunk("tEXt", []byte("Comment\x00hello"))}, []byte("tail")))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzTable(t, "out.png", data)
	})
}

func TestHasControl(t *testing.T) {
	base := []byte("plain text, ascii and 中文 with\ttabs\r\nand lines\f")
	for i := 0; i <= len(base); i++ {
		for _, c := range []byte{0, 1, 0x1b, 0x1f, 0x7f, '\t', '\n', ' ', 0x80, 0xff, '~'} {
			p := append(append(append([]byte{}, base[:i]...), c), base[i:]...)
			want := controlByte(p)
			if got := hasControl(p); got != want {
				t.Fatalf("hasControl with %#x at %d: got %v, want %v", c, i, got, want)
			}
			if wantBad := c < 0x20 && c != '\t' && c != '\n' || c == 0x7f; want != wantBad {
				t.Fatalf("controlByte with %#x at %d: got %v, want %v", c, i, want, wantBad)
			}
		}
	}
}
