// Package release makes and verifies release bundles: a tar archive
// of the approved files and an in-toto attestation in a DSSE envelope,
// signed by the enclave's key, that names every file with its SHA-256 and
// marks, the job, the image, the input dataset versions and their marks,
// the policy revision, every check with its version and verdict, the
// approvers and the scenario. Verification needs only the public key and
// works offline.
package release

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// Names inside a bundle.
const (
	AttestationName = "attestation.dsse.json"
	FilesDir        = "files/"
	PayloadType     = "application/vnd.in-toto+json"
	StatementType   = "https://in-toto.io/Statement/v1"
	PredicateType   = "https://enclave.dev/attestations/release/v1"
)

// Limits on what Verify reads from an untrusted bundle.
const (
	maxAttestation = 4 << 20
	maxFiles       = 10000
)

// Digest is a set of named hashes of a subject.
type Digest struct {
	SHA256 string `json:"sha256"`
}

// Subject is one released file.
type Subject struct {
	Name   string `json:"name"` // "files/NAME"
	Digest Digest `json:"digest"`
}

// Statement is an in-toto v1 statement about the released files.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
}

// File is one released file with its marks.
type File struct {
	Name   string            `json:"name"`
	SHA256 string            `json:"sha256"`
	Size   int64             `json:"size"`
	Level  string            `json:"level,omitempty"`
	Marks  map[string]string `json:"marks,omitempty"`
	Fields map[string]string `json:"field_levels,omitempty"`
}

// Input is one dataset version the job read.
type Input struct {
	Dataset string            `json:"dataset"`
	Version int               `json:"version"`
	Level   string            `json:"level"`
	Market  string            `json:"market"`
	Marks   map[string]string `json:"marks,omitempty"`
}

// Check is one egress check as it ran.
type Check struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Verdict string `json:"verdict"`
}

// Approval is one officer's approval.
type Approval struct {
	Person string `json:"person"`
	// PersonName is the officer's name beside the id (issue 21); bundles
	// released before it have none.
	PersonName    string    `json:"person_name,omitempty"`
	Org           string    `json:"org"`
	Time          time.Time `json:"time"`
	Comment       string    `json:"comment,omitempty"`
	Justification string    `json:"justification,omitempty"`
}

// Job is what produced the files.
type Job struct {
	ID       string   `json:"id"`
	Image    string   `json:"image"`
	Command  []string `json:"command"`
	ExitCode int      `json:"exit_code"`
	Ended    string   `json:"ended"`
}

// Predicate is the enclave's release attestation.
type Predicate struct {
	Release   string `json:"release"`
	Export    string `json:"export"`
	Org       string `json:"org"`
	Requester string `json:"requester"`
	// RequesterName is the requester's name beside the id (issue 21);
	// bundles released before it have none.
	RequesterName  string            `json:"requester_name,omitempty"`
	Purpose        string            `json:"purpose"`
	Scenario       string            `json:"scenario"`
	Grants         map[string]string `json:"grants"`
	Job            Job               `json:"job"`
	Inputs         []Input           `json:"inputs"`
	Files          []File            `json:"files"`
	PolicyRevision string            `json:"policy_revision"`
	Checks         []Check           `json:"checks"`
	Verdict        string            `json:"verdict"`
	Overridden     bool              `json:"overridden,omitempty"`
	Approvals      []Approval        `json:"approvals"`
	RequestedAt    time.Time         `json:"requested_at"`
	ReleasedAt     time.Time         `json:"released_at"`
	Keyring        string            `json:"keyring"`
}

// Signature is one DSSE signature.
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// Envelope is a DSSE envelope.
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     string      `json:"payload"`
	Signatures  []Signature `json:"signatures"`
}

// PAE is DSSE's pre-authentication encoding of a payload: what is signed.
func PAE(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "DSSEv1 %d %s %d ", len(payloadType), payloadType, len(payload))
	b.Write(payload)
	return b.Bytes()
}

// KeyID names an ed25519 public key: the hex SHA-256 of its bytes.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:])
}

// Source is one file to release: its name in the bundle and where it is.
type Source struct {
	Name string
	Path string
}

// Write writes a bundle of srcs with pred, signed by sign, to w. The
// predicate's Files must describe srcs (name, SHA-256); Write checks each
// file's hash as it copies it, so a file changed since the checks fails.
func Write(w io.Writer, pred Predicate, srcs []Source, pub ed25519.PublicKey, sign func([]byte) ([]byte, error)) error {
	byName := map[string]File{}
	for _, f := range pred.Files {
		byName[f.Name] = f
	}
	st := Statement{Type: StatementType, PredicateType: PredicateType, Predicate: pred}
	for _, f := range pred.Files {
		st.Subject = append(st.Subject, Subject{Name: FilesDir + f.Name, Digest: Digest{SHA256: f.SHA256}})
	}
	payload, err := json.Marshal(st)
	if err != nil {
		return err
	}
	sig, err := sign(PAE(PayloadType, payload))
	if err != nil {
		return fmt.Errorf("sign the attestation: %w", err)
	}
	env := Envelope{PayloadType: PayloadType, Payload: base64.StdEncoding.EncodeToString(payload),
		Signatures: []Signature{{KeyID: KeyID(pub), Sig: base64.StdEncoding.EncodeToString(sig)}}}
	envJSON, _ := json.MarshalIndent(env, "", "  ")
	tw := tar.NewWriter(w)
	mtime := pred.ReleasedAt.UTC().Truncate(time.Second)
	if err := tw.WriteHeader(&tar.Header{Name: AttestationName, Mode: 0o644, Size: int64(len(envJSON)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
		return err
	}
	if _, err := tw.Write(envJSON); err != nil {
		return err
	}
	for _, s := range srcs {
		want, ok := byName[s.Name]
		if !ok {
			return fmt.Errorf("file %q is not described by the attestation: %w", s.Name, errdefs.ErrInvalidArgument)
		}
		f, err := os.Open(s.Path)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: FilesDir + s.Name, Mode: 0o644, Size: fi.Size(), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			f.Close()
			return err
		}
		h := sha256.New()
		_, err = io.Copy(io.MultiWriter(tw, h), f)
		f.Close()
		if err != nil {
			return err
		}
		if hex.EncodeToString(h.Sum(nil)) != want.SHA256 {
			return fmt.Errorf("file %q changed since it was checked: %w", s.Name, errdefs.ErrDataLoss)
		}
	}
	return tw.Close()
}

// Verified is what Verify found in a bundle whose signature and hashes
// all check out.
type Verified struct {
	Predicate Predicate
	KeyID     string
	Files     []File
}

// Verify reads a bundle and checks it against pub: the envelope's
// signature over the statement, every file's SHA-256 against the subject,
// no file missing, none extra, none twice, and no entry that is not a
// plain file with a clean name. Any failure is an error naming what did
// not match; a bundle that fails is never partly trusted.
func Verify(r io.Reader, pub ed25519.PublicKey) (*Verified, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key must be %d bytes of ed25519: %w", ed25519.PublicKeySize, errdefs.ErrInvalidArgument)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("bundle: "+format+": %w", append(a, errdefs.ErrDataLoss)...)
	}
	tr := tar.NewReader(r)
	var envJSON []byte
	hashes := map[string]string{}
	sizes := map[string]int64{}
	n := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, bad("not a readable tar archive")
		}
		n++
		if n > maxFiles+1 {
			return nil, bad("more than %d entries", maxFiles)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, bad("entry %q is not a regular file", clean(hdr.Name))
		}
		name := hdr.Name
		if name != path.Clean(name) || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
			return nil, bad("entry %q has an unsafe name", clean(name))
		}
		if name == AttestationName {
			if envJSON != nil {
				return nil, bad("two attestations")
			}
			envJSON, err = io.ReadAll(io.LimitReader(tr, maxAttestation+1))
			if err != nil || len(envJSON) > maxAttestation {
				return nil, bad("attestation unreadable or larger than %d bytes", maxAttestation)
			}
			continue
		}
		if !strings.HasPrefix(name, FilesDir) {
			return nil, bad("entry %q is outside %s", clean(name), FilesDir)
		}
		if _, dup := hashes[name]; dup {
			return nil, bad("entry %q appears twice", clean(name))
		}
		h := sha256.New()
		size, err := io.Copy(h, tr)
		if err != nil {
			return nil, bad("entry %q unreadable", clean(name))
		}
		hashes[name] = hex.EncodeToString(h.Sum(nil))
		sizes[name] = size
	}
	if envJSON == nil {
		return nil, bad("no %s", AttestationName)
	}
	var env Envelope
	if err := json.Unmarshal(envJSON, &env); err != nil {
		return nil, bad("attestation is not a DSSE envelope")
	}
	if env.PayloadType != PayloadType {
		return nil, bad("attestation payload type %q, want %q", clean(env.PayloadType), PayloadType)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, bad("attestation payload is not base64")
	}
	keyID := KeyID(pub)
	if !env.signedBy(pub, payload) {
		return nil, bad("no signature verifies with the key %s", keyID[:16])
	}
	var st Statement
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, bad("statement does not parse")
	}
	if st.Type != StatementType || st.PredicateType != PredicateType {
		return nil, bad("statement is not an enclave release")
	}
	seen := map[string]bool{}
	for _, s := range st.Subject {
		got, present := hashes[s.Name]
		if !present {
			return nil, bad("file %q named by the attestation is missing", clean(s.Name))
		}
		if got != s.Digest.SHA256 {
			return nil, bad("file %q does not match its signed SHA-256", clean(s.Name))
		}
		seen[s.Name] = true
	}
	var extra []string
	for name := range hashes {
		if !seen[name] {
			extra = append(extra, clean(name))
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, bad("files not named by the attestation: %s", strings.Join(extra, ", "))
	}
	files := st.Predicate.Files
	for _, f := range files {
		if hashes[FilesDir+f.Name] != f.SHA256 || sizes[FilesDir+f.Name] != f.Size {
			return nil, bad("file %q does not match the predicate", clean(f.Name))
		}
	}
	if len(files) != len(st.Subject) {
		return nil, bad("the predicate and the subject list different files")
	}
	return &Verified{Predicate: st.Predicate, KeyID: keyID, Files: files}, nil
}

// clean makes a name from an untrusted bundle safe to print.
func clean(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
