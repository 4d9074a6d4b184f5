package ingest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"hash"
)

// pseudonymMAC computes HMAC-SHA256 under one key, for the hash rule's
// pseudonyms: one per cell. A value of up to 55 bytes fits, padded, in one
// SHA-256 block, and so does the inner hash for the outer one: the MAC is
// then two compressions from the key's inner and outer states, fed as
// whole blocks so that crypto/sha256 neither buffers nor pads, and read
// from the states it marshals. crypto/hmac does the same two compressions
// with more copying around them; longer values go to it.
//
// The states are read from crypto/sha256's marshaled form; newPseudonymMAC
// checks the shortcut against crypto/hmac and never takes it if they
// disagree, so a change of that form costs speed, never correctness.
type pseudonymMAC struct {
	mac          hash.Hash // crypto/hmac, for long values
	inner, outer hash.Hash
	istate       []byte // marshaled inner state after the key block
	ostate       []byte // marshaled outer state after the key block
	fast         bool
	block        [sha256.BlockSize]byte
	state        []byte
	sum          [sha256.Size]byte
}

// shortMAC is the longest value the fast path takes: the value, the 0x80
// byte and the 8-byte length fill one block.
const shortMAC = sha256.BlockSize - 9

// sha256Magic starts crypto/sha256's marshaled state; the eight state
// words follow it, big-endian, which is the digest's encoding.
const sha256Magic = "sha\x03"

func newPseudonymMAC(key []byte) *pseudonymMAC {
	m := &pseudonymMAC{mac: hmac.New(sha256.New, key), inner: sha256.New(), outer: sha256.New()}
	k := key
	if len(k) > sha256.BlockSize {
		s := sha256.Sum256(k)
		k = s[:]
	}
	var ipad, opad [sha256.BlockSize]byte
	copy(ipad[:], k)
	copy(opad[:], k)
	for i := range ipad {
		ipad[i] ^= 0x36
		opad[i] ^= 0x5c
	}
	m.inner.Write(ipad[:])
	m.outer.Write(opad[:])
	im, ok1 := m.inner.(encoding.BinaryMarshaler)
	om, ok2 := m.outer.(encoding.BinaryMarshaler)
	_, ok3 := m.inner.(encoding.BinaryUnmarshaler)
	if !ok1 || !ok2 || !ok3 {
		return m
	}
	var err1, err2 error
	m.istate, err1 = im.MarshalBinary()
	m.ostate, err2 = om.MarshalBinary()
	if err1 != nil || err2 != nil {
		return m
	}
	// Take the shortcut only if it gives crypto/hmac's MAC.
	m.fast = true
	for _, probe := range []string{"", "enclave pseudonym probe", string(bytes.Repeat([]byte{0xA5}, shortMAC))} {
		got, ok := m.short([]byte(probe))
		if !ok || !bytes.Equal(got, m.long([]byte(probe))) {
			m.fast = false
			break
		}
	}
	return m
}

// Sum returns the MAC of v; the slice is valid until the next call.
func (m *pseudonymMAC) Sum(v []byte) []byte {
	if m.fast && len(v) <= shortMAC {
		if s, ok := m.short(v); ok {
			return s
		}
	}
	return m.long(v)
}

func (m *pseudonymMAC) long(v []byte) []byte {
	m.mac.Reset()
	m.mac.Write(v)
	return m.mac.Sum(m.sum[:0])
}

// short is the MAC of a v of at most shortMAC bytes, from the key's
// states; false if a state could not be set or read.
func (m *pseudonymMAC) short(v []byte) ([]byte, bool) {
	b := m.block[:]
	inner, ok := m.compress(m.inner, m.istate, b, v)
	if !ok {
		return nil, false
	}
	outer, ok := m.compress(m.outer, m.ostate, b, inner)
	if !ok {
		return nil, false
	}
	copy(m.sum[:], outer)
	return m.sum[:], true
}

// compress restores h to state (after one key block), feeds it msg padded
// as the last block of a 64+len(msg) byte message, and returns the
// resulting digest, read from h's marshaled state.
func (m *pseudonymMAC) compress(h hash.Hash, state, b, msg []byte) ([]byte, bool) {
	if h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state) != nil {
		return nil, false
	}
	n := copy(b, msg)
	b[n] = 0x80
	clear(b[n+1 : sha256.BlockSize-8])
	binary.BigEndian.PutUint64(b[sha256.BlockSize-8:], uint64(sha256.BlockSize+len(msg))*8)
	h.Write(b)
	var err error
	if a, ok := h.(encoding.BinaryAppender); ok {
		m.state, err = a.AppendBinary(m.state[:0])
	} else {
		m.state, err = h.(encoding.BinaryMarshaler).MarshalBinary()
	}
	if err != nil || len(m.state) < len(sha256Magic)+sha256.Size || string(m.state[:len(sha256Magic)]) != sha256Magic {
		return nil, false
	}
	return m.state[len(sha256Magic) : len(sha256Magic)+sha256.Size], true
}
