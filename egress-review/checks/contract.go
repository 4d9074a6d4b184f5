package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	review "github.com/enclave-dev/enclave/egress-review"
)

// Contract is the output contract, deny by default: every file must be a
// kind the checks understand, and its content must be shown to be
// aggregate, not merely free of known values.
//
//   - Tables (Arrow, Parquet, CSV): every string cell is a category label
//     (a value that occurs at least MinCell times in an input column, a
//     column or statistic name, or a label the manifest declares), every
//     numeric column a declared statistic, every row a distinct group. The
//     group of input records behind each row is recovered from the inputs
//     by matching the label columns to input columns, and the disclosure
//     rules are applied to it: at least MinCell records, counts no larger
//     than the group, sums and means equal to an aggregate of an input
//     column over the group, N-K dominance, the p-ratio, all values the
//     same, zeros. A row whose group cannot be recovered fails the table.
//   - Text (text, Markdown, JSON, HTML, SVG, the strings of a PDF, the
//     metadata of PNG and JPEG files): the text rule charges identifier-like
//     and unexplained tokens against an information budget per file.
//   - Images: pixels pass; metadata goes through the text rule; bytes
//     after the image's end fail.
//   - Everything else fails.
//
// Evidence names files, columns, lines and counts, never values.
type Contract struct {
	table table
}

var _ review.Check = Contract{}

// Name implements review.Check.
func (Contract) Name() string { return "contract" }

// Version implements review.Check.
func (Contract) Version() string { return "1" }

var _ review.NameJudge = Contract{}

// WithholdName implements review.NameJudge: a file or column name whose
// tokens the text rule charges more than a log line may carry is withheld
// from findings (they reach the operator, the audit log and the
// attestation).
func (Contract) WithholdName(name string) bool {
	return WithholdLogLine([]byte(name), review.Default())
}

// Run implements review.Check.
func (c Contract) Run(ctx context.Context, req *review.Request) ([]review.Finding, error) {
	p := req.Params.Effective()
	manifest, err := loadManifest(req)
	if err != nil {
		return []review.Finding{{Verdict: review.VerdictFail, File: review.ManifestName, Evidence: "manifest cannot be read: " + err.Error()}}, nil
	}
	pr, err := buildProfile(ctx, c.table, req, p)
	if err != nil {
		return nil, err
	}
	var out []review.Finding
	// File names are read outside too: together they pay a quarter of one
	// file's text budget.
	var names textCost
	nr := pr.textRule(p)
	for i, f := range req.Files {
		nr.line(&names, []byte(f.Name), i+1)
	}
	nr.endRun(&names, 0)
	if limit := p.TextBudgetBits / 4; names.bits > limit {
		out = append(out, review.Finding{Verdict: review.VerdictFail, Count: len(req.Files),
			Evidence: fmt.Sprintf("file names carry %.0f bits of identifier-like tokens, over %.0f: %s", names.bits, limit, names.evidence())})
	}
	total, freeBits := names.bits, 0.0
	for _, f := range req.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var mf ManifestFile
		if manifest != nil {
			mf = manifest.Files[f.Name]
		}
		fs, cost := c.file(ctx, req, pr, f, mf, p)
		out = append(out, fs...)
		total += cost.bits
		freeBits += cost.freeBits
	}
	// Many files each within its budget add up: the request pays for
	// what its files charged, and for the numbers they let through free
	// beyond four files' allowance.
	total += max(0, freeBits-4*float64(p.TextFreeNumbers)*6*log2of10)
	if limit := 4 * p.TextBudgetBits; total > limit {
		out = append(out, review.Finding{Verdict: review.VerdictFail, Count: len(req.Files),
			Evidence: fmt.Sprintf("the request's files together carry %.0f bits in tokens that labels, language and statistics do not explain, over %.0f", total, limit)})
	}
	return out, nil
}

// file judges one file and returns what its text cost (its declared
// labels, its text), for the request's total.
func (c Contract) file(ctx context.Context, req *review.Request, pr *profile, f review.File, mf ManifestFile, p review.Params) ([]review.Finding, textCost) {
	fail := func(ev string) ([]review.Finding, textCost) {
		return []review.Finding{{Verdict: review.VerdictFail, File: f.Name, Evidence: ev}}, textCost{}
	}
	kind, what, err := Sniff(f.Path, f.Name)
	if err != nil {
		return fail("cannot read file")
	}
	declared := map[string]bool{}
	labelBits := 0.0
	if len(mf.Labels) > 0 {
		// Declared labels are themselves text the officer reads: they pay
		// the text rule like any other text.
		var lc textCost
		r := pr.textRule(p)
		for i, l := range mf.Labels {
			r.line(&lc, []byte(l), i+1)
			declared[l] = true
		}
		r.endRun(&lc, 0)
		labelBits = lc.bits
		if lc.bits > p.TextBudgetBits {
			return fail(fmt.Sprintf("declared labels carry %.0f bits of identifier-like tokens, over the budget of %.0f: %s", lc.bits, p.TextBudgetBits, lc.evidence()))
		}
	}
	switch {
	case kind.Tabular() || kind == KindCSV:
		return c.tableFile(ctx, req, pr, f, kind, mf, declared, p), textCost{bits: labelBits}
	case f.Name == review.ManifestName && kind == KindJSON:
		// The manifest is checked for its shape by the marks check and its
		// labels above; its file names are the request's own.
		return []review.Finding{{Verdict: review.VerdictPass, File: f.Name, Evidence: "manifest"}}, textCost{}
	case kind.Texty(), kind == KindPNG, kind == KindJPEG, kind == KindPDF:
		cost, err := c.textOf(f, kind, pr, p)
		if err != nil {
			return fail(err.Error())
		}
		if cost.bits > p.TextBudgetBits {
			return fail(fmt.Sprintf("%s carries %.0f bits in tokens that labels, language and statistics do not explain, over the budget of %.0f: %s",
				kind, cost.bits, p.TextBudgetBits, cost.evidence()))
		}
		return []review.Finding{{Verdict: review.VerdictPass, File: f.Name,
			Evidence: fmt.Sprintf("%s within the text budget (%.0f of %.0f bits)", kind, cost.bits, p.TextBudgetBits)}}, *cost
	}
	return fail(fmt.Sprintf("content is %s (%s): not a kind the contract can show to be aggregate", kind, what))
}

// textOf charges the text of a text file, or the metadata text of an image
// or the strings of a PDF.
func (c Contract) textOf(f review.File, kind Kind, pr *profile, p review.Params) (*textCost, error) {
	data, err := readCapped(f.Path, min(p.MaxFileBytes, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("cannot read file: %w", err)
	}
	r := pr.textRule(p)
	var cost textCost
	switch kind {
	case KindJSON:
		if err := r.json(&cost, data); err != nil {
			return nil, err
		}
	case KindPNG:
		if err := r.png(&cost, data); err != nil {
			return nil, err
		}
	case KindJPEG:
		if err := r.jpeg(&cost, data); err != nil {
			return nil, err
		}
	case KindPDF:
		if err := r.pdf(&cost, data); err != nil {
			return nil, err
		}
	default:
		if looksMarkup(data) {
			r.markup(&cost, data)
		} else {
			r.text(&cost, data, 1)
		}
	}
	return &cost, nil
}

// json charges the keys, strings and numbers of a JSON document, decoded
// (so that \u escapes of JSON's own are not charged as escapes).
func (r *textRule) json(c *textCost, data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	// Lines are counted as the decoder moves on (never from the start).
	lineNo, counted := 1, 0
	line := func() int {
		off := min(int(dec.InputOffset()), len(data))
		if off > counted {
			lineNo += bytes.Count(data[counted:off], []byte{'\n'})
			counted = off
		}
		return lineNo
	}
	shapes := r.shapes
	r.shapes = false // strings of JSON are not lines of a text
	defer func() { r.shapes = shapes }()
	strs := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("json cannot be parsed")
		}
		switch v := tok.(type) {
		case string:
			l := line()
			r.line(c, []byte(v), l)
			r.endRun(c, l)
			if strs++; strs > freeJSONStrings {
				c.charge(clsRepeats, repeatBits, l)
			}
		case json.Number:
			r.line(c, []byte(v), line())
		}
	}
	r.endRun(c, 0)
	return nil
}

// looksMarkup reports whether a text is HTML, SVG or XML.
func looksMarkup(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(t) > 0 && t[0] == '<'
}

// geometry are the attributes of SVG (and HTML's inline SVG) that draw:
// their numbers are a picture's pixels, which the contract lets through as
// it lets a PNG's pixels through.
var geometry = map[string]bool{
	"d": true, "points": true, "x": true, "y": true, "x1": true, "y1": true, "x2": true, "y2": true,
	"cx": true, "cy": true, "r": true, "rx": true, "ry": true, "width": true, "height": true,
	"viewbox": true, "transform": true, "stroke-width": true, "font-size": true, "opacity": true,
	"fill-opacity": true, "stroke-opacity": true, "dx": true, "dy": true, "offset": true,
	"stroke-dasharray": true, "stroke-linecap": true, "stroke-linejoin": true, "stroke-miterlimit": true,
}

// markup charges HTML, SVG or XML: the text between tags, comments, and
// the values of attributes that do not draw.
func (r *textRule) markup(c *textCost, data []byte) {
	line := 1
	i := 0
	textStart := 0
	emit := func(p []byte) {
		r.text(c, p, line)
	}
	for i < len(data) {
		if data[i] != '<' {
			if data[i] == '\n' {
				line++
			}
			i++
			continue
		}
		emit(data[textStart:i])
		// A tag, a comment or a declaration.
		if bytes.HasPrefix(data[i:], []byte("<!--")) {
			end := bytes.Index(data[i+4:], []byte("-->"))
			if end < 0 {
				end = len(data) - i - 4
			}
			body := data[i+4 : i+4+end]
			r.text(c, body, line)
			line += bytes.Count(body, []byte{'\n'})
			i += 4 + end + 3
			textStart = min(i, len(data))
			i = textStart
			continue
		}
		end := bytes.IndexByte(data[i:], '>')
		if end < 0 {
			end = len(data) - i
		}
		if shapeTag(data[i+1 : i+end]) {
			c.marks++
			if c.marks > freeMarks {
				c.charge(clsMarks, markBits, line)
			}
		}
		r.tag(c, data[i+1:i+end], line)
		line += bytes.Count(data[i:i+end], []byte{'\n'})
		i += end + 1
		textStart = min(i, len(data))
		i = textStart
	}
	if textStart < len(data) {
		emit(data[textStart:])
	}
	r.endRun(c, 0)
}

// shapeTag reports whether a tag draws a shape.
func shapeTag(t []byte) bool {
	name := t
	if i := bytes.IndexAny(t, " \t\r\n/"); i >= 0 {
		name = t[:i]
	}
	switch strings.ToLower(string(name)) {
	case "rect", "circle", "ellipse", "line", "polyline", "polygon", "path", "use", "text", "image", "td":
		return true
	}
	return false
}

// tag charges the attributes of one tag (its name and attribute names are
// the markup's words).
func (r *textRule) tag(c *textCost, t []byte, line int) {
	s := string(t)
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return
		}
		name := strings.ToLower(strings.TrimSpace(s[:eq]))
		if k := strings.LastIndexAny(name, " \t\r\n/"); k >= 0 {
			name = name[k+1:]
		}
		s = strings.TrimLeft(s[eq+1:], " \t\r\n")
		var val string
		if len(s) > 0 && (s[0] == '"' || s[0] == '\'') {
			q := s[0]
			end := strings.IndexByte(s[1:], q)
			if end < 0 {
				val, s = s[1:], ""
			} else {
				val, s = s[1:1+end], s[2+end:]
			}
		} else {
			end := strings.IndexAny(s, " \t\r\n")
			if end < 0 {
				val, s = s, ""
			} else {
				val, s = s[:end], s[end:]
			}
		}
		if geometry[name] {
			continue
		}
		r.text(c, []byte(val), line)
	}
}
