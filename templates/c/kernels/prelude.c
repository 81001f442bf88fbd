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
