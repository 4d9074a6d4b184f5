package ingest

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpora under testdata/fuzz")

// TestSeedCorpus writes the seed corpora of the fuzzers to testdata/fuzz
// when run with -update-corpus, and otherwise checks that they exist.
func TestSeedCorpus(t *testing.T) {
	seeds := map[string]map[string]string{
		"FuzzParseSpec": {
			"example":   fmt.Sprintf("go test fuzz v1\nstring(%q)\n", exampleSpec),
			"noise-age": fmt.Sprintf("go test fuzz v1\nstring(%q)\n", "name: x\nmarket: ordinary\ncolumns:\n  c: {level: general-1, rule: {noise: {laplace: {epsilon: 1, sensitivity: 2}}}}\n  d: {level: general-2, pi: identity, rule: {generalize: {age_band: 10, from: resident-id}}}\n"),
		},
		"FuzzImportCSV": {
			"small":  fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", "a,b,d\nx,1,abc\ny,200,\n"),
			"quoted": fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", "a,b,d\n\"q,\"\"x\",3,z\n"),
		},
		"FuzzImportArrow": {
			"file":   fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", arrowFileBytes(t, false)),
			"stream": fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", arrowFileBytes(t, true)),
		},
		"FuzzImportParquet": {
			"file": fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", parquetBytes(t)),
		},
	}
	for fuzzer, files := range seeds {
		for name, content := range files {
			p := filepath.Join("testdata", "fuzz", fuzzer, name)
			if *updateCorpus {
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("got %v for seed %s, want it present (run with -update-corpus)", err, p)
			}
		}
	}
}
