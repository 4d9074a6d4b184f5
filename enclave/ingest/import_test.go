package ingest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	"github.com/enclave-dev/enclave/enclave/pii"
	"github.com/enclave-dev/enclave/enclave/synth"
)

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// rid makes a synthetic resident ID number in the fictional 99 region.
func rid(t testing.TB, birth string, seq int) string {
	t.Helper()
	first := "990101" + birth + strconv.Itoa(100+seq%900)
	c, err := pii.ResidentIDCheckChar(first)
	if err != nil {
		t.Fatal(err)
	}
	return first + string(c)
}

type importEnv struct {
	kr   *fakeKeyring
	mem  *memory.CheckedAllocator
	root string
}

func newEnv(t *testing.T) *importEnv {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return &importEnv{kr: newFakeKeyring(), mem: mem, root: t.TempDir()}
}

func (e *importEnv) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(e.root, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *importEnv) opts(dir string) ImportOptions {
	return ImportOptions{Version: 1, Dir: filepath.Join(e.root, dir), Keyring: e.kr, KeyObject: "dataset/test@1",
		Now: testNow, Allocator: e.mem, BatchRows: 7}
}

func mustSpec(t *testing.T, y string) *Spec {
	t.Helper()
	s, err := ParseSpec(strings.NewReader(y))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readBack decrypts a version and returns its schema and columns as cell
// strings ("<null>" for null), column by column.
func (e *importEnv) readBack(t *testing.T, dir string, res *Result) (*arrow.Schema, map[string][]string) {
	t.Helper()
	dst := filepath.Join(e.root, "in-"+filepath.Base(dir)+".arrow")
	if err := Decrypt(context.Background(), dir, e.kr, "dataset/test@1", res.WrappedKey, dst, DecryptOptions{DataSHA256: res.DataSHA256}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o400 || st.Size() != res.Bytes {
		t.Fatalf("got mode %v size %d, want 0400 and %d", st.Mode().Perm(), st.Size(), res.Bytes)
	}
	f, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f, ipc.WithAllocator(e.mem))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cols := map[string][]string{}
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatch(i)
		if err != nil {
			t.Fatal(err)
		}
		for j, f := range rec.Schema().Fields() {
			for k := 0; k < int(rec.NumRows()); k++ {
				v, ok := fingerprint.CellString(rec.Column(j), k)
				if !ok {
					v = "<null>"
				}
				cols[f.Name] = append(cols[f.Name], v)
			}
		}
	}
	return r.Schema(), cols
}

func TestImportSynthetic(t *testing.T) {
	e := newEnv(t)
	var csvData bytes.Buffer
	if err := synth.WriteCSV(&csvData, 42, 50); err != nil {
		t.Fatal(err)
	}
	raw := csvRows(t, csvData.Bytes())
	in := e.write(t, "p.csv", csvData.Bytes())
	spec := mustSpec(t, synth.Spec("credit_penalties"))
	opts := e.opts("v1")
	var progress []int64
	opts.Progress = func(b, rows int64) { progress = append(progress, rows) }
	res, err := Import(context.Background(), Source{Path: in}, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 50 || res.Level != General4 || res.Market != MarketAuthorized || res.SpecSHA256 != spec.SHA256 {
		t.Fatalf("got rows %d level %s market %s, want 50 general-4 authorized", res.Rows, res.Level, res.Market)
	}
	if len(progress) != 8 || progress[len(progress)-1] != 50 {
		t.Fatalf("got progress %v, want 8 calls ending at 50", progress)
	}
	marks := res.Marks()
	for k, want := range map[string]string{
		MarkDataset: "credit_penalties", MarkVersion: "1", MarkMarket: "authorized", MarkLevel: "general-4",
		MarkCategory: "credit/enterprise/penalty", MarkImportedAt: "2026-06-01T12:00:00Z", MarkSpecSHA256: spec.SHA256, MarkSharing: "unconditional",
	} {
		if marks[k] != want {
			t.Fatalf("got schema mark %s=%q, want %q", k, marks[k], want)
		}
	}
	schema, cols := e.readBack(t, opts.Dir, res)
	if !schema.Equal(res.Schema) || len(schema.Metadata().Keys()) != 8 {
		t.Fatalf("got stored schema %v, want %v", schema, res.Schema)
	}
	f, _ := schema.FieldsByName("legal_rep_id")
	fm := metadataMap(f[0].Metadata)
	if fm[MarkLevel] != "general-4" || fm[MarkPI] != "identity" || fm[MarkRule] != "hash{hmac-sha256:pseudonym}" || fm[MarkSource] != "credit_penalties@1/legal_rep_id" {
		t.Fatalf("got field marks %v, want the spec's", fm)
	}
	key, _ := e.kr.Secret(context.Background(), "pseudonym")
	mac := hmac.New(sha256.New, key)
	month := regexp.MustCompile(`^\d{4}-\d{2}$`)
	for i := 0; i < 50; i++ {
		mac.Reset()
		mac.Write([]byte(raw["legal_rep_id"][i]))
		if got, want := cols["legal_rep_id"][i], hex.EncodeToString(mac.Sum(nil)[:16]); got != want {
			t.Fatalf("row %d: got pseudonym %q, want %q", i, got, want)
		}
		if got, want := cols["legal_rep_phone"][i], pii.MaskKeep(raw["legal_rep_phone"][i], 3, 4, '*'); got != want {
			t.Fatalf("row %d: got phone %q, want %q", i, got, want)
		}
		amount, _ := strconv.ParseInt(raw["amount"][i], 10, 64)
		if got, want := cols["amount"][i], strconv.FormatInt(amount/10000*10000, 10); got != want {
			t.Fatalf("row %d: got amount %q, want %q", i, got, want)
		}
		if got := cols["decided_on"][i]; !month.MatchString(got) || got != raw["decided_on"][i][:7] {
			t.Fatalf("row %d: got date %q, want the month of the raw date", i, got)
		}
		if cols["uscc"][i] != raw["uscc"][i] || cols["district"][i] != raw["district"][i] {
			t.Fatalf("row %d: got kept columns changed", i)
		}
	}
	set, err := OpenFingerprints(context.Background(), opts.Dir, e.kr, "dataset/test@1", res.WrappedKey)
	if err != nil {
		t.Fatal(err)
	}
	fpKey, _ := e.kr.Secret(context.Background(), "fingerprint")
	h, _ := fingerprint.NewHasher(fpKey)
	for _, v := range []string{raw["legal_rep_id"][3], raw["legal_rep_phone"][3], cols["legal_rep_phone"][3], cols["legal_rep_id"][3]} {
		for _, fp := range h.Value(v) {
			if !set.HasValue(fp) {
				t.Fatal("got a pi value missing from the fingerprint index, want it there")
			}
		}
	}
	for _, fp := range h.Value(raw["district"][3]) {
		if set.HasValue(fp) {
			t.Fatal("got a non-pi value in the fingerprint index, want only pi columns")
		}
	}
	var row []string
	for _, fld := range schema.Fields() {
		row = append(row, cols[fld.Name][5])
	}
	if !set.HasRow(h.Row(row)) {
		t.Fatal("got an output row missing from the row fingerprints, want it there")
	}
	if v, r := set.Len(); v == 0 || r != 50 || res.FingerprintRows != r || res.FingerprintValues != v {
		t.Fatalf("got %d values %d rows (result %d %d), want some values and 50 rows", v, r, res.FingerprintValues, res.FingerprintRows)
	}
	sealed, _ := os.ReadFile(filepath.Join(opts.Dir, DataFile))
	if bytes.Contains(sealed, []byte(raw["uscc"][0])) || bytes.Contains(sealed, []byte("ARROW1")) {
		t.Fatal("got plaintext in the sealed data file, want none")
	}
}

// csvRows parses CSV bytes into columns.
func csvRows(t *testing.T, data []byte) map[string][]string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	header := strings.Split(lines[0], ",")
	out := map[string][]string{}
	for _, l := range lines[1:] {
		// synthetic enterprise names hold one quoted comma; split around it
		l = regexp.MustCompile(`"[^"]*"`).ReplaceAllString(l, "NAME")
		for j, v := range strings.Split(l, ",") {
			out[header[j]] = append(out[header[j]], v)
		}
	}
	return out
}

func TestImportRules(t *testing.T) {
	e := newEnv(t)
	id1, id2 := rid(t, "19900307", 1), rid(t, "20010615", 2)
	csvText := "id,phone,mail,note,born,score,secret,code,level\n" +
		id1 + ",13912345678,zhang.san@example.org,abcdefgh,1990-03-07,10,s1,7,x\n" +
		id2 + ",+8613812345678,li.si@example.org,ab,2001-06-15,20,s2,,y\n"
	spec := mustSpec(t, `name: rules
market: ordinary
columns:
  id:     {level: general-4, pi: identity, rule: {generalize: {age_band: 10, from: resident-id}}}
  phone:  {level: general-4, pi: identity, rule: {mask: {as: mobile}}}
  mail:   {level: general-3, pi: network-identity, rule: {mask: {as: email}}}
  note:   {level: general-2, rule: {truncate: {len: 3}}}
  born:   {level: general-3, pi: identity, rule: {generalize: {date: year}}}
  score:  {level: general-2, type: float64, rule: {noise: {laplace: {epsilon: 0.5, sensitivity: 1}}}}
  secret: {level: important, rule: drop}
  code:   {level: general-1, type: int64, rule: keep}
  level:  {level: general-1, rule: suppress}
`)
	opts := e.opts("v")
	res, err := Import(context.Background(), Source{Path: e.write(t, "r.csv", []byte(csvText))}, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Dropped) != 1 || res.Dropped[0] != "secret" || res.Level != General4 {
		t.Fatalf("got dropped %v level %s, want [secret] general-4 (dropped columns do not count)", res.Dropped, res.Level)
	}
	schema, cols := e.readBack(t, opts.Dir, res)
	if _, ok := cols["secret"]; ok || schema.HasField("secret") {
		t.Fatal("got the dropped column stored, want it absent")
	}
	want := map[string][]string{
		"id":    {"30-39", "20-29"},
		"phone": {"139****5678", "+86138****5678"},
		"mail":  {"z***@example.org", "l***@example.org"},
		"note":  {"abc", "ab"},
		"born":  {"1990", "2001"},
		"code":  {"7", "<null>"},
		"level": {"<null>", "<null>"},
	}
	for c, w := range want {
		if strings.Join(cols[c], "|") != strings.Join(w, "|") {
			t.Fatalf("column %s: got %v, want %v", c, cols[c], w)
		}
	}
	if cols["score"][0] == "10" && cols["score"][1] == "20" {
		t.Fatal("got scores unchanged, want noise added")
	}
	f, _ := schema.FieldsByName("score")
	if fm := metadataMap(f[0].Metadata); fm[MarkEpsilon] != "0.5" || f[0].Type.ID() != arrow.FLOAT64 {
		t.Fatalf("got score marks %v type %s, want epsilon 0.5 float64", fm, f[0].Type)
	}
	f, _ = schema.FieldsByName("code")
	if f[0].Type.ID() != arrow.INT64 {
		t.Fatalf("got code type %s, want int64", f[0].Type)
	}
}

func TestLaplaceScale(t *testing.T) {
	a := newApplier(&ColumnSpec{Rule: Rule{Kind: RuleNoise, Epsilon: 1, Sensitivity: 2}}, arrow.PrimitiveTypes.Float64, memory.NewGoAllocator(), nil, [32]byte{1}, testNow)
	const n = 200000
	sumAbs, sum := 0.0, 0.0
	for i := 0; i < n; i++ {
		x := a.laplace(2)
		sumAbs += max(x, -x)
		sum += x
	}
	// For Laplace(0, b) the mean is 0 and the mean absolute value is b.
	if m := sumAbs / n; m < 1.95 || m > 2.05 {
		t.Fatalf("got mean |x| %.3f, want about 2", m)
	}
	if m := sum / n; m < -0.05 || m > 0.05 {
		t.Fatalf("got mean %.3f, want about 0", m)
	}
}

func TestImportBadInput(t *testing.T) {
	id := rid(t, "19900307", 1)
	base := "name: bad\nmarket: ordinary\ncolumns:\n  a: {level: general-1, rule: keep}\n  b: {level: general-2, rule: {generalize: {bucket: 10}}}\n"
	big := strings.Repeat("x", 1<<20)
	tests := []struct {
		name string
		data string
		spec string
		want []string
	}{
		{"ragged", "a,b\n1,2\n3,4\n5\n", base, []string{"line 4", "wrong number of fields"}},
		{"wrong type for rule", "a,b\n1,2\n3,four\n", base, []string{`column "b"`, "line 3", "a number"}},
		{"wrong declared type", "a,b\nx,2\n", strings.Replace(base, "a: {level: general-1,", "a: {level: general-1, type: int64,", 1), []string{"line 2", `column "a"`, "int64"}},
		{"spec names a missing column", "a\n1\n", base, []string{`missing from the input: "b"`}},
		{"column missing from spec", "a,b,c\n1,2,3\n", base, []string{`not declared in the spec: "c"`}},
		{"non-utf8", "a,b\n\xff\xfe,2\n", base, []string{"line 2", `column "a"`, "utf-8"}},
		{"1 MB line", "a,b\n" + big + ",1\n", base, []string{"line 2", "longer than"}},
		{"empty file", "", base, []string{"empty"}},
		{"header only but blank", "\n\n", base, []string{"empty"}},
		{"duplicate columns", "a,b,a\n1,2,3\n", base, []string{`duplicate column "a"`}},
		{"resident id kept raw", "a,b\nx,1\n" + id + ",2\n", base, []string{`column "a"`, "resident-id", "line 3", "acknowledge"}},
		{"mobile inside text kept raw", "a,b\ncall 13912345678 now,1\n", base, []string{`column "a"`, "mobile"}},
		{"e-mail inside text kept raw", "a,b\nwrite to Zhang.San@example.org today,1\n", base, []string{`column "a"`, "email", "line 2"}},
		{"e-mail kept raw", "a,b\nx,1\nx,2\nzhang.san@example.org,3\n", base, []string{`column "a"`, "email", "line 4"}},
		{"mobile kept raw as a number", "a,b\n7,1\n13912345678,2\n", strings.Replace(base, "a: {level: general-1,", "a: {level: general-1, type: int64,", 1), []string{`column "a"`, "mobile", "line 3"}},
		{"resident id in capitals kept raw", "a,b\nx,1\nID:" + id + ",2\n", base, []string{`column "a"`, "resident-id", "line 3"}},
		{"resident id truncated long", "a,b\n" + id + ",1\n", strings.Replace(base, "rule: keep", "rule: {truncate: {len: 30}}", 1), []string{`column "a"`, "resident-id"}},
		{"acknowledged other kind", "a,b\n" + id + ",1\n", strings.Replace(base, "rule: keep}", "rule: keep, acknowledge: [email]}", 1), []string{"resident-id"}},
		{"age from bad resident id", "a,b\n123,1\n", strings.Replace(base, "rule: keep", "rule: {generalize: {age_band: 10, from: resident-id}}", 1), []string{`column "a"`, "line 2", "resident id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			in := e.write(t, "in.csv", []byte(tc.data))
			opts := e.opts("stage")
			_, err := Import(context.Background(), Source{Path: in}, mustSpec(t, tc.spec), opts)
			if err == nil {
				t.Fatal("got no error, want one")
			}
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got error class of %v, want invalid argument", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("got error %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), id) || strings.Contains(err.Error(), "13912345678") || strings.Contains(err.Error(), "four") || strings.Contains(err.Error(), "example.org") {
				t.Fatalf("got error %q holding a data value, want none", err)
			}
			if _, serr := os.Stat(opts.Dir); !os.IsNotExist(serr) {
				t.Fatalf("got staging directory left behind (%v), want it removed", serr)
			}
		})
	}
}

func TestImportAcknowledged(t *testing.T) {
	e := newEnv(t)
	id := rid(t, "19900307", 1)
	spec := mustSpec(t, "name: ack\nmarket: ordinary\ncolumns:\n  a: {level: general-3, rule: keep, acknowledge: [resident-id]}\n")
	opts := e.opts("ack")
	res, err := Import(context.Background(), Source{Path: e.write(t, "a.csv", []byte("a\n"+id+"\n"))}, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Columns[0].Acknowledged; len(got) != 1 || got[0] != pii.KindResidentID {
		t.Fatalf("got acknowledged %v, want [resident-id]", got)
	}
	set, err := OpenFingerprints(context.Background(), opts.Dir, e.kr, "dataset/test@1", res.WrappedKey)
	if err != nil {
		t.Fatal(err)
	}
	fpKey, _ := e.kr.Secret(context.Background(), "fingerprint")
	h, _ := fingerprint.NewHasher(fpKey)
	if !set.HasValue(h.Value(id)[0]) {
		t.Fatal("got an acknowledged identifier missing from the fingerprint index, want it there")
	}
}

func TestImportDirectory(t *testing.T) {
	e := newEnv(t)
	in := e.write(t, "a.csv", []byte("a\n1\n"))
	spec := mustSpec(t, "name: d\nmarket: ordinary\ncolumns:\n  a: {level: general-1, rule: keep}\n")
	opts := e.opts("full")
	os.Mkdir(opts.Dir, 0o700)
	os.WriteFile(filepath.Join(opts.Dir, "x"), nil, 0o600)
	if _, err := Import(context.Background(), Source{Path: in}, spec, opts); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("got %v, want failed precondition for a non-empty directory", err)
	}
	opts = e.opts("empty")
	os.Mkdir(opts.Dir, 0o700)
	if _, err := Import(context.Background(), Source{Path: filepath.Join(e.root, "nope.csv")}, spec, opts); !errdefs.IsNotFound(err) {
		t.Fatalf("got %v, want not found for a missing input", err)
	}
	if ents, _ := os.ReadDir(opts.Dir); len(ents) != 0 {
		t.Fatalf("got %d files left in a caller's directory, want none", len(ents))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Import(ctx, Source{Path: in}, spec, opts); err == nil {
		t.Fatal("got no error for a cancelled import, want one")
	}
	if ents, _ := os.ReadDir(opts.Dir); len(ents) != 0 {
		t.Fatalf("got %d files left after a cancelled import, want none", len(ents))
	}
}

func TestDecryptFailures(t *testing.T) {
	e := newEnv(t)
	in := e.write(t, "a.csv", []byte("a\n1\n2\n"))
	spec := mustSpec(t, "name: d\nmarket: ordinary\ncolumns:\n  a: {level: general-1, rule: keep}\n")
	opts := e.opts("v")
	res, err := Import(context.Background(), Source{Path: in}, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dst := filepath.Join(e.root, "out.arrow")
	os.WriteFile(dst, nil, 0o600)
	if err := Decrypt(ctx, opts.Dir, e.kr, "dataset/test@1", res.WrappedKey, dst); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("got %v, want already exists", err)
	}
	os.Remove(dst)
	if err := Decrypt(ctx, opts.Dir, e.kr, "dataset/test@1", res.WrappedKey, dst, DecryptOptions{DataSHA256: strings.Repeat("0", 64)}); !errdefs.IsDataLoss(err) {
		t.Fatalf("got %v, want data loss for a hash mismatch", err)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatal("got a target after a failed decryption, want none")
	}
	p := filepath.Join(opts.Dir, DataFile)
	sealed, _ := os.ReadFile(p)
	sealed[len(sealed)/2] ^= 1
	os.WriteFile(p, sealed, 0o600)
	if err := Decrypt(ctx, opts.Dir, e.kr, "dataset/test@1", res.WrappedKey, dst); !errdefs.IsDataLoss(err) {
		t.Fatalf("got %v, want data loss for a tampered file", err)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatal("got a target after a failed decryption, want none")
	}
	if ents, _ := os.ReadDir(e.root); len(ents) == 0 {
		t.Fatal("root unexpectedly empty")
	} else {
		for _, en := range ents {
			if strings.HasPrefix(en.Name(), ".decrypt-") {
				t.Fatalf("got temporary %q left, want none", en.Name())
			}
		}
	}
	if _, err := e.kr.Shred(ctx, "dataset/test@1"); err != nil {
		t.Fatal(err)
	}
	if err := Decrypt(ctx, opts.Dir, e.kr, "dataset/test@1", res.WrappedKey, dst); !errdefs.IsNotFound(err) {
		t.Fatalf("got %v, want not found after shredding", err)
	}
	if _, err := OpenFingerprints(ctx, opts.Dir, e.kr, "dataset/test@1", res.WrappedKey); !errdefs.IsNotFound(err) {
		t.Fatalf("got %v, want not found after shredding", err)
	}
}
