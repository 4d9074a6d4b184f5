#include "textflag.h"

// Byte classes by nibble (see classifyAVX2): a byte's class is
// lotab[low nibble] & hitab[high nibble], with the bits
//   0x01 digit              high 3,   low 0-9
//   0x02 letter A-O, a-o    high 4,6, low 1-F
//   0x04 letter P-Z, p-z    high 5,7, low 0-A
//   0x08 % + - . /          high 2,   low 5,B,D,E,F
//   0x10 =                  high 3,   low D
//   0x20 @                  high 4,   low 0
//   0x40 _                  high 5,   low F
// zero for any other byte (non-ASCII bytes have a high nibble of 8 to F).
DATA lotab<>+0x00(SB)/8, $0x07070F0707070725
DATA lotab<>+0x08(SB)/8, $0x4A0A1A020A060707
DATA lotab<>+0x10(SB)/8, $0x07070F0707070725
DATA lotab<>+0x18(SB)/8, $0x4A0A1A020A060707
GLOBL lotab<>(SB), RODATA|NOPTR, $32

DATA hitab<>+0x00(SB)/8, $0x0402442211080000
DATA hitab<>+0x08(SB)/8, $0x0000000000000000
DATA hitab<>+0x10(SB)/8, $0x0402442211080000
DATA hitab<>+0x18(SB)/8, $0x0000000000000000
GLOBL hitab<>(SB), RODATA|NOPTR, $32

DATA nibble<>+0x00(SB)/8, $0x0F0F0F0F0F0F0F0F
DATA nibble<>+0x08(SB)/8, $0x0F0F0F0F0F0F0F0F
DATA nibble<>+0x10(SB)/8, $0x0F0F0F0F0F0F0F0F
DATA nibble<>+0x18(SB)/8, $0x0F0F0F0F0F0F0F0F
GLOBL nibble<>(SB), RODATA|NOPTR, $32

DATA innerbits<>+0x00(SB)/8, $0x7878787878787878
DATA innerbits<>+0x08(SB)/8, $0x7878787878787878
DATA innerbits<>+0x10(SB)/8, $0x7878787878787878
DATA innerbits<>+0x18(SB)/8, $0x7878787878787878
GLOBL innerbits<>(SB), RODATA|NOPTR, $32

DATA spaces<>+0x00(SB)/8, $0x2020202020202020
DATA spaces<>+0x08(SB)/8, $0x2020202020202020
DATA spaces<>+0x10(SB)/8, $0x2020202020202020
DATA spaces<>+0x18(SB)/8, $0x2020202020202020
GLOBL spaces<>(SB), RODATA|NOPTR, $32

DATA tabs<>+0x00(SB)/8, $0x0909090909090909
DATA tabs<>+0x08(SB)/8, $0x0909090909090909
DATA tabs<>+0x10(SB)/8, $0x0909090909090909
DATA tabs<>+0x18(SB)/8, $0x0909090909090909
GLOBL tabs<>(SB), RODATA|NOPTR, $32

// CLASS32 stores the masks of the 32 bytes at off(SI) as the low (off 0)
// or high (off 32) halves of the masks at DI (see blockMasks).
#define CLASS32(off) \
	VMOVDQU   off(SI), Y0 \
	VPAND     Y12, Y0, Y1 \
	VPSRLW    $4, Y0, Y2 \
	VPAND     Y12, Y2, Y2 \
	VPSHUFB   Y1, Y10, Y1 \
	VPSHUFB   Y2, Y11, Y2 \
	VPAND     Y1, Y2, Y1 \
	VPMOVMSKB Y0, AX \
	VPCMPEQB  Y14, Y1, Y3 \
	VPMOVMSKB Y3, BX \
	VPSLLW    $7, Y1, Y4 \
	VPMOVMSKB Y4, DX \
	VPAND     Y13, Y1, Y5 \
	VPCMPEQB  Y14, Y5, Y5 \
	VPMOVMSKB Y5, R8 \
	VPCMPEQB  Y15, Y0, Y6 \
	VPCMPEQB  Y9, Y0, Y7 \
	VPOR      Y6, Y7, Y6 \
	VPMOVMSKB Y6, R9 \
	MOVL      AX, (8+off/8)(DI) \
	MOVL      DX, (16+off/8)(DI) \
	NOTL      R8 \
	MOVL      R8, (24+off/8)(DI) \
	ORL       AX, R9 \
	NOTL      R9 \
	ANDL      BX, R9 \
	MOVL      R9, (32+off/8)(DI) \
	NOTL      BX \
	ORL       AX, BX \
	MOVL      BX, (0+off/8)(DI)

// func classifyAVX2(p *byte, blocks int, out *blockMasks)
TEXT ·classifyAVX2(SB), NOSPLIT, $0-24
	MOVQ    p+0(FP), SI
	MOVQ    blocks+8(FP), CX
	MOVQ    out+16(FP), DI
	VMOVDQU lotab<>(SB), Y10
	VMOVDQU hitab<>(SB), Y11
	VMOVDQU nibble<>(SB), Y12
	VMOVDQU innerbits<>(SB), Y13
	VMOVDQU spaces<>(SB), Y15
	VMOVDQU tabs<>(SB), Y9
	VPXOR   Y14, Y14, Y14

loop:
	TESTQ CX, CX
	JZ    done
	CLASS32(0)
	CLASS32(32)
	ADDQ  $64, SI
	ADDQ  $40, DI
	DECQ  CX
	JMP   loop

done:
	VZEROUPPER
	RET
