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
	MOVQ    CX, R9
	SHLQ    $13, R9
	ORQ     R9, DX
	MOVQ    AX, R9
	SHLQ    $26, R9
	ORQ     R9, DX

	// keep(r DX, tn CX, digits AX)
	CMPQ  AX, CX
	JEQ   group
	LEAQ  -1(CX), R9
	CMPQ  AX, R9
	JNE   nogroup
	MOVQ  DX, R9
	ANDQ  $0x1FFF, R9
	ADDQ  CX, R9
	ADDQ  ST_P(DI), R9
	MOVBLZX -1(R9), R9
	ORL   $0x20, R9
	CMPL  R9, $0x78
	JNE   nogroup

group:
	BTSQ  $B_GROUP, DX

nogroup:
	MOVQ  $0, 8(SP)
	CMPQ  CX, $8
	JCC   keepyes
	BTQ   $B_INNER, DX
	JCC   plain
	MOVQ  $2, R9
	SHLQ  CX, R9
	DECQ  R9                  // the lengths up to tn
	TESTQ R9, ST_TAGS0(DI)
	JNE   keepyes
	TESTQ R9, ST_TAGS1(DI)
	JNE   keepyes
	JMP   keepdone

plain:
	LEAQ  (AX)(CX*8), R9
	BTQ   R9, ST_COULD(DI)
	JCC   keepdone

keepyes:
	MOVQ  $1, 8(SP)

keepdone:
	CMPQ  ST_DIRTY(DI), $0
	JEQ   clean
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

clean:
	BTQ   $B_SPACE, DX
	JCS   spaceok
	XORL  BX, BX

spaceok:
	TESTQ BX, BX
	JEQ   nopair
	MOVQ  R12, R9
	ANDQ  DX, R9
	BTQ   $B_GROUP, R9
	JCS   pairyes
	MOVQ  R12, R9
	SHRQ  $13, R9
	ANDQ  $0x1FFF, R9
	ADDQ  CX, R9              // n
	MOVQ  R12, R11
	SHRQ  $26, R11
	ANDQ  $0x1FFF, R11
	ADDQ  AX, R11             // d
	CMPQ  R9, $63
	JLS   nok
	MOVQ  $63, R9

nok:
	CMPQ  R11, $63
	JLS   dok
	MOVQ  $63, R11

dok:
	CMPQ  R9, R11
	JNE   pairmixed
	BTQ   R9, ST_TAGS1(DI)
	JCS   pairyes
	JMP   nopair

pairmixed:
	BTQ   R9, ST_TAGS0(DI)
	JCS   pairyes
	CMPQ  R11, $6
	JCS   nopair
	BTQ   R11, ST_TAGS1(DI)
	JCC   nopair

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
	BTSQ  $B_KNOWN, DX
	MOVQ  BX, R9
	SHLQ  $39, R9
	ORQ   R9, DX
	CMPQ  8(SP), $0
	JEQ   nokeep
	BTQ   $B_KEPT, R12
	JCC   rstore
	BTSQ  $B_ADJ, DX

rstore:
	MOVQ  DX, (R8)(R13*8)
	INCQ  R13
	BTSQ  $B_KEPT, DX

nokeep:
	MOVQ  R12, ST_R2(DI)
	MOVQ  DX, R12
	CMPQ  BX, $3
	JCC   loop
	INCQ  BX
	JMP   loop

cross:
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
