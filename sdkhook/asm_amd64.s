#include "textflag.h"

// func fpCallerPC(skip int) uintptr
// Follows the frame-pointer chain skip times from the caller's frame and
// returns the return address stored above that frame.
TEXT ·fpCallerPC(SB), NOSPLIT|NOFRAME, $0-16
	MOVQ skip+0(FP), CX
	MOVQ BP, AX
loop:
	TESTQ CX, CX
	JZ   done
	MOVQ 0(AX), AX
	DECQ CX
	JMP  loop
done:
	MOVQ 8(AX), AX
	MOVQ AX, ret+8(FP)
	RET

// func rdtsc() uint64
TEXT ·rdtsc(SB), NOSPLIT|NOFRAME, $0-8
	RDTSC
	SHLQ $32, DX
	ORQ  DX, AX
	MOVQ AX, ret+0(FP)
	RET
