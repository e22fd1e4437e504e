#include "textflag.h"

// PIECE sets the low 16 bits of dst to the mask of the bytes of the 16 at
// off(SI) that special marks: below 0x20 but tab and line feed (x is below
// 0x20 when min(x, 0x1f) == x), '"', '&', '\'', '<' and '>'; and ORs the
// 16 bytes into X7, whose high bits then tell the bytes from 0x80 on.
#define PIECE(off, dst) \
	MOVOU   off(SI), X0; \
	POR     X0, X7; \
	MOVO    X0, X1; \
	PMINUB  X8, X1; \
	PCMPEQB X0, X1; \
	MOVO    X0, X2; \
	PCMPEQB X9, X2; \
	MOVO    X0, X3; \
	PCMPEQB X10, X3; \
	POR     X3, X2; \
	PANDN   X1, X2; \
	MOVO    X0, X3; \
	PCMPEQB X11, X3; \
	POR     X3, X2; \
	MOVO    X0, X3; \
	PCMPEQB X12, X3; \
	POR     X3, X2; \
	MOVO    X0, X3; \
	PCMPEQB X13, X3; \
	POR     X3, X2; \
	MOVO    X0, X3; \
	PCMPEQB X14, X3; \
	POR     X3, X2; \
	PCMPEQB X15, X0; \
	POR     X0, X2; \
	PMOVMSKB X2, dst

// BCAST broadcasts the byte repeated in the 64-bit constant c to every
// byte of x.
#define BCAST(c, x) \
	MOVQ       $c, AX; \
	MOVQ       AX, x; \
	PUNPCKLQDQ x, x

// func specialBits(s []byte, bits []uint64) (high bool)
TEXT ·specialBits(SB), NOSPLIT, $0-49
	MOVQ s_base+0(FP), SI
	MOVQ s_len+8(FP), CX
	MOVQ bits_base+24(FP), DI
	PXOR X7, X7
	SHRQ $6, CX
	JZ   done
	BCAST(0x1f1f1f1f1f1f1f1f, X8)
	BCAST(0x0909090909090909, X9)
	BCAST(0x0a0a0a0a0a0a0a0a, X10)
	BCAST(0x2222222222222222, X11)
	BCAST(0x2626262626262626, X12)
	BCAST(0x2727272727272727, X13)
	BCAST(0x3c3c3c3c3c3c3c3c, X14)
	BCAST(0x3e3e3e3e3e3e3e3e, X15)

block:
	PIECE(0, AX)
	PIECE(16, BX)
	PIECE(32, DX)
	PIECE(48, R8)
	SHLQ $16, BX
	SHLQ $32, DX
	SHLQ $48, R8
	ORQ  BX, AX
	ORQ  DX, AX
	ORQ  R8, AX
	MOVQ AX, (DI)
	ADDQ $64, SI
	ADDQ $8, DI
	DECQ CX
	JNZ  block

done:
	PMOVMSKB X7, AX
	TESTL    AX, AX
	SETNE    high+48(FP)
	RET
