// Package synth generates realistic synthetic credit data: administrative
// penalties against enterprises of a fictional city, with valid unified
// social credit codes, legal representatives with valid resident ID
// numbers and mobile numbers, penalty types, amounts, dates and districts.
// Output is deterministic for a seed and streams, so any number of rows
// can be written in constant memory.
//
// The data is fictional: the division codes 99xxxx used in resident IDs
// and credit codes are not allocated to any real place, so a generated
// identifier can never be a real person's or enterprise's, yet all check
// characters validate, which is what the importer's safety net and the
// egress checks look for.
package synth

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/enclave-dev/enclave/enclave/pii"
)

// Columns are the columns of a penalty record, in CSV order.
var Columns = []string{
	"case_no", "uscc", "enterprise_name", "legal_rep_id", "legal_rep_phone",
	"penalty_type", "amount", "decided_on", "district",
}

// District is a district of the fictional city of Jinghe, with its
// fictional division code.
type District struct {
	Name string
	Code string // six digits, 99xxxx
}

// Districts are the districts of the fictional city.
var Districts = []District{
	{"Anping", "990101"}, {"Beiling", "990102"}, {"Chenghe", "990103"},
	{"Donglin", "990104"}, {"Xiyuan", "990105"}, {"Nanhu", "990106"},
	{"Gaoxin", "990107"}, {"Linjiang", "990108"},
}

// PenaltyTypes are the kinds of administrative penalty.
var PenaltyTypes = []string{
	"warning", "fine", "confiscation of illegal gains", "suspension of business",
	"revocation of licence", "fine and confiscation",
}

var nameHeads = []string{"Jinghe", "Huaxin", "Tianrui", "Hengtong", "Mingda", "Yuanfeng", "Qiyue", "Shengtai", "Boya", "Lianchuang", "Ruixiang", "Zhongheng"}
var nameTrades = []string{"Trading", "Construction", "Food", "Logistics", "Technology", "Pharmacy", "Catering", "Property Services", "Textiles", "Environmental Engineering"}

// Record is one penalty decision.
type Record struct {
	CaseNo         string
	USCC           string
	EnterpriseName string
	LegalRepID     string
	LegalRepPhone  string
	PenaltyType    string
	Amount         int64 // yuan; 0 for non-monetary penalties
	DecidedOn      time.Time
	District       string
}

// Strings returns the record's fields in Columns order, as written to CSV.
func (r *Record) Strings() []string {
	return []string{r.CaseNo, r.USCC, r.EnterpriseName, r.LegalRepID, r.LegalRepPhone,
		r.PenaltyType, strconv.FormatInt(r.Amount, 10), r.DecidedOn.Format("2006-01-02"), r.District}
}

// Generator produces penalty records deterministically from a seed.
// Enterprises recur: about one enterprise per four records, so that joins
// and repeated pseudonyms are realistic. It is not safe for concurrent use.
type Generator struct {
	seed        uint64
	rng         *rand.Rand
	enterprises int
	n           int
}

// New returns a Generator for about rows records (rows sizes the pool of
// enterprises; any number of records may be drawn).
func New(seed uint64, rows int) *Generator {
	return &Generator{seed: seed, rng: rand.New(rand.NewPCG(seed, 0x5eed)), enterprises: max(1, rows/4)}
}

type enterprise struct {
	uscc, name, repID, phone string
	district                 District
}

// enterprise derives enterprise i from the seed alone, so that the pool
// needs no memory.
func (g *Generator) enterprise(i int) enterprise {
	r := rand.New(rand.NewPCG(g.seed^0xe17e, uint64(i)))
	d := Districts[r.IntN(len(Districts))]
	// credit code: 9 (market regulation), 1 (enterprise), division code,
	// a nine-character organisation code from the code alphabet with a
	// letter so that it can never read as a resident ID number.
	const alpha = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	org := make([]byte, 9)
	org[0] = "ABCDEFGHJKLMNPQRTUWXY"[r.IntN(21)]
	for k := 1; k < 9; k++ {
		org[k] = alpha[r.IntN(len(alpha))]
	}
	first17 := "91" + d.Code + string(org)
	c, _ := pii.USCCCheckChar(first17)
	// resident ID: division code, birth date 1950-2000, sequence
	birth := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(50*365))
	id17 := d.Code + birth.Format("20060102") + fmt.Sprintf("%03d", r.IntN(1000))
	ic, _ := pii.ResidentIDCheckChar(id17)
	prefixes := []string{"13", "15", "17", "18", "19"}
	phone := prefixes[r.IntN(len(prefixes))] + fmt.Sprintf("%09d", r.IntN(1_000_000_000))
	name := nameHeads[r.IntN(len(nameHeads))] + " " + nameTrades[r.IntN(len(nameTrades))] + " Co., Ltd. No. " + strconv.Itoa(i+1)
	return enterprise{uscc: first17 + string(c), name: name, repID: id17 + string(ic), phone: phone, district: d}
}

// Next returns the next record.
func (g *Generator) Next() Record {
	g.n++
	e := g.enterprise(g.rng.IntN(g.enterprises))
	day := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, g.rng.IntN(7*365))
	pt := PenaltyTypes[g.rng.IntN(len(PenaltyTypes))]
	var amount int64
	if pt != "warning" && pt != "revocation of licence" {
		// log-normal around 20,000 yuan, rounded to 100, 500 to 5,000,000
		v := math.Exp(math.Log(20000) + 1.3*g.rng.NormFloat64())
		amount = max(500, min(5_000_000, int64(v/100)*100))
	}
	return Record{
		CaseNo:         fmt.Sprintf("JH-PEN-%d-%07d", day.Year(), g.n),
		USCC:           e.uscc,
		EnterpriseName: e.name,
		LegalRepID:     e.repID,
		LegalRepPhone:  e.phone,
		PenaltyType:    pt,
		Amount:         amount,
		DecidedOn:      day,
		District:       e.district.Name,
	}
}

// WriteCSV writes a header and rows records to w.
func WriteCSV(w io.Writer, seed uint64, rows int) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(Columns); err != nil {
		return err
	}
	g := New(seed, rows)
	for i := 0; i < rows; i++ {
		r := g.Next()
		if err := cw.Write(r.Strings()); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// Spec returns an import spec (YAML) for the generated columns, in the
// shape of the example, for the dataset name.
func Spec(name string) string {
	return `name: ` + name + `
category: credit/enterprise/penalty
description: synthetic administrative penalties of the fictional city of Jinghe
market: authorized
sharing: unconditional
columns:
  case_no:         {level: general-1, rule: keep}
  uscc:            {level: general-2, rule: keep}
  enterprise_name: {level: general-2, rule: keep}
  legal_rep_id:    {level: general-4, pi: identity, rule: {hash: {}}}
  legal_rep_phone: {level: general-4, pi: identity, rule: {mask: {keep_first: 3, keep_last: 4}}}
  penalty_type:    {level: general-1, rule: keep}
  amount:          {level: general-3, rule: {generalize: {bucket: 10000}}}
  decided_on:      {level: general-2, rule: {generalize: {date: month}}}
  district:        {level: general-1, rule: keep}
`
}
