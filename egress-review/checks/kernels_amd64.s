//go:build amd64 && !purego

#include "textflag.h"

DATA absmask<>+0x00(SB)/8, $0x7fffffffffffffff
GLOBL absmask<>(SB), RODATA|NOPTR, $8
DATA signmask<>+0x00(SB)/8, $0x8000000000000000
GLOBL signmask<>(SB), RODATA|NOPTR, $8
DATA one<>+0x00(SB)/8, $0x3ff0000000000000
GLOBL one<>(SB), RODATA|NOPTR, $8
DATA halfc<>+0x00(SB)/8, $0x3fe0000000000000
GLOBL halfc<>(SB), RODATA|NOPTR, $8
DATA inf<>+0x00(SB)/8, $0x7ff0000000000000
GLOBL inf<>(SB), RODATA|NOPTR, $8

// Comparison predicates of VCMPPD: EQ_OQ 0x00, NLE_UQ 0x06 (true for
// NaN), LT_OQ 0x11, GE_OQ 0x1D. In Go's operand order, VCMPPD $p, B, A, D
// sets D to A p B.

// func firstReadingAVX2(v, x *float64, blocks int, k *[3]float64, out *byte)
TEXT ·firstReadingAVX2(SB), NOSPLIT, $0-40
	MOVQ v+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ blocks+16(FP), CX
	MOVQ k+24(FP), DX
	MOVQ out+32(FP), BX
	VBROADCASTSD 0(DX), Y10   // scale
	VBROADCASTSD 8(DX), Y11   // p
	VBROADCASTSD 16(DX), Y12  // tol
	VBROADCASTSD absmask<>(SB), Y13
	VBROADCASTSD one<>(SB), Y14
	VBROADCASTSD halfc<>(SB), Y15
	VBROADCASTSD inf<>(SB), Y9
	VBROADCASTSD signmask<>(SB), Y8

first_loop:
	TESTQ CX, CX
	JZ    first_done
	VMOVUPD (DI), Y0          // x
	VMULPD  Y10, Y0, Y0       // xs = x * scale
	VANDPD  Y13, Y0, Y1       // |xs|
	VMULPD  Y11, Y0, Y2       // y = xs * p
	VANDPD  Y13, Y2, Y3       // a = |y|
	VROUNDPD $3, Y3, Y4       // t = trunc(a)
	VSUBPD  Y4, Y3, Y5        // a - t
	VCMPPD  $0x1D, Y15, Y5, Y5 // a - t >= 0.5
	VANDPD  Y14, Y5, Y5       // 1 or 0
	VADDPD  Y5, Y4, Y4        // t + the step away from zero
	VANDPD  Y8, Y2, Y6        // y's sign
	VORPD   Y6, Y4, Y4        // roundHalfAway(y)
	VDIVPD  Y11, Y4, Y4       // / p
	VMOVUPD (SI), Y6          // v
	VSUBPD  Y4, Y6, Y6        // v - that
	VANDPD  Y13, Y6, Y6       // d = |v - that|
	VMAXPD  Y1, Y14, Y7       // max(1, |xs|)
	VMULPD  Y12, Y7, Y7       // eps = tol * max(1, |xs|)
	VCMPPD  $0x06, Y7, Y6, Y6 // !(d <= eps)
	VCMPPD  $0x00, Y9, Y1, Y7 // |xs| == +Inf
	VORPD   Y7, Y6, Y6
	VMOVMSKPD Y6, AX
	MOVB    AL, (BX)
	ADDQ    $32, SI
	ADDQ    $32, DI
	INCQ    BX
	DECQ    CX
	JMP     first_loop

first_done:
	VZEROUPPER
	RET

// func fewerRunAVX2(a *float64, blocks int, k *[3]float64) int
TEXT ·fewerRunAVX2(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ blocks+8(FP), CX
	MOVQ k+16(FP), DX
	VBROADCASTSD 0(DX), Y10   // p
	VBROADCASTSD 8(DX), Y11   // lim
	VBROADCASTSD 16(DX), Y12  // top
	VBROADCASTSD absmask<>(SB), Y13
	VBROADCASTSD one<>(SB), Y14
	VBROADCASTSD halfc<>(SB), Y15
	XORQ AX, AX

run_loop:
	TESTQ CX, CX
	JZ    run_done
	VMOVUPD (SI), Y0
	VANDPD  Y13, Y0, Y0       // a = |v|
	VCMPPD  $0x11, Y11, Y0, Y1 // a < lim
	VCMPPD  $0x11, Y12, Y0, Y2 // a < top
	VANDPD  Y2, Y1, Y1
	VMULPD  Y10, Y0, Y3       // x = a * p
	VROUNDPD $3, Y3, Y4       // t = trunc(x)
	VSUBPD  Y4, Y3, Y5
	VCMPPD  $0x1D, Y15, Y5, Y5 // x - t >= 0.5
	VANDPD  Y14, Y5, Y5
	VADDPD  Y5, Y4, Y4        // roundHalfAway(x), x >= 0
	VDIVPD  Y10, Y4, Y4       // / p
	VCMPPD  $0x00, Y0, Y4, Y4 // == a
	VANDPD  Y4, Y1, Y1
	VMOVMSKPD Y1, BX
	CMPQ    BX, $15
	JNE     run_left
	ADDQ    $4, AX
	ADDQ    $32, SI
	DECQ    CX
	JMP     run_loop

run_left:
	NOTQ    BX
	BSFQ    BX, BX            // the first lane that leaves the run
	ADDQ    BX, AX

run_done:
	VZEROUPPER
	MOVQ AX, ret+24(FP)
	RET
