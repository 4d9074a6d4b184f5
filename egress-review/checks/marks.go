package checks

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	review "github.com/enclave-dev/enclave/egress-review"
)

// Mark keys (DESIGN.md section 4).
const (
	MarkLevel  = "enclave.level"
	MarkMarket = "enclave.market"
	MarkStat   = "enclave.stat"
	MarkDoF    = "enclave.dof"
	MarkPI     = "enclave.pi"
)

// Marks checks that every output carries classification marks at least as
// high as the highest input: Arrow and Parquet files in their schema
// (enclave.level and enclave.market) and on every top-level field
// (enclave.level), other files in the manifest. A level lower than the
// inputs' fails unless the operator declared exactly that level in
// Request.DeclaredLevels (then it asks for review); a missing or unknown
// mark fails.
type Marks struct {
	table table // Arrow and Parquet reader; set by WithAllocator
}

var _ review.Check = Marks{}

// Name implements review.Check.
func (Marks) Name() string { return "marks" }

// Version implements review.Check.
func (Marks) Version() string { return "1" }

// Run implements review.Check.
func (c Marks) Run(ctx context.Context, req *review.Request) ([]review.Finding, error) {
	p := req.Params.Effective()
	minLevel, minMarket := -1, -1
	for _, in := range req.Inputs {
		r := LevelRank(in.Level)
		if r < 0 {
			return nil, fmt.Errorf("input %q has no known level", in.Dataset)
		}
		minLevel = max(minLevel, r)
		minMarket = max(minMarket, MarketRank(in.Market))
	}
	if minLevel < 0 {
		minLevel = 0
	}
	if minMarket < 0 {
		minMarket = 0
	}
	manifest, merr := loadManifest(req)
	var out []review.Finding
	fail := func(f, col, ev string) {
		out = append(out, review.Finding{Verdict: review.VerdictFail, File: f, Column: col, Evidence: ev})
	}
	// judge compares one level mark; key is the DeclaredLevels key.
	judge := func(file, col, key, level string) {
		r := LevelRank(level)
		switch {
		case level == "":
			fail(file, col, "no "+MarkLevel+" mark")
		case r < 0:
			fail(file, col, MarkLevel+" is not a known level")
		case r >= minLevel:
		case req.DeclaredLevels[key] == level:
			out = append(out, review.Finding{Verdict: review.VerdictReview, File: file, Column: col,
				Evidence: fmt.Sprintf("level %s below the inputs' %s, declared by the operator: needs explicit officer approval", level, levels[minLevel])})
		default:
			fail(file, col, fmt.Sprintf("level %s below the inputs' %s and not declared", level, levels[minLevel]))
		}
	}
	judgeMarket := func(file, market string) {
		r := MarketRank(market)
		switch {
		case market == "":
			fail(file, "", "no "+MarkMarket+" mark")
		case r < 0:
			fail(file, "", MarkMarket+" is not a known market class")
		case r < minMarket:
			fail(file, "", fmt.Sprintf("market class %s below the inputs' %s", market, markets[minMarket]))
		}
	}
	for _, f := range req.Files {
		if f.Name == review.ManifestName {
			continue
		}
		kind, _, err := Sniff(f.Path, f.Name)
		if err != nil {
			fail(f.Name, "", "cannot read file")
			continue
		}
		if kind.Tabular() {
			sc, err := c.table.forEach(ctx, f.Path, kind, p.MaxFileBytes, nil)
			if err != nil {
				fail(f.Name, "", "cannot read table schema")
				continue
			}
			md := sc.Metadata()
			judge(f.Name, "", f.Name, metaGet(md, MarkLevel))
			judgeMarket(f.Name, metaGet(md, MarkMarket))
			for _, fld := range sc.Fields() {
				judge(f.Name, fld.Name, f.Name+"#"+fld.Name, metaGet(fld.Metadata, MarkLevel))
			}
			continue
		}
		switch {
		case merr != nil:
			fail(f.Name, "", "manifest is malformed")
		case manifest == nil:
			fail(f.Name, "", "not an arrow file and no "+review.ManifestName+" declares its marks")
		default:
			m, ok := manifest.Files[f.Name]
			if !ok {
				fail(f.Name, "", review.ManifestName+" does not declare this file")
				continue
			}
			judge(f.Name, "", f.Name, m.Level)
			judgeMarket(f.Name, m.Market)
		}
	}
	if len(out) == 0 {
		out = append(out, review.Finding{Verdict: review.VerdictPass, Evidence: fmt.Sprintf("%d files marked at or above %s", len(req.Files), levels[minLevel])})
	}
	return out, nil
}

func metaGet(md arrow.Metadata, key string) string {
	if i := md.FindKey(key); i >= 0 {
		return md.Values()[i]
	}
	return ""
}
