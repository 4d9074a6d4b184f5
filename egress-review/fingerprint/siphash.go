package fingerprint

import (
	"encoding/binary"
	"math/bits"
)

// sipKey is a SipHash-2-4 key split into its two 64-bit halves.
type sipKey struct{ k0, k1 uint64 }

func newSipKey(key []byte) sipKey {
	return sipKey{binary.LittleEndian.Uint64(key[0:8]), binary.LittleEndian.Uint64(key[8:16])}
}

// sum64 is SipHash-2-4 (Aumasson and Bernstein) of p under k.
func (k sipKey) sum64(p []byte) uint64 {
	v0, v1, v2, v3 := k.start()
	n := len(p)
	for len(p) >= 8 {
		m := binary.LittleEndian.Uint64(p)
		v3 ^= m
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= m
		p = p[8:]
	}
	var t uint64
	switch len(p) {
	case 7:
		t |= uint64(p[6]) << 48
		fallthrough
	case 6:
		t |= uint64(p[5]) << 40
		fallthrough
	case 5:
		t |= uint64(p[4]) << 32
		fallthrough
	case 4:
		t |= uint64(p[3]) << 24
		fallthrough
	case 3:
		t |= uint64(p[2]) << 16
		fallthrough
	case 2:
		t |= uint64(p[1]) << 8
		fallthrough
	case 1:
		t |= uint64(p[0])
	}
	m := t | uint64(n&0xff)<<56
	return sipEnd(v0, v1, v2, v3, m)
}

// sum64Lower is sum64 of p with its capitals in lower case, for p of
// ASCII bytes: each block is lowered as it is read.
func (k sipKey) sum64Lower(p []byte) uint64 {
	v0, v1, v2, v3 := k.start()
	n := len(p)
	for len(p) >= 8 {
		m := lowerWord(binary.LittleEndian.Uint64(p))
		v3 ^= m
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= m
		p = p[8:]
	}
	var w [8]byte
	copy(w[:], p)
	m := lowerWord(binary.LittleEndian.Uint64(w[:])) | uint64(n&0xff)<<56
	return sipEnd(v0, v1, v2, v3, m)
}

// sum64Words is sum64 of the little-endian encoding of ws: each word is
// one block of the message, read without encoding it first.
func (k sipKey) sum64Words(ws []uint64) uint64 {
	v0, v1, v2, v3 := k.start()
	for _, m := range ws {
		v3 ^= m
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= m
	}
	m := uint64(8*len(ws)&0xff) << 56 // no bytes left over; the length
	return sipEnd(v0, v1, v2, v3, m)
}

// start is SipHash's initial state under k.
func (k sipKey) start() (v0, v1, v2, v3 uint64) {
	return k.k0 ^ 0x736f6d6570736575, k.k1 ^ 0x646f72616e646f6d, k.k0 ^ 0x6c7967656e657261, k.k1 ^ 0x7465646279746573
}

// sipEnd compresses the last block m (the bytes left over and the length)
// into the state and finalizes it.
func sipEnd(v0, v1, v2, v3, m uint64) uint64 {
	v3 ^= m
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= m
	v2 ^= 0xff
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	return v0 ^ v1 ^ v2 ^ v3
}

func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}
