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
	i := 0
	for ; i+8 <= n; i += 8 {
		m := binary.LittleEndian.Uint64(p[i:])
		v3 ^= m
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= m
	}
	var t uint64
	if n >= 8 { // see shortWord
		t = binary.LittleEndian.Uint64(p[n-8:]) >> (64 - 8*uint(n-i))
	} else {
		t = shortWord(p, i)
	}
	return sipEnd(v0, v1, v2, v3, t|uint64(n&0xff)<<56)
}

// sum64Lower is sum64 of p with its capitals in lower case, for p of
// ASCII bytes: each block is lowered as it is read.
func (k sipKey) sum64Lower(p []byte) uint64 {
	v0, v1, v2, v3 := k.start()
	n := len(p)
	i := 0
	for ; i+8 <= n; i += 8 {
		m := lowerWord(binary.LittleEndian.Uint64(p[i:]))
		v3 ^= m
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= m
	}
	var t uint64
	if n >= 8 { // see shortWord
		t = binary.LittleEndian.Uint64(p[n-8:]) >> (64 - 8*uint(n-i))
	} else {
		t = shortWord(p, i)
	}
	return sipEnd(v0, v1, v2, v3, lowerWord(t)|uint64(n&0xff)<<56)
}

// shortWord returns p[i:] of a p shorter than eight bytes as a
// little-endian word padded with zeros, from two loads that overlap in
// the middle. sum64, sum64Lower and cellWords read the bytes left after
// the last whole block so, without a loop or a copy, and from the last
// eight bytes of p shifted right past those before i when p has eight
// (by 64 when none are left, which gives 0).
func shortWord(p []byte, i int) uint64 {
	n := len(p)
	switch r := n - i; {
	case r >= 4:
		return uint64(binary.LittleEndian.Uint32(p[i:])) | uint64(binary.LittleEndian.Uint32(p[n-4:]))<<(8*uint(r-4))
	case r > 0:
		return uint64(p[i]) | uint64(p[i+r/2])<<(8*uint(r/2)) | uint64(p[n-1])<<(8*uint(r-1))
	}
	return 0
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
