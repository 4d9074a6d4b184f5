package usage

import (
	"fmt"
	"io"
	"strconv"

	"codeberg.org/go-pdf/fpdf"
)

// WritePDF renders the report as a PDF document (001 art. 18, issue 20
// item 5): the art. 18 sections with the figures of Sections, and bar
// charts of resource use by month drawn with fpdf. Content streams are
// left uncompressed so the text can be read back and checked.
func (r *AnnualReport) WritePDF(w io.Writer) error {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(false)
	pdf.SetCreator("enclave", false)
	pdf.SetTitle(fmt.Sprintf("Annual operation report %d", r.Year), false)
	tr := pdf.UnicodeTranslatorFromDescriptor("") // cp1252 for the core fonts
	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 16)
	pdf.CellFormat(0, 10, tr(fmt.Sprintf("Annual operation report %d", r.Year)), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	org := "all organisations"
	if r.Org != "" {
		org = r.Org
	}
	pdf.CellFormat(0, 6, tr("Organisation: "+org), "", 1, "L", false, 0, "")
	pdf.CellFormat(0, 6, "Generated "+r.Generated.UTC().Format("2006-01-02 15:04 UTC")+" from the enclave's ledger (001 art. 18)", "", 1, "L", false, 0, "")
	for _, s := range r.Sections() {
		pdf.Ln(3)
		pdf.SetFont("Helvetica", "B", 13)
		pdf.CellFormat(0, 8, tr(s.Title), "", 1, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 10)
		if s.Note != "" {
			pdf.CellFormat(0, 6, tr(s.Note), "", 1, "L", false, 0, "")
		}
		for _, f := range s.Figures {
			pdf.CellFormat(0, 6, tr(f.Label+": "+f.Value), "", 1, "L", false, 0, "")
		}
	}
	var months []string
	var cpu, read []float64
	for _, m := range r.Months {
		months = append(months, m.Key[5:])
		cpu = append(cpu, m.CPUHours)
		read = append(read, float64(m.InputBytes)/1e9)
	}
	pdf.AddPage()
	pdfBars(pdf, tr, "Resource use: CPU-hours by month", months, cpu, 2)
	pdfBars(pdf, tr, "Resource use: data read by month (GB)", months, read, 3)
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("write the PDF: %w", err)
	}
	return nil
}

// pdfBars draws one bar chart at the current position: a bar per label,
// its value printed above it.
func pdfBars(pdf *fpdf.Fpdf, tr func(string) string, title string, labels []string, values []float64, prec int) {
	const left, width, height = 20.0, 170.0, 60.0
	pdf.SetFont("Helvetica", "B", 12)
	pdf.CellFormat(0, 8, tr(title), "", 1, "L", false, 0, "")
	top := pdf.GetY() + 6
	base := top + height
	peak := 0.0
	for _, v := range values {
		peak = max(peak, v)
	}
	pdf.SetDrawColor(74, 85, 104)
	pdf.Line(left, base, left+width, base)
	slot := width / float64(max(len(labels), 1))
	pdf.SetFont("Helvetica", "", 7)
	for i, l := range labels {
		h := 0.0
		if peak > 0 {
			h = values[i] / peak * height
		}
		x := left + float64(i)*slot + slot*0.15
		pdf.SetFillColor(43, 108, 176)
		if h > 0 {
			pdf.Rect(x, base-h, slot*0.7, h, "F")
		}
		pdf.SetXY(x-slot*0.15, base-h-5)
		pdf.CellFormat(slot, 4, strconv.FormatFloat(values[i], 'f', prec, 64), "", 0, "C", false, 0, "")
		pdf.SetXY(x-slot*0.15, base+1)
		pdf.CellFormat(slot, 4, tr(l), "", 0, "C", false, 0, "")
	}
	pdf.SetXY(pdf.GetX(), base+10)
	pdf.SetX(10)
}
