package checker

import (
	"context"
	"encoding/json"
	"testing"

	review "github.com/enclave-dev/enclave/egress-review"
)

// FuzzAnswer: whatever a child writes to its standard output (a child
// that parsed a hostile output is not trusted either), the parent's
// decoding neither panics nor accepts a result that complete() would let
// carry a verdict outside the vocabulary or a pass over a failed finding.
func FuzzAnswer(f *testing.F) {
	f.Add([]byte(`{"result":{"findings":[],"checks":[{"name":"integrity","version":"1","verdict":"pass"},{"name":"marks","version":"1","verdict":"pass"}],"verdict":"pass"}}`))
	f.Add([]byte(`{"error":{"class":"invalid-argument","message":"x"}}`))
	f.Add([]byte(`{"result":{"findings":[{"check":"marks","verdict":"maybe"}],"checks":[{"name":"integrity"},{"name":"marks"}],"verdict":"pass"}}`))
	f.Add([]byte(`{"result":1}{"result":2}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var a answer
		if err := decodeAnswer(data, &a); err != nil {
			return
		}
		if a.Error == nil && len(a.Result) == 0 {
			t.Fatal("accepted an answer without a result or an error")
		}
		if a.Error != nil {
			_ = classOf(a.Error.Class)
			_ = clip(a.Error.Message)
			return
		}
		var res review.Result
		if json.Unmarshal(a.Result, &res) != nil {
			return
		}
		if !complete(res, []review.Check{named("marks")}) {
			return
		}
		for _, f := range res.Findings {
			if f.Verdict != review.VerdictPass && f.Verdict != review.VerdictReview && f.Verdict != review.VerdictFail {
				t.Fatalf("accepted a finding with verdict %q", f.Verdict)
			}
			if f.Verdict == review.VerdictFail && res.Verdict != review.VerdictFail {
				t.Fatalf("accepted verdict %q over a failed finding", res.Verdict)
			}
		}
	})
}

type named string

func (n named) Name() string    { return string(n) }
func (n named) Version() string { return "1" }
func (n named) Run(context.Context, *review.Request) ([]review.Finding, error) {
	return nil, nil
}
