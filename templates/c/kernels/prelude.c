/* An element function's extra operands (a residual Add's input, say): pointers the
 * function casts back to their element type. */
typedef const void *const *kiln_ctx;

/* IEEE constants by their bits (kiln_f32_from_bits is emitted where these are used). */
#define KILN_INF_F32 (kiln_f32_from_bits(0x7f800000u))
#define KILN_NAN_F32 (kiln_f32_from_bits(0x7fc00000u))

/* The odometers below keep one index per merged axis. */
#define KILN_MAX_RANK 16

/* A unary element function of f32 (the recurrent ops' activations). */
typedef float (*kiln_fn1_f32)(kiln_ctx, float);

/* A kernel that calls a per-output function (the requantization): inlined at each call
 * with GCC and clang, where that function is a constant, so its body is inlined into the
 * kernel's loop instead of called through a pointer for every output. */
#if defined(__GNUC__)
#define KILN_SPECIALISED static __inline__ __attribute__((always_inline))
#else
#define KILN_SPECIALISED static
#endif

/* acc + a * b for the float micro-kernels. On a 32-bit Arm FPU one VMLA: it rounds the
 * product and then the sum, so the result is a multiply's then an add's (the Rust kernels',
 * which LLVM prints as VMLA), in one instruction where GCC at -std=c99 emits two. Fewer
 * instructions to fetch, but on a Cortex-M4 VMLA takes 3 cycles against 1 each for VMUL
 * and VADD (Arm's timings): define KILN_NO_VMLA for the separate pair, the same results. */
#if defined(__arm__) && defined(__ARM_FP) && (__ARM_FP & 4) && defined(__GNUC__) && !defined(KILN_NO_VMLA)
static __inline__ float kiln_mla(float acc, float a, float b)
{
    __asm__("vmla.f32 %0, %1, %2" : "+t"(acc) : "t"(a), "t"(b));
    return acc;
}
#define KILN_MLA(acc, a, b) kiln_mla((acc), (a), (b))
#else
#define KILN_MLA(acc, a, b) ((acc) + (a) * (b))
#endif
