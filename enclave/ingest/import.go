package ingest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/containerd/errdefs"

	"github.com/enclave-dev/enclave/egress-review/fingerprint"
	"github.com/enclave-dev/enclave/enclave/keys"
	"github.com/enclave-dev/enclave/enclave/pii"
	"github.com/enclave-dev/enclave/enclave/sealedfile"
)

// File names inside a dataset version's directory.
const (
	DataFile         = "data.arrow.sealed"   // the desensitized Arrow IPC file, sealed
	FingerprintsFile = "fingerprints.sealed" // the fingerprint.Set, sealed
	// PlainDataFile is the name Decrypt callers conventionally give the
	// plaintext in a job's input area: /in/NAME/data.arrow.
	PlainDataFile = "data.arrow"
)

// Defaults of ImportOptions.
const (
	DefaultBatchRows    = 8192
	DefaultMaxLineBytes = 256 << 10
	// DefaultFingerprintMemory bounds the fingerprints held in memory (the
	// builder sorts them with as much again of scratch space).
	DefaultFingerprintMemory = 16 << 20
	// maxWorkers bounds ImportOptions.Workers, and with it the batches
	// in flight (two per worker).
	maxWorkers = 16
)

// ImportOptions are the parameters of one import.
type ImportOptions struct {
	// Dataset and Version name the new dataset version; Dataset defaults
	// to the spec's name, Version must be at least 1.
	Dataset string
	Version int
	// Dir is the staging directory the import writes into. It must not
	// exist (it is created) or be empty. On error nothing is left in it
	// (and it is removed if Import created it); the caller publishes it
	// by renaming it after a successful import.
	Dir string
	// Keyring makes the data key and holds the pseudonym and fingerprint
	// secrets.
	Keyring keys.Keyring
	// KeyObject is the keyring object of the data key, conventionally
	// "dataset/NAME@V/STAGING" (one per staged import).
	KeyObject string
	// Now is the import time recorded in the marks and used for age
	// bands; zero means time.Now().
	Now time.Time
	// Progress, when set, is called after every batch.
	Progress func(bytesRead, rowsWritten int64)
	// Allocator is the Arrow allocator; nil means memory.DefaultAllocator.
	Allocator memory.Allocator
	// BatchRows is the number of rows per record batch read from CSV or
	// Parquet; 0 means DefaultBatchRows. A CSV batch also ends once its
	// values reach 16 MiB.
	BatchRows int
	// MaxLineBytes refuses CSV lines longer than this; 0 means
	// DefaultMaxLineBytes.
	MaxLineBytes int
	// FingerprintMemory is how many bytes of fingerprints the import keeps
	// in memory before it spills runs of them to disk; 0 means
	// DefaultFingerprintMemory.
	FingerprintMemory int
	// Workers is the number of goroutines that desensitize, check and
	// fingerprint batches in parallel; 0 means runtime.GOMAXPROCS(0), and
	// more than 16 means 16. The output is the same for any number.
	Workers int
}

// ColumnInfo describes one column of an imported dataset version.
type ColumnInfo struct {
	Name  string `json:"name"`
	Type  string `json:"type"` // the Arrow type of the stored column
	Level Level  `json:"level"`
	PI    PIType `json:"pi,omitempty"`
	Rule  string `json:"rule"` // Rule.String
	// Acknowledged lists identifier kinds that the spec acknowledged and
	// that the safety net found in this column.
	Acknowledged []pii.Kind `json:"acknowledged,omitempty"`
}

// Result describes an imported dataset version, for the catalogue.
type Result struct {
	// Schema is the stored schema with its marks.
	Schema *arrow.Schema
	// Rows is the number of rows stored.
	Rows int64
	// Columns are the stored columns (dropped columns are not listed).
	Columns []ColumnInfo
	// Dropped names the input columns the rule drop left out.
	Dropped []string
	// Level is the highest level of the stored columns.
	Level Level
	// Market and Category come from the spec.
	Market   Market
	Category string
	// SpecSHA256 is the hex SHA-256 of the spec.
	SpecSHA256 string
	// WrappedKey is the data key wrapped by the keyring for KeyObject; the
	// catalogue stores it next to the version.
	WrappedKey []byte
	// DataSHA256 is the hex SHA-256 of the plaintext Arrow IPC file (what
	// a job sees as data.arrow); Decrypt verifies it when given.
	DataSHA256 string
	// Bytes is the size of the plaintext Arrow IPC file.
	Bytes int64
	// FingerprintValues and FingerprintRows count the distinct value and
	// row fingerprints in the index.
	FingerprintValues, FingerprintRows int
	// ImportedAt is the import time recorded in the marks.
	ImportedAt time.Time
}

// Marks returns the dataset marks (schema metadata) of the result.
func (r *Result) Marks() map[string]string {
	return metadataMap(r.Schema.Metadata())
}

func metadataMap(md arrow.Metadata) map[string]string {
	m := make(map[string]string, md.Len())
	for i, k := range md.Keys() {
		m[k] = md.Values()[i]
	}
	return m
}

// Import desensitizes, marks, encrypts and fingerprints one input file
// into opts.Dir as a new dataset version. It streams the input by record
// batches, so memory does not grow with the input's size: the fingerprint
// index is built in at most FingerprintMemory bytes, spilling runs of keyed
// hashes (cut in partitions, sorted at the end) to a temporary directory
// inside opts.Dir.
//
// Every input column must be declared in spec and every declared column
// must be in the input. Columns kept raw (rules keep, truncate and plain
// mask) are scanned for resident ID numbers, mobile numbers, bank cards
// and e-mail addresses with valid check digits; a hit that the column's
// acknowledge list does not name refuses the import, naming the column
// and the identifier kind.
//
// Bad input (malformed files, values a rule cannot take, undeclared or
// missing columns, identifiers kept raw) is an errdefs.ErrInvalidArgument
// class error that names the column and line or row and never a value.
// On any error nothing is left in opts.Dir.
func Import(ctx context.Context, in Source, spec *Spec, opts ImportOptions) (res *Result, err error) {
	if spec == nil {
		return nil, fmt.Errorf("import needs a spec: %w", errdefs.ErrInvalidArgument)
	}
	if opts.Dataset == "" {
		opts.Dataset = spec.Name
	}
	if err := ValidName(opts.Dataset); err != nil {
		return nil, err
	}
	if opts.Version < 1 {
		return nil, fmt.Errorf("dataset %q version %d must be at least 1: %w", opts.Dataset, opts.Version, errdefs.ErrInvalidArgument)
	}
	if opts.Keyring == nil || opts.KeyObject == "" || opts.Dir == "" {
		return nil, fmt.Errorf("import needs a keyring, a key object and a directory: %w", errdefs.ErrInvalidArgument)
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	opts.Now = opts.Now.UTC()
	if opts.Allocator == nil {
		opts.Allocator = memory.DefaultAllocator
	}
	rec := newRecycler(opts.Allocator)
	defer rec.close()
	opts.Allocator = rec
	if opts.BatchRows <= 0 {
		opts.BatchRows = DefaultBatchRows
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = DefaultMaxLineBytes
	}
	if opts.FingerprintMemory <= 0 {
		opts.FingerprintMemory = DefaultFingerprintMemory
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	opts.Workers = min(opts.Workers, maxWorkers)
	created, err := prepareDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.Remove(filepath.Join(opts.Dir, DataFile))
			os.Remove(filepath.Join(opts.Dir, FingerprintsFile))
			if created {
				os.Remove(opts.Dir)
			}
		}
	}()
	im := &importer{spec: spec, opts: opts}
	return im.run(ctx, in)
}

// prepareDir creates dir, or checks that it is an empty directory.
func prepareDir(dir string) (created bool, err error) {
	if err := os.Mkdir(dir, 0o700); err == nil {
		return true, nil
	} else if !errors.Is(err, os.ErrExist) {
		return false, fmt.Errorf("create staging directory: %w", errClass(err))
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("staging directory: %w", errClass(err))
	}
	if len(ents) > 0 {
		return false, fmt.Errorf("staging directory is not empty: %w", errdefs.ErrFailedPrecondition)
	}
	return false, nil
}

type importer struct {
	spec *Spec
	opts ImportOptions

	appliers []*applier // per input column
	outIdx   []int      // per input column: output index or -1
	scan     []bool     // per input column: safety net on the output
	fpCol    []bool     // per input column: value fingerprints
	found    [][]pii.Kind
	schema   *arrow.Schema
	hasher   *fingerprint.Hasher
	fps      *fingerprint.Builder // fed by the pipeline's fingerprint sink
	// the batches' fingerprint slices, back from the sink once the
	// builder has copied them (see fpSlice)
	freeValues, freeRows chan []uint64
}

func (im *importer) run(ctx context.Context, in Source) (*Result, error) {
	kr := im.opts.Keyring
	fpKey, err := kr.Secret(ctx, "fingerprint")
	if err != nil {
		return nil, fmt.Errorf("fingerprint secret: %w", err)
	}
	if im.hasher, err = fingerprint.NewHasher(fpKey); err != nil {
		return nil, err
	}
	// The fingerprint builder keeps FingerprintMemory bytes and spills
	// runs of keyed hashes (never values) to a directory inside
	// the staging directory, removed whatever the outcome.
	spillDir, err := os.MkdirTemp(im.opts.Dir, ".fingerprints-")
	if err != nil {
		return nil, fmt.Errorf("fingerprint spill directory: %w", errClass(err))
	}
	defer os.RemoveAll(spillDir)
	im.fps = fingerprint.NewBuilder(fingerprint.WithSpill(spillDir, im.opts.FingerprintMemory))
	defer im.fps.Close()
	im.fps.SetKeyID(im.hasher.ID())

	src, err := openSource(ctx, in, im.spec, im.opts.Allocator, im.opts.BatchRows, im.opts.MaxLineBytes)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	res, err := im.plan(ctx, src.Schema())
	if err != nil {
		return nil, err
	}

	plain, wrapped, err := kr.NewDataKey(ctx, im.opts.KeyObject)
	if err != nil {
		return nil, fmt.Errorf("data key for %q: %w", im.opts.KeyObject, err)
	}
	defer clear(plain)
	res.WrappedKey = wrapped

	// data.arrow.sealed: ipc writer -> (plain hash) -> sealer -> file
	out, err := newSealedFile(filepath.Join(im.opts.Dir, DataFile), plain, true)
	if err != nil {
		return nil, err
	}
	defer out.abort()
	w, err := ipc.NewFileWriter(out, ipc.WithSchema(im.schema), ipc.WithAllocator(im.opts.Allocator))
	if err != nil {
		return nil, fmt.Errorf("arrow writer: %w", err)
	}
	writerClosed := false
	defer func() {
		if !writerClosed {
			w.Close()
		}
	}()

	rows, err := im.pipeline(ctx, src, w)
	if err != nil {
		return nil, err
	}
	res.Rows = rows
	for i, kinds := range im.found {
		if len(kinds) == 0 || im.outIdx[i] < 0 {
			continue
		}
		res.Columns[im.outIdx[i]].Acknowledged = kinds
	}
	writerClosed = true
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("finish arrow file: %w", err)
	}
	// The data file's fsync overlaps the fingerprint index's sort.
	dataDone := make(chan error, 1)
	go func() { dataDone <- out.finish() }()
	fpErr := im.writeFingerprints(plain, res)
	if err := <-dataDone; err != nil {
		return nil, err
	}
	if fpErr != nil {
		return nil, fpErr
	}
	res.DataSHA256 = hex.EncodeToString(out.plainHash.Sum(nil))
	res.Bytes = out.plainBytes
	if err := im.fps.Close(); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(spillDir); err != nil {
		return nil, fmt.Errorf("remove fingerprint spill directory: %w", err)
	}
	if err := syncDir(im.opts.Dir); err != nil {
		return nil, err
	}
	return res, nil
}

// writeFingerprints writes the sealed fingerprint index and records its
// counts in res.
func (im *importer) writeFingerprints(key []byte, res *Result) error {
	// The index carries its own checksum; no one asks for its plain hash.
	fp, err := newSealedFile(filepath.Join(im.opts.Dir, FingerprintsFile), key, false)
	if err != nil {
		return err
	}
	defer fp.abort()
	if res.FingerprintValues, res.FingerprintRows, err = im.fps.WriteSet(fp); err != nil {
		return fmt.Errorf("write fingerprint index: %w", err)
	}
	return fp.finish()
}

// plan checks the input's columns against the spec and prepares the
// output schema and the per-column appliers.
func (im *importer) plan(ctx context.Context, inSchema *arrow.Schema) (*Result, error) {
	spec := im.spec
	fields := inSchema.Fields()
	seen := map[string]bool{}
	var undeclared []string
	for _, f := range fields {
		if seen[f.Name] {
			return nil, badInput("duplicate column %q", f.Name)
		}
		seen[f.Name] = true
		if spec.Column(f.Name) == nil {
			undeclared = append(undeclared, strconv.Quote(f.Name))
		}
	}
	if len(undeclared) > 0 {
		return nil, badInput("columns not declared in the spec: %s (every column must be declared)", strings.Join(undeclared, ", "))
	}
	var missing []string
	for _, c := range spec.Columns {
		if !seen[c.Name] {
			missing = append(missing, strconv.Quote(c.Name))
		}
	}
	if len(missing) > 0 {
		return nil, badInput("columns declared in the spec but missing from the input: %s", strings.Join(missing, ", "))
	}

	var pseudonymKey []byte
	for _, c := range spec.Columns {
		if c.Rule.Kind == RuleHash {
			k, err := im.opts.Keyring.Secret(ctx, "pseudonym")
			if err != nil {
				return nil, fmt.Errorf("pseudonym secret: %w", err)
			}
			pseudonymKey = k
			break
		}
	}

	res := &Result{Market: spec.Market, Category: spec.Category, SpecSHA256: spec.SHA256, ImportedAt: im.opts.Now.Truncate(time.Second)}
	n := len(fields)
	im.appliers = make([]*applier, n)
	im.outIdx = make([]int, n)
	im.scan = make([]bool, n)
	im.fpCol = make([]bool, n)
	im.found = make([][]pii.Kind, n)
	var outFields []arrow.Field
	for i, f := range fields {
		c := spec.Column(f.Name)
		var seed [32]byte
		rand.Read(seed[:])
		a := newApplier(c, f.Type, im.opts.Allocator, pseudonymKey, seed, im.opts.Now)
		if err := checkRuleType(c, f.Type); err != nil {
			return nil, err
		}
		im.appliers[i] = a
		im.fpCol[i] = c.PI != PINone || len(c.Acknowledge) > 0
		im.outIdx[i] = -1
		if a.out == nil {
			res.Dropped = append(res.Dropped, c.Name)
			continue
		}
		switch c.Rule.Kind {
		case RuleKeep, RuleTruncate:
			im.scan[i] = true
		case RuleMask:
			im.scan[i] = c.Rule.As == ""
		}
		rule := c.Rule.String()
		md := map[string]string{
			MarkLevel:  c.Level.String(),
			MarkPI:     string(c.PI),
			MarkRule:   rule,
			MarkSource: fmt.Sprintf("%s@%d/%s", im.opts.Dataset, im.opts.Version, c.Name),
		}
		if c.Rule.Kind == RuleNoise {
			md[MarkEpsilon] = strconv.FormatFloat(c.Rule.Epsilon, 'g', -1, 64)
		}
		im.outIdx[i] = len(outFields)
		outFields = append(outFields, arrow.Field{Name: c.Name, Type: a.out, Nullable: true, Metadata: arrow.MetadataFrom(md)})
		res.Columns = append(res.Columns, ColumnInfo{Name: c.Name, Type: a.out.String(), Level: c.Level, PI: c.PI, Rule: rule})
		res.Level = max(res.Level, c.Level)
	}
	if len(outFields) == 0 {
		return nil, fmt.Errorf("the spec drops every column: %w", errdefs.ErrInvalidArgument)
	}
	res.Schema = arrow.NewSchema(outFields, ptr(arrow.MetadataFrom(map[string]string{
		MarkDataset:    im.opts.Dataset,
		MarkVersion:    strconv.Itoa(im.opts.Version),
		MarkMarket:     string(spec.Market),
		MarkSharing:    string(sharingOf(spec)),
		MarkCategory:   spec.Category,
		MarkLevel:      res.Level.String(),
		MarkImportedAt: res.ImportedAt.Format(time.RFC3339),
		MarkSpecSHA256: spec.SHA256,
	})))
	im.schema = res.Schema
	return res, nil
}

func ptr[T any](v T) *T { return &v }

// checkRuleType refuses rules that cannot apply to a column's type at all,
// before any row is read.
func checkRuleType(c *ColumnSpec, t arrow.DataType) error {
	r := c.Rule
	numeric := arrow.IsInteger(t.ID()) || arrow.IsFloating(t.ID())
	text := t.ID() == arrow.STRING || t.ID() == arrow.LARGE_STRING || t.ID() == arrow.STRING_VIEW
	temporal := t.ID() == arrow.DATE32 || t.ID() == arrow.DATE64 || t.ID() == arrow.TIMESTAMP
	ok := true
	switch {
	case r.Kind == RuleNoise || (r.Kind == RuleGeneralize && r.Bucket > 0):
		ok = numeric || text || t.ID() == arrow.DECIMAL128 || t.ID() == arrow.DECIMAL256
	case r.Kind == RuleGeneralize && r.Date != "", r.Kind == RuleGeneralize && r.From == "birth-date":
		ok = temporal || text
	case r.Kind == RuleGeneralize && r.From == "resident-id":
		ok = text
	}
	if !ok {
		return fmt.Errorf("input: column %q of type %s cannot take rule %s: %w", c.Name, t, r, errdefs.ErrInvalidArgument)
	}
	return nil
}

// sealedFile writes a sealed file, with a hash of its plaintext when asked
// for one, fsyncs it and removes it unless finished.
type sealedFile struct {
	f          *os.File
	sealer     *sealedfile.Writer
	plainHash  hash.Hash // nil unless asked for
	plainBytes int64
	done       bool
}

func newSealedFile(path string, key []byte, hashPlain bool) (*sealedFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %q: %w", filepath.Base(path), errClass(err))
	}
	s := &sealedFile{f: f}
	if hashPlain {
		s.plainHash = sha256.New()
	}
	// The sealer writes whole chunks (256 KiB): a buffer after it would
	// only copy them once more.
	s.sealer, err = sealedfile.NewWriter(f, key)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return s, nil
}

func (s *sealedFile) Write(p []byte) (int, error) {
	if s.plainHash != nil {
		s.plainHash.Write(p)
	}
	s.plainBytes += int64(len(p))
	return s.sealer.Write(p)
}

func (s *sealedFile) finish() error {
	if err := s.sealer.Close(); err != nil {
		return err
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync %q: %w", filepath.Base(s.f.Name()), err)
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("close %q: %w", filepath.Base(s.f.Name()), err)
	}
	s.done = true
	return nil
}

func (s *sealedFile) abort() {
	if !s.done {
		s.f.Close()
		os.Remove(s.f.Name())
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// sharingOf is the spec's sharing class; a Spec built in code without one
// is unconditional, as a parsed spec that names none.
func sharingOf(spec *Spec) Sharing {
	if spec.Sharing == "" {
		return SharingUnconditional
	}
	return spec.Sharing
}
