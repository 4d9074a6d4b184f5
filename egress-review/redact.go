package review

import (
	"strconv"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	"github.com/enclave-dev/enclave/egress-review/scan"
)

// WithheldName replaces, in findings, a file or column name that itself
// holds an input value.
const WithheldName = "(name withheld: matches an input value)"

// WithheldCodedName replaces, in findings, a file or column name that a
// check's NameJudge finds identifier-like (a value in some encoding).
const WithheldCodedName = "(name withheld: identifier-like)"

// NameJudge is implemented by checks that can tell a name which carries a
// value in some encoding (the output contract's text rule). Run withholds
// such names from every finding. WithholdName is safe for concurrent use.
type NameJudge interface {
	WithholdName(name string) bool
}

// redactCoded replaces the names that a judge withholds.
func redactCoded(req *Request, fs []Finding, checks []Check) {
	var judges []NameJudge
	for _, c := range checks {
		if j, ok := c.(NameJudge); ok {
			judges = append(judges, j)
		}
	}
	if len(judges) == 0 {
		return
	}
	index := map[string]int{}
	for i, f := range req.Files {
		index[f.Name] = i
	}
	memo := map[string]bool{}
	bad := func(name string) bool {
		if name == "" || name == WithheldName || len(name) > len(WithheldName) && name[:len(WithheldName)] == WithheldName {
			return false
		}
		b, ok := memo[name]
		if !ok {
			for _, j := range judges {
				b = b || safeJudge(j, name)
			}
			memo[name] = b
		}
		return b
	}
	for i := range fs {
		if bad(fs[i].File) {
			if n, ok := index[fs[i].File]; ok {
				fs[i].File = WithheldCodedName + " #" + strconv.Itoa(n)
			} else {
				fs[i].File = WithheldCodedName
			}
		}
		if bad(fs[i].Column) {
			fs[i].Column = WithheldCodedName
		}
	}
}

// safeJudge asks a judge, treating a panic as "withhold".
func safeJudge(j NameJudge, name string) (b bool) {
	defer func() {
		if recover() != nil {
			b = true
		}
	}()
	return j.WithholdName(name)
}

// redactNames replaces file and column names that match an input
// fingerprint, so that findings (shown to the operator, kept in the audit
// log and the attestation) never repeat a value smuggled into a name. A
// file keeps its index so that officers can still tell files apart.
func redactNames(req *Request, fs []Finding) {
	sets := make([]*fingerprint.Set, 0, len(req.Inputs))
	for _, in := range req.Inputs {
		sets = append(sets, in.Fingerprints)
	}
	if req.Hasher == nil {
		return
	}
	sc, err := scan.New(req.Hasher, sets)
	if err != nil || sc.Empty() {
		return
	}
	index := map[string]int{}
	for i, f := range req.Files {
		index[f.Name] = i
	}
	memo := map[string]bool{}
	bad := func(name string) bool {
		if name == "" {
			return false
		}
		b, ok := memo[name]
		if !ok {
			b = sc.Value(name)
			memo[name] = b
		}
		return b
	}
	for i := range fs {
		if bad(fs[i].File) {
			if n, ok := index[fs[i].File]; ok {
				fs[i].File = WithheldName + " #" + strconv.Itoa(n)
			} else {
				fs[i].File = WithheldName
			}
		}
		if bad(fs[i].Column) {
			fs[i].Column = WithheldName
		}
	}
}
