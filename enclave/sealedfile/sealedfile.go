// Package sealedfile encrypts files at rest with AES-256-GCM in chunks.
//
// A sealed file is a 48-byte header followed by chunks. The header holds a
// magic string, a format version, the plaintext chunk size and a random
// 32-byte salt; a per-file subkey is derived from the caller's 32-byte data
// key and the salt with HKDF-SHA256, so one data key may seal several files.
// Each chunk is the GCM sealing of up to ChunkSize plaintext bytes under a
// nonce made of the chunk's index and a last-chunk flag (the STREAM
// construction of Hoang, Reyhanitabar, Rogaway and Vizár), with the header as
// additional data. Reordering, dropping, duplicating or truncating chunks,
// appending data after the last chunk, or changing any byte makes the Reader
// fail with an errdefs.ErrDataLoss class error. Every file, even an empty
// one, ends with exactly one chunk flagged last.
//
// Readers return plaintext only after the chunk holding it has been
// authenticated, and report io.EOF only after the last chunk has been.
package sealedfile

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/containerd/errdefs"
)

const (
	magic      = "ENCSEAL\x00"
	version    = 1
	headerSize = 8 + 4 + 4 + 32
	tagSize    = 16

	// DefaultChunkSize is the plaintext size of every chunk but the last.
	DefaultChunkSize = 256 << 10
	// MaxChunkSize bounds the chunk size a Reader accepts from a header,
	// and so the memory a malformed file can make it allocate.
	MaxChunkSize = 16 << 20
	// KeySize is the size of the data key: AES-256.
	KeySize = 32
)

const maxChunks = 1<<32 - 1

// Overhead returns the number of bytes a sealed file of n plaintext bytes
// adds with the given chunk size (0 means DefaultChunkSize).
func Overhead(n int64, chunkSize int) int64 {
	if chunkSize <= 0 {
		chunkSize = DefaultChunkSize
	}
	chunks := max(1, (n+int64(chunkSize)-1)/int64(chunkSize))
	return headerSize + chunks*tagSize
}

func deriveAEAD(key []byte, header []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("data key must have %d bytes, got %d: %w", KeySize, len(key), errdefs.ErrInvalidArgument)
	}
	sub, err := hkdf.Key(sha256.New, key, header[16:48], "enclave sealedfile v1", KeySize)
	if err != nil {
		return nil, fmt.Errorf("derive file key: %w", err)
	}
	block, err := aes.NewCipher(sub)
	if err != nil {
		return nil, fmt.Errorf("file cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

func nonce(dst *[12]byte, index uint32, last bool) {
	*dst = [12]byte{}
	binary.BigEndian.PutUint32(dst[7:11], index)
	if last {
		dst[11] = 1
	}
}

// Writer seals what is written to it. Close writes the last chunk; a
// Writer that is not closed leaves a file that every Reader refuses as
// truncated. Writer is not safe for concurrent use.
type Writer struct {
	w         io.Writer
	aead      cipher.AEAD
	header    [headerSize]byte
	buf       []byte
	out       []byte
	index     uint32
	nonce     [12]byte
	closed    bool
	err       error
	chunkSize int
}

// Option configures a Writer.
type Option func(*Writer)

// WithChunkSize sets the plaintext chunk size (1 byte to MaxChunkSize).
func WithChunkSize(n int) Option { return func(w *Writer) { w.chunkSize = n } }

// NewWriter writes the header of a new sealed file to w and returns a
// Writer that seals plaintext under key (KeySize bytes).
func NewWriter(w io.Writer, key []byte, opts ...Option) (*Writer, error) {
	sw := &Writer{w: w, chunkSize: DefaultChunkSize}
	for _, o := range opts {
		o(sw)
	}
	if sw.chunkSize <= 0 || sw.chunkSize > MaxChunkSize {
		return nil, fmt.Errorf("chunk size %d out of range: %w", sw.chunkSize, errdefs.ErrInvalidArgument)
	}
	copy(sw.header[:8], magic)
	binary.BigEndian.PutUint32(sw.header[8:12], version)
	binary.BigEndian.PutUint32(sw.header[12:16], uint32(sw.chunkSize))
	if _, err := rand.Read(sw.header[16:48]); err != nil {
		return nil, fmt.Errorf("salt: %w", err)
	}
	aead, err := deriveAEAD(key, sw.header[:])
	if err != nil {
		return nil, err
	}
	sw.aead = aead
	sw.buf = make([]byte, 0, sw.chunkSize)
	sw.out = make([]byte, 0, sw.chunkSize+tagSize)
	if _, err := w.Write(sw.header[:]); err != nil {
		return nil, fmt.Errorf("write sealed file header: %w", err)
	}
	return sw, nil
}

// Write buffers p and seals every full chunk.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, fmt.Errorf("write to a closed sealed file: %w", errdefs.ErrFailedPrecondition)
	}
	n := 0
	for len(p) > 0 {
		// A full buffer is sealed only when more data follows, so that the
		// last chunk is never empty unless the whole file is.
		if len(w.buf) == w.chunkSize {
			if err := w.flush(false); err != nil {
				return n, err
			}
		}
		k := copy(w.buf[len(w.buf):w.chunkSize], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		n += k
	}
	return n, nil
}

func (w *Writer) flush(last bool) error {
	if w.index == maxChunks && !last {
		w.err = fmt.Errorf("sealed file exceeds %d chunks: %w", uint64(maxChunks), errdefs.ErrOutOfRange)
		return w.err
	}
	nonce(&w.nonce, w.index, last)
	w.out = w.aead.Seal(w.out[:0], w.nonce[:], w.buf, w.header[:])
	if _, err := w.w.Write(w.out); err != nil {
		w.err = fmt.Errorf("write sealed chunk %d: %w", w.index, err)
		return w.err
	}
	w.index++
	w.buf = w.buf[:0]
	return nil
}

// Close seals the last chunk. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return nil
	}
	w.closed = true
	return w.flush(true)
}

// Reader opens a sealed file. It is not safe for concurrent use.
type Reader struct {
	r         io.Reader
	aead      cipher.AEAD
	header    [headerSize]byte
	chunkSize int
	in        []byte // one sealed chunk plus one look-ahead byte
	plain     []byte
	pos       int
	index     uint32
	nonce     [12]byte
	done      bool
	err       error
	pending   int // bytes of the next chunk already read into in
}

func dataLoss(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errdefs.ErrDataLoss)...)
}

// NewReader reads the header of the sealed file r and returns a Reader of
// its plaintext under key. A malformed header is an errdefs.ErrDataLoss
// class error; a key of the wrong size is errdefs.ErrInvalidArgument.
func NewReader(r io.Reader, key []byte) (*Reader, error) {
	sr := &Reader{r: r}
	if len(key) != KeySize {
		return nil, fmt.Errorf("data key must have %d bytes, got %d: %w", KeySize, len(key), errdefs.ErrInvalidArgument)
	}
	if _, err := io.ReadFull(r, sr.header[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, dataLoss("sealed file header is truncated")
		}
		return nil, fmt.Errorf("read sealed file header: %w", err)
	}
	if string(sr.header[:8]) != magic {
		return nil, dataLoss("not a sealed file")
	}
	if v := binary.BigEndian.Uint32(sr.header[8:12]); v != version {
		return nil, dataLoss("sealed file version %d not supported", v)
	}
	cs := binary.BigEndian.Uint32(sr.header[12:16])
	if cs == 0 || cs > MaxChunkSize {
		return nil, dataLoss("sealed file chunk size %d out of range", cs)
	}
	sr.chunkSize = int(cs)
	aead, err := deriveAEAD(key, sr.header[:])
	if err != nil {
		return nil, err
	}
	sr.aead = aead
	return sr, nil
}

// Read returns authenticated plaintext.
func (r *Reader) Read(p []byte) (int, error) {
	for r.pos == len(r.plain) {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		r.err = r.next()
	}
	n := copy(p, r.plain[r.pos:])
	r.pos += n
	return n, nil
}

// next reads and opens one chunk. A chunk is the last one exactly when the
// input ends right after it; the flag in its nonce must agree.
func (r *Reader) next() error {
	if r.in == nil {
		r.in = make([]byte, r.chunkSize+tagSize+1)
	}
	want := r.chunkSize + tagSize + 1
	n, err := io.ReadFull(r.r, r.in[r.pending:want])
	n += r.pending
	switch {
	case err == nil:
		// A full chunk and at least one more byte: not the last chunk.
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		err = nil
	default:
		return fmt.Errorf("read sealed chunk %d: %w", r.index, err)
	}
	last := n < want
	size := n
	if !last {
		size = want - 1
	}
	if size < tagSize {
		return dataLoss("sealed file is truncated at chunk %d", r.index)
	}
	nonce(&r.nonce, r.index, last)
	plain, oerr := r.aead.Open(r.plain[:0], r.nonce[:], r.in[:size], r.header[:])
	if oerr != nil {
		return dataLoss("sealed chunk %d failed authentication", r.index)
	}
	r.plain, r.pos = plain, 0
	if last {
		r.done = true
		return nil
	}
	if r.index == maxChunks {
		return dataLoss("sealed file exceeds %d chunks", uint64(maxChunks))
	}
	r.index++
	r.in[0] = r.in[want-1]
	r.pending = 1
	return nil
}
