/*
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78) for the engine hot path.
 *
 * Three implementations share one set of tables:
 *   - a portable slicing-by-8 loop (any CPU, any byte order);
 *   - x86-64 SSE4.2 `crc32` and aarch64 ARMv8 CRC `crc32c*` instructions, each run as
 *     three independent streams so the instruction's 3-cycle latency is hidden (one
 *     stream is latency-bound at 8 bytes per 3 cycles; three keep the unit busy every
 *     cycle), the partial registers being merged with "shift by N zero bytes" tables.
 * The hardware functions carry a per-function target attribute, so the module is built
 * without global -msse4.2 / -march flags and still loads on CPUs lacking the
 * instruction; crc32c_select() picks the implementation once, at import, by asking the
 * CPU (cpuid on x86, getauxval(AT_HWCAP) on aarch64).
 *
 * Algebra used throughout (all polynomials over GF(2), reduced modulo P):
 * the bare CRC register (no pre/post inversion) after feeding A||B equals
 *     reg(A||B) = reg(A) * x^(8|B|)  XOR  reg0(B)
 * where reg0(B) is the register after feeding B starting from zero. Multiplying a
 * register by the constant x^(8n) is linear in the register's bits, so it is a table
 * lookup per register byte (4 x 256 entries per n). The same identity, applied to the
 * conditioned CRC values, gives crc32c_combine() (the ~0 conditioning cancels).
 *
 * Registers are kept in the reflected bit order of the standard CRC32C: bit 31 is the
 * coefficient of x^0 and bit 0 the coefficient of x^31.
 */
#ifndef ENGINE_CRC32C_IMPL_H
#define ENGINE_CRC32C_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u

/* Interleave tiers. The hardware loop runs three streams over three consecutive blocks
 * of one tier's length, merges them, and repeats while 3 blocks remain; then it drops to
 * the next tier, and finishes the last < 3*TINY bytes on one stream. LONG is large so
 * the merge (two table shifts, ~15 cycles of latency) is noise; MID and SHORT are
 * ~4080/3 and ~1008/3 so 4 KiB and 1 KiB buffers (and multiples) are covered almost
 * entirely by three-stream rounds; TINY bounds the single-stream tail. Each length must
 * be a multiple of 16 (the loop takes 16 bytes per stream per iteration). */
#define CRC32C_LONG 8192
#define CRC32C_MID 1360
#define CRC32C_SHORT 336
#define CRC32C_TINY 64
#if CRC32C_LONG % 16 || CRC32C_MID % 16 || CRC32C_SHORT % 16 || CRC32C_TINY % 16
#error "CRC32C interleave block lengths must be multiples of 16"
#endif

/* -------------------------------------------------------------------------- tables */

static uint32_t crc32c_sw_table[8][256];     /* slicing-by-8 byte tables */
static uint32_t crc32c_long_shift[4][256];   /* register * x^(8*LONG) mod P */
static uint32_t crc32c_mid_shift[4][256];    /* register * x^(8*MID) mod P */
static uint32_t crc32c_short_shift[4][256];  /* register * x^(8*SHORT) mod P */
static uint32_t crc32c_tiny_shift[4][256];   /* register * x^(8*TINY) mod P */
/* x^(2^k) mod P for k = 0..66: enough for any 64-bit byte count times 8. */
#define CRC32C_X2N_COUNT 67
static uint32_t crc32c_x2n[CRC32C_X2N_COUNT];

/* a * b mod P, both in reflected order. */
static uint32_t crc32c_multmodp(uint32_t a, uint32_t b)
{
    uint32_t m = 1u << 31; /* x^0 */
    uint32_t p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = (b & 1) ? (b >> 1) ^ CRC32C_POLY : b >> 1; /* b *= x */
    }
    return p;
}

/* x^(8 * nbytes) mod P by square-and-multiply over the bits of nbytes. */
static uint32_t crc32c_x8n(uint64_t nbytes)
{
    uint32_t p = 1u << 31; /* x^0 */
    int k = 3;             /* x^(8n) = x^(n * 2^3) */
    while (nbytes) {
        if (nbytes & 1)
            p = crc32c_multmodp(crc32c_x2n[k], p);
        nbytes >>= 1;
        k++;
    }
    return p;
}

static void crc32c_fill_shift(uint32_t table[4][256], uint64_t nbytes)
{
    uint32_t k = crc32c_x8n(nbytes);
    for (int j = 0; j < 4; j++)
        for (uint32_t b = 0; b < 256; b++)
            table[j][b] = crc32c_multmodp(k, b << (8 * j));
}

/* Multiply a bare register by the constant a shift table (4 x 256, flattened) was
 * built for. */
static inline uint32_t crc32c_shift(const uint32_t *table, uint32_t reg)
{
    return table[reg & 0xff] ^ table[256 + ((reg >> 8) & 0xff)] ^
           table[512 + ((reg >> 16) & 0xff)] ^ table[768 + (reg >> 24)];
}

static void crc32c_init_tables(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int i = 0; i < 8; i++)
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        crc32c_sw_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = crc32c_sw_table[0][n];
        for (int t = 1; t < 8; t++) {
            c = (c >> 8) ^ crc32c_sw_table[0][c & 0xff];
            crc32c_sw_table[t][n] = c;
        }
    }
    crc32c_x2n[0] = 1u << 30; /* x^1 */
    for (int k = 1; k < CRC32C_X2N_COUNT; k++)
        crc32c_x2n[k] = crc32c_multmodp(crc32c_x2n[k - 1], crc32c_x2n[k - 1]);
    crc32c_fill_shift(crc32c_long_shift, CRC32C_LONG);
    crc32c_fill_shift(crc32c_mid_shift, CRC32C_MID);
    crc32c_fill_shift(crc32c_short_shift, CRC32C_SHORT);
    crc32c_fill_shift(crc32c_tiny_shift, CRC32C_TINY);
}

/* ------------------------------------------------------------------ combination */

/* CRC of A||B from crc(A), crc(B) and |B|, in O(log |B|). */
static inline uint32_t crc32c_combine_impl(uint32_t crc1, uint32_t crc2, uint64_t len2)
{
    return crc32c_multmodp(crc32c_x8n(len2), crc1) ^ crc2;
}

/* ---------------------------------------------------------------- portable path */

static inline uint32_t crc32c_load32le(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

/* Bare-register update, slicing-by-8. */
static uint32_t crc32c_sw_reg(uint32_t reg, const unsigned char *p, size_t len)
{
    while (len && ((uintptr_t)p & 7)) {
        reg = (reg >> 8) ^ crc32c_sw_table[0][(reg ^ *p++) & 0xff];
        len--;
    }
    while (len >= 8) {
        uint32_t lo = reg ^ crc32c_load32le(p);
        uint32_t hi = crc32c_load32le(p + 4);
        reg = crc32c_sw_table[7][lo & 0xff] ^ crc32c_sw_table[6][(lo >> 8) & 0xff] ^
              crc32c_sw_table[5][(lo >> 16) & 0xff] ^ crc32c_sw_table[4][lo >> 24] ^
              crc32c_sw_table[3][hi & 0xff] ^ crc32c_sw_table[2][(hi >> 8) & 0xff] ^
              crc32c_sw_table[1][(hi >> 16) & 0xff] ^ crc32c_sw_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        reg = (reg >> 8) ^ crc32c_sw_table[0][(reg ^ *p++) & 0xff];
    return reg;
}

static uint32_t crc32c_software_impl(uint32_t crc, const unsigned char *p, size_t len)
{
    return ~crc32c_sw_reg(~crc, p, len);
}

/* ------------------------------------------------------------ three-way hardware */

/*
 * One body for both architectures: STEP64/STEP8 are the CPU's register-update
 * instructions. In a round of a tier, streams 0, 1, 2 cover three consecutive BLOCK-byte
 * blocks (16 bytes per stream per iteration); streams 1 and 2 start from a zero register
 * and are folded into stream 0 by the identity above:
 *     reg0 = shift_BLOCK(reg0) ^ reg1;  reg0 = shift_BLOCK(reg0) ^ reg2.
 */
#define CRC32C_HW_TIER(STEP64, WORD_T, BLOCK, TABLE)                                   \
    while (len >= 3 * (size_t)(BLOCK)) {                                               \
        WORD_T r0 = c0, r1 = 0, r2 = 0;                                                \
        const unsigned char *end = p + (BLOCK);                                        \
        do {                                                                           \
            uint64_t w0, w1, w2;                                                       \
            memcpy(&w0, p, 8);                                                         \
            memcpy(&w1, p + (BLOCK), 8);                                               \
            memcpy(&w2, p + 2 * (BLOCK), 8);                                           \
            r0 = STEP64(r0, w0);                                                       \
            r1 = STEP64(r1, w1);                                                       \
            r2 = STEP64(r2, w2);                                                       \
            memcpy(&w0, p + 8, 8);                                                     \
            memcpy(&w1, p + 8 + (BLOCK), 8);                                           \
            memcpy(&w2, p + 8 + 2 * (BLOCK), 8);                                       \
            r0 = STEP64(r0, w0);                                                       \
            r1 = STEP64(r1, w1);                                                       \
            r2 = STEP64(r2, w2);                                                       \
            p += 16;                                                                   \
        } while (p < end);                                                             \
        c0 = crc32c_shift((TABLE)[0], (uint32_t)r0) ^ (uint32_t)r1;                    \
        c0 = crc32c_shift((TABLE)[0], c0) ^ (uint32_t)r2;                              \
        p += 2 * (BLOCK);                                                              \
        len -= 3 * (size_t)(BLOCK);                                                    \
    }

#define CRC32C_HW_BODY(STEP64, STEP8, WORD_T)                                          \
    uint32_t c0 = ~crc;                                                                \
    while (len && ((uintptr_t)p & 7)) {                                                \
        c0 = STEP8(c0, *p++);                                                          \
        len--;                                                                         \
    }                                                                                  \
    CRC32C_HW_TIER(STEP64, WORD_T, CRC32C_LONG, crc32c_long_shift)                     \
    CRC32C_HW_TIER(STEP64, WORD_T, CRC32C_MID, crc32c_mid_shift)                       \
    CRC32C_HW_TIER(STEP64, WORD_T, CRC32C_SHORT, crc32c_short_shift)                   \
    CRC32C_HW_TIER(STEP64, WORD_T, CRC32C_TINY, crc32c_tiny_shift)                     \
    {                                                                                  \
        WORD_T r0 = c0;                                                                \
        while (len >= 8) {                                                             \
            uint64_t w;                                                                \
            memcpy(&w, p, 8);                                                          \
            r0 = STEP64(r0, w);                                                        \
            p += 8;                                                                    \
            len -= 8;                                                                  \
        }                                                                              \
        c0 = (uint32_t)r0;                                                             \
    }                                                                                  \
    while (len) {                                                                      \
        c0 = STEP8(c0, *p++);                                                          \
        len--;                                                                         \
    }                                                                                  \
    return ~c0;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC32C_HAVE_SSE42 1
#include <nmmintrin.h>

#define CRC32C_X86_STEP64(r, w) _mm_crc32_u64((r), (w))
#define CRC32C_X86_STEP8(r, b) _mm_crc32_u8((r), (b))

__attribute__((target("sse4.2"))) static uint32_t
crc32c_sse42_impl(uint32_t crc, const unsigned char *p, size_t len)
{
    /* _mm_crc32_u64 takes and returns a 64-bit register whose top half is zero. */
    CRC32C_HW_BODY(CRC32C_X86_STEP64, CRC32C_X86_STEP8, uint64_t)
}

static int crc32c_cpu_has_hw(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}
#define CRC32C_HW_NAME "sse4.2"
#define CRC32C_HW_FUNC crc32c_sse42_impl

#elif defined(__aarch64__) && !defined(__AARCH64EB__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#define CRC32C_HAVE_ARMV8 1
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif

#if defined(__clang__)
/* clang's builtins need only the function-level "crc" target feature. */
#define CRC32C_ARM_TARGET __attribute__((target("crc")))
#define CRC32C_ARM_STEP64(r, w) __builtin_arm_crc32cd((r), (w))
#define CRC32C_ARM_STEP8(r, b) __builtin_arm_crc32cb((r), (b))
#else
/* GCC: make arm_acle.h define the CRC intrinsics (older GCC only does so when the
 * feature is enabled), compiled for +crc, then restore the global target. */
#pragma GCC push_options
#pragma GCC target("+crc")
#include <arm_acle.h>
#pragma GCC pop_options
#define CRC32C_ARM_TARGET __attribute__((target("+crc")))
#define CRC32C_ARM_STEP64(r, w) __crc32cd((r), (w))
#define CRC32C_ARM_STEP8(r, b) __crc32cb((r), (b))
#endif

CRC32C_ARM_TARGET static uint32_t
crc32c_armv8_impl(uint32_t crc, const unsigned char *p, size_t len)
{
    CRC32C_HW_BODY(CRC32C_ARM_STEP64, CRC32C_ARM_STEP8, uint32_t)
}

static int crc32c_cpu_has_hw(void)
{
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) ? 1 : 0;
}
#define CRC32C_HW_NAME "armv8-crc"
#define CRC32C_HW_FUNC crc32c_armv8_impl

#endif /* other CPUs: software only */

/* ------------------------------------------------------------------- dispatch */

typedef uint32_t (*crc32c_fn)(uint32_t, const unsigned char *, size_t);

static crc32c_fn crc32c_active = crc32c_software_impl;
static const char *crc32c_active_name = "software";

/* Build the tables and pick the implementation; call once before anything else.
 * force_software != 0 keeps the portable path even on capable CPUs. */
static void crc32c_select(int force_software)
{
    crc32c_init_tables();
    crc32c_active = crc32c_software_impl;
    crc32c_active_name = "software";
#if defined(CRC32C_HW_FUNC)
    if (!force_software && crc32c_cpu_has_hw()) {
        crc32c_active = CRC32C_HW_FUNC;
        crc32c_active_name = CRC32C_HW_NAME;
    }
#else
    (void)force_software;
#endif
}

static inline uint32_t crc32c_update(uint32_t crc, const unsigned char *p, size_t len)
{
    return crc32c_active(crc, p, len);
}

#endif /* ENGINE_CRC32C_IMPL_H */
