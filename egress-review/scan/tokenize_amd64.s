//go:build amd64 && !purego

#include "textflag.h"

// tokState offsets (see tokState; checked by TestTokStateLayout).
#define ST_K       0
#define ST_STARTS  8
#define ST_BREAKS  16
#define ST_WCARRY  24
#define ST_BCARRY  32
#define ST_R1      40
#define ST_R2      48
#define ST_JOINED  56
#define ST_DIRTY   64
#define ST_COUNT   72
#define ST_PENDING 80
#define ST_STOP    88
#define ST_NB      96
#define ST_TAGS0   104
#define ST_TAGS1   112
#define ST_COULD   120
#define ST_P       128

// Record bits (see the rec constants; checked by TestRecordBits).
#define B_INNER   46
#define B_SPACE   47
#define B_SEPREAD 48
#define B_GROUP   50
#define B_KNOWN   51
#define B_PAIR    52
#define B_ADJ     53
#define B_KEPT    54
#define B_CROSS   56

// func tokenRunsAMD64(st *tokState, mb *blockMasks, recs *uint64) bool
//
// tokenRunsGo with keep inlined, in registers:
//   DI st, SI &mb[k], R8 recs, R10 starts, R12 r1, R13 count, BX joined;
//   0(SP) k*64, 8(SP) keep; AX CX DX R9 R11 temporaries.
TEXT ·tokenRunsAMD64(SB), NOSPLIT, $16-25
	MOVQ st+0(FP), DI
	MOVQ mb+8(FP), SI
	MOVQ recs+16(FP), R8
	MOVQ ST_K(DI), R9
	MOVQ R9, AX
	IMULQ $40, AX
	ADDQ AX, SI
	SHLQ $6, R9
	MOVQ R9, 0(SP)
	MOVQ ST_STARTS(DI), R10
	MOVQ ST_R1(DI), R12
	MOVQ ST_JOINED(DI), BX
	MOVQ ST_COUNT(DI), R13

loop:
	TESTQ R10, R10
	JNE   token

	// The next block.
	ADDQ  $40, SI
	MOVQ  0(SP), R9
	ADDQ  $64, R9
	MOVQ  R9, 0(SP)
	MOVQ  ST_NB(DI), AX
	SHLQ  $6, AX
	CMPQ  R9, AX
	JGE   retfalse
	MOVQ  0(SI), AX           // w
	MOVQ  AX, CX
	SHLQ  $1, CX
	ORQ   ST_WCARRY(DI), CX
	NOTQ  CX
	ANDQ  AX, CX
	MOVQ  CX, R10             // starts = w &^ (w<<1 | wcarry)
	MOVQ  AX, CX
	SHRQ  $63, CX
	MOVQ  CX, ST_WCARRY(DI)
	NOTQ  AX
	MOVQ  ST_BCARRY(DI), CX
	BTQ   $0, CX
	ADCQ  32(SI), AX          // ^w + break + carry
	SBBQ  CX, CX
	NEGQ  CX
	MOVQ  CX, ST_BCARRY(DI)
	MOVQ  AX, ST_BREAKS(DI)
	JMP   loop

token:
	MOVQ  R10, AX
	NEGQ  AX
	ANDQ  R10, AX             // abit
	XORQ  AX, R10
	BSFQ  AX, DX
	ADDQ  0(SP), DX           // a, and the record r
	CMPQ  DX, ST_STOP(DI)
	JGE   stopped
	TESTQ AX, ST_BREAKS(DI)
	JNE   nospace
	BTSQ  $B_SPACE, DX

nospace:
	TESTQ R12, R12
	JNE   notfirst
	BTSQ  $B_SEPREAD, DX

notfirst:
	MOVQ  0(SI), CX
	ADDQ  AX, CX
	XORQ  0(SI), CX           // the run and the bit after it
	MOVQ  CX, AX
	ANDQ  0(SI), AX           // rm, the run
	XORQ  AX, CX              // ebit
	JEQ   cross
	POPCNTQ AX, CX            // tn
	TESTQ AX, 8(SI)
	JNE   high
	TESTQ AX, 24(SI)
	JEQ   noinner
	BTSQ  $B_INNER, DX

noinner:
	ANDQ    16(SI), AX
	POPCNTQ AX, AX            // digits

packed:
	MOVQ    CX, R9
	SHLQ    $13, R9
	ORQ     R9, DX
	MOVQ    AX, R9
	SHLQ    $26, R9
	ORQ     R9, DX

	// keep(r DX, tn CX, digits AX), with few branches: which tokens are
	// kept and which are groups varies from token to token.
	MOVQ    DX, R9
	BTSQ    $B_GROUP, R9
	CMPQ    AX, CX
	CMOVQEQ R9, DX            // digits == tn: a group
	LEAQ    1(AX), R9
	CMPQ    R9, CX
	JEQ     xcheck            // digits == tn-1: a group if it ends in x

xdone:
	MOVQ    ST_COULD(DI), R9
	MOVQ    (R9)(CX*8), R9
	XORL    R11, R11
	BTQ     AX, R9
	SETCS   R11B              // keep: could[tn] has digits
	BTQ     $B_INNER, DX
	JCS     innerkeep

lenkeep:
	MOVL    $1, R9
	CMPQ    CX, $8
	CMOVQCC R9, R11           // keep: 8 bytes or longer
	MOVQ    R11, 8(SP)

	CMPQ  ST_DIRTY(DI), $0
	JNE   dirty

clean:
	XORL    R9, R9
	BTQ     $B_SPACE, DX
	CMOVQCC R9, BX            // a window starts afresh
	TESTQ   BX, BX
	JEQ     nopair
	MOVQ    R12, R9
	ANDQ    DX, R9
	BTQ     $B_GROUP, R9
	JCS     pairyes           // two number groups
	MOVQ    R12, R9
	SHRQ    $13, R9
	ANDQ    $0x1FFF, R9
	ADDQ    CX, R9            // n
	MOVQ    R12, R11
	SHRQ    $26, R11
	ANDQ    $0x1FFF, R11
	ADDQ    AX, R11           // d
	CMPQ    R9, $64
	JCC     pairlong
	SHLQ    $3, R9
	ADDQ    ST_COULD(DI), R9
	MOVQ    (R9), R9
	BTQ     R11, R9           // (not BT to memory with a register: slow)
	JCC     nopair

pairyes:
	BTSQ  $B_PAIR, DX
	MOVQ  $1, 8(SP)
	TESTQ R12, R12
	JEQ   nopair
	BTQ   $B_KEPT, R12
	JCS   nopair
	MOVQ  ST_R2(DI), R9
	BTQ   $B_KEPT, R9
	JCC   r1store
	BTSQ  $B_ADJ, R12

r1store:
	MOVQ  R12, (R8)(R13*8)
	INCQ  R13
	BTSQ  $B_KEPT, R12

nopair:
	BTSQ    $B_KNOWN, DX
	MOVQ    BX, R9
	SHLQ    $39, R9
	ORQ     R9, DX
	MOVQ    DX, R9
	BTSQ    $B_ADJ, R9
	BTQ     $B_KEPT, R12
	CMOVQCS R9, DX            // adjacent to r1 if r1 is kept
	MOVQ    8(SP), R11
	MOVQ    DX, (R8)(R13*8)   // kept if R11 is 1 (else overwritten)
	ADDQ    R11, R13
	MOVQ    DX, R9
	BTSQ    $B_KEPT, R9
	TESTQ   R11, R11
	CMOVQNE R9, DX
	MOVQ    R12, ST_R2(DI)
	MOVQ    DX, R12
	CMPQ    BX, $3
	ADCQ    $0, BX            // joined = min(joined+1, 3)
	JMP     loop

xcheck:
	MOVQ  DX, R9
	ANDQ  $0x1FFF, R9
	ADDQ  CX, R9
	ADDQ  ST_P(DI), R9
	MOVBLZX -1(R9), R9
	ORL   $0x20, R9
	CMPL  R9, $0x78
	JNE   xdone
	BTSQ  $B_GROUP, DX
	JMP   xdone

innerkeep:
	MOVQ  $2, R9
	SHLQ  CX, R9
	DECQ  R9                  // the lengths up to tn
	XORL  R11, R11
	TESTQ R9, ST_TAGS0(DI)
	SETNE R11B
	TESTQ R9, ST_TAGS1(DI)
	JEQ   lenkeep
	MOVL  $1, R11
	JMP   lenkeep

pairlong:
	// n >= 64: asciiCould with n capped at 63.
	CMPQ  R9, R11
	JNE   pairlongmixed
	BTQ   $63, ST_TAGS1(DI)
	JCS   pairyes
	JMP   nopair

pairlongmixed:
	BTQ   $63, ST_TAGS0(DI)
	JCS   pairyes
	CMPQ  R11, $6
	JCS   nopair
	CMPQ  R11, $63
	JLS   dcap
	MOVQ  $63, R11

dcap:
	MOVQ  ST_TAGS1(DI), R9
	BTQ   R11, R9
	JCS   pairyes
	JMP   nopair

dirty:
	MOVQ  $((1<<B_SPACE)|(1<<B_SEPREAD)), R9
	TESTQ R9, DX
	JNE   dirtykeep
	MOVQ  $0, ST_DIRTY(DI)
	XORL  BX, BX
	JMP   clean

dirtykeep:
	MOVQ  $((1<<B_PAIR)|(1<<B_ADJ)), R9
	ORQ   R9, DX
	MOVQ  DX, (R8)(R13*8)
	INCQ  R13
	MOVQ  R12, ST_R2(DI)
	MOVQ  DX, R12
	BTSQ  $B_KEPT, R12
	JMP   loop

cross:
	// The run (AX) goes on into block k+1: when it ends there, before
	// byte 64, it is measured here; else tokenize measures it.
	MOVQ    0(SP), R9
	ADDQ    $64, R9
	MOVQ    ST_NB(DI), R11
	SHLQ    $6, R11
	CMPQ    R9, R11
	JGE     crossgo
	MOVQ    40(SI), R9
	NOTQ    R9
	MOVQ    R9, R11
	NEGQ    R11
	ANDQ    R9, R11
	DECQ    R11               // the run in block k+1 (all of it if w is all ones)
	POPCNTQ AX, CX
	POPCNTQ R11, R9
	ADDQ    R9, CX            // tn
	CMPQ    CX, $64
	JCC     crossgo
	TESTQ   AX, 8(SI)
	JNE     crossgo
	TESTQ   R11, 48(SI)
	JNE     crossgo
	TESTQ   AX, 24(SI)
	JEQ     crossinner
	BTSQ    $B_INNER, DX

crossinner:
	TESTQ   R11, 64(SI)
	JEQ     crossdigits
	BTSQ    $B_INNER, DX

crossdigits:
	ANDQ    16(SI), AX
	POPCNTQ AX, AX
	ANDQ    56(SI), R11
	POPCNTQ R11, R11
	ADDQ    R11, AX           // digits
	JMP     packed

crossgo:
	BTRQ  $B_INNER, DX
	BTSQ  $B_CROSS, DX
	MOVQ  DX, ST_PENDING(DI)
	JMP   rettrue

high:
	SHLQ  $13, CX
	ORQ   CX, DX
	MOVQ  DX, ST_PENDING(DI)
	JMP   rettrue

stopped:
	XORL  R10, R10
	MOVQ  ST_NB(DI), AX
	SHLQ  $6, AX
	MOVQ  AX, 0(SP)

retfalse:
	MOVQ  0(SP), AX
	SARQ  $6, AX
	MOVQ  AX, ST_K(DI)
	MOVQ  R10, ST_STARTS(DI)
	MOVQ  R12, ST_R1(DI)
	MOVQ  BX, ST_JOINED(DI)
	MOVQ  R13, ST_COUNT(DI)
	MOVB  $0, ret+24(FP)
	RET

rettrue:
	MOVQ  0(SP), AX
	SARQ  $6, AX
	MOVQ  AX, ST_K(DI)
	MOVQ  R10, ST_STARTS(DI)
	MOVQ  R12, ST_R1(DI)
	MOVQ  BX, ST_JOINED(DI)
	MOVQ  R13, ST_COUNT(DI)
	MOVB  $1, ret+24(FP)
	RET
