package checks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/containerd/errdefs"
	review "github.com/enclave-dev/enclave/egress-review"
)

// MaxManifestBytes is the largest MANIFEST.json accepted.
const MaxManifestBytes = 1 << 20

// Manifest is what a job declares about its non-Arrow outputs, in
// /out/MANIFEST.json:
//
//	{"files": {"summary.csv": {"level": "general-2", "market": "authorized",
//	    "columns": {"n": {"stat": "count"}, "share": {"stat": "mean"}}}}}
//
// Names are relative to /out. Arrow files carry their marks in their schema
// instead; a manifest entry for them is ignored by the marks check.
type Manifest struct {
	Files map[string]ManifestFile `json:"files"`
}

// ManifestFile holds the marks of one file.
type ManifestFile struct {
	Level   string                    `json:"level"`
	Market  string                    `json:"market"`
	Columns map[string]ManifestColumn `json:"columns,omitempty"`
	// Labels are category labels of the file's tables that the inputs do
	// not hold (bands, groupings the job made). Officers see them; they
	// pay the text rule of the output contract.
	Labels []string `json:"labels,omitempty"`
}

// ManifestColumn declares what a column of a CSV table is, for the
// disclosure check and the output contract: stat is one of count, sum,
// mean, std, share (of records, as a fraction or a percentage), model, top1,
// top2, dof, or label (integer category labels).
type ManifestColumn struct {
	Stat string `json:"stat,omitempty"`
}

// ParseManifest parses a manifest strictly: unknown fields, trailing data,
// more than MaxManifestBytes and malformed marks are errors of class
// errdefs.ErrInvalidArgument.
func ParseManifest(r io.Reader) (*Manifest, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if len(data) > MaxManifestBytes {
		return nil, fmt.Errorf("manifest over %d bytes: %w", MaxManifestBytes, errdefs.ErrInvalidArgument)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest is not valid json of the expected shape: %w", errdefs.ErrInvalidArgument)
	}
	if dec.More() {
		return nil, fmt.Errorf("manifest has trailing data: %w", errdefs.ErrInvalidArgument)
	}
	if m.Files == nil {
		return nil, fmt.Errorf("manifest has no %q object: %w", "files", errdefs.ErrInvalidArgument)
	}
	for name, f := range m.Files {
		if name == "" {
			return nil, fmt.Errorf("manifest names an empty file: %w", errdefs.ErrInvalidArgument)
		}
		if f.Level != "" && LevelRank(f.Level) < 0 {
			return nil, fmt.Errorf("manifest holds a level that is not a level: %w", errdefs.ErrInvalidArgument)
		}
		if f.Market != "" && MarketRank(f.Market) < 0 {
			return nil, fmt.Errorf("manifest holds a market that is not a market class: %w", errdefs.ErrInvalidArgument)
		}
		if len(f.Labels) > MaxManifestLabels {
			return nil, fmt.Errorf("manifest declares more than %d labels for one file: %w", MaxManifestLabels, errdefs.ErrInvalidArgument)
		}
		for _, c := range f.Columns {
			if c.Stat != "" && !knownStat[c.Stat] {
				return nil, fmt.Errorf("manifest holds an unknown stat: %w", errdefs.ErrInvalidArgument)
			}
		}
	}
	return &m, nil
}

var knownStat = map[string]bool{"count": true, "sum": true, "mean": true, "std": true, "share": true, "model": true, "top1": true, "top2": true, "dof": true, "label": true}

// MaxManifestLabels is the most labels a manifest may declare for a file.
const MaxManifestLabels = 1000

// loadManifest returns the request's manifest: req.Manifest, or a file
// named review.ManifestName among req.Files. It returns nil, nil when there
// is none.
func loadManifest(req *review.Request) (*Manifest, error) {
	mf := req.Manifest
	if mf == nil {
		for i := range req.Files {
			if req.Files[i].Name == review.ManifestName {
				mf = &req.Files[i]
				break
			}
		}
	}
	if mf == nil {
		return nil, nil
	}
	f, err := os.Open(mf.Path)
	if err != nil {
		return nil, fmt.Errorf("open manifest: %w", err)
	}
	defer f.Close()
	return ParseManifest(f)
}

// Levels in order, after GB/T 43697-2024 (DESIGN.md section 4).
var levels = []string{"general-1", "general-2", "general-3", "general-4", "important"}

// LevelRank returns the position of level in the order general-1 <
// general-2 < general-3 < general-4 < important, or -1 for anything else
// (including core, which never enters the enclave).
func LevelRank(level string) int {
	for i, l := range levels {
		if l == level {
			return i
		}
	}
	return -1
}

var markets = []string{"ordinary", "authorized", "withheld"}

// MarketRank returns the position of a market class in the order ordinary
// < authorized < withheld, or -1.
func MarketRank(m string) int {
	for i, l := range markets {
		if l == m {
			return i
		}
	}
	return -1
}
