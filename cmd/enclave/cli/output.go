package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"
	"sigs.k8s.io/yaml"
)

// eraseLine returns to the start of the line and clears it.
const eraseLine = "\r\x1b[2K"

// isTerminal says whether w is a terminal: progress, status lines and
// colour are drawn only there.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// colourTo says whether to colour what goes to w: a terminal, and NO_COLOR
// (https://no-color.org) not set.
func (e *env) colourTo(w io.Writer) bool {
	return e.getenv("NO_COLOR") == "" && isTerminal(w)
}

// paint wraps s in the ANSI colour code when on.
func paint(on bool, code, s string) string {
	if !on || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// stateColour is the colour of a job's or an export's state: green done,
// red failed, yellow under way.
func stateColour(state string) string {
	switch {
	case state == "complete" || state == "approved" || state == "released":
		return "32"
	case strings.Contains(state, "fail") || strings.Contains(state, "error") || state == "rejected" || state == "canceled" || state == "halted" || state == "timeout" || state == "killed":
		return "31"
	default:
		return "33"
	}
}

// print writes v as JSON (-o json, --json), YAML (-o yaml), or calls table.
func (e *env) print(v any, table func(tw *tabwriter.Writer)) error {
	switch {
	case e.json || e.output == "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case e.output == "yaml":
		// Through JSON, so the fields are named as in the JSON.
		b, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode YAML: %w", err)
		}
		_, err = e.stdout.Write(b)
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// progressBar draws an import's progress on a terminal, or nothing.
type progressBar struct {
	w     io.Writer
	total int64
	on    bool
	drawn bool
	last  time.Time
}

func newProgressBar(w io.Writer, total int64, enabled bool) *progressBar {
	return &progressBar{w: w, total: total, on: enabled && isTerminal(w)}
}

func (p *progressBar) update(stage string, n, rows int64) {
	if !p.on || (time.Since(p.last) < 100*time.Millisecond && n < p.total) {
		return
	}
	p.last = time.Now()
	frac := 0.0
	if p.total > 0 {
		frac = float64(n) / float64(p.total)
	}
	if frac > 1 {
		frac = 1
	}
	const width = 30
	filled := int(frac * width)
	extra := ""
	if rows > 0 {
		extra = fmt.Sprintf(" %d rows", rows)
	}
	fmt.Fprintf(p.w, "\r%-6s [%s%s] %3.0f%% %s/%s%s   ", stage, strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		frac*100, human(n), human(p.total), extra)
	p.drawn = true
}

// done erases the bar: what follows starts on a clean line.
func (p *progressBar) done() {
	if p.drawn {
		fmt.Fprint(p.w, eraseLine)
		p.drawn = false
	}
}
