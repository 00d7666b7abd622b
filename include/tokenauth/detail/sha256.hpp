// tokenauth: SHA-256 on the CPU's SHA instructions where it has them, libsodium elsewhere.
//
// sha256() hashes any input; sha256_7_16_32_hw() hashes the 55 bytes of a 7-byte prefix and
// inputs of 16 and 32 bytes (the at-rest hash of an access token) in one compression, the
// message laid out in registers. The accelerated path is x86's SHA extensions (SHA-NI:
// sha256rnds2, sha256msg1, sha256msg2), chosen at run time from CPUID, or ARMv8's SHA-2
// instructions (sha256h, sha256h2, sha256su0, sha256su1), chosen from the kernel's hwcaps
// (tests/arm64 runs them under qemu-aarch64); every other CPU, and
// any build that defines TOKENAUTH_NO_SHA_EXTENSIONS, uses libsodium's portable
// crypto_hash_sha256. Neither path allocates, locks or branches on the data; the
// differential fuzzer (fuzz/sha256_fuzzer.cpp) checks the accelerated path against
// libsodium on every length it is given.
#pragma once

#include "config.hpp"

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "wipe.hpp"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(TOKENAUTH_NO_SHA_EXTENSIONS)
#define TOKENAUTH_HAVE_SHA_NI 1
#define TOKENAUTH_HAVE_SHA_HW 1
#include <cpuid.h>
#include <immintrin.h>
#elif defined(__aarch64__) && defined(__linux__) && !defined(TOKENAUTH_NO_SHA_EXTENSIONS) && \
    (defined(__ARM_FEATURE_SHA2) || (defined(__GNUC__) && !defined(__clang__)))
// GCC compiles the SHA-2 intrinsics inside functions marked +crypto; other compilers need
// the feature for the whole build (-march=armv8-a+crypto).
#define TOKENAUTH_HAVE_SHA_ARM 1
#define TOKENAUTH_HAVE_SHA_HW 1
#include <arm_neon.h>
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace tokenauth {
TOKENAUTH_ABI_BEGIN
namespace detail {

inline constexpr std::uint32_t sha256_initial_state[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                                          0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

inline constexpr std::uint32_t sha256_round_constants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#if defined(TOKENAUTH_HAVE_SHA_NI)

/// True when this CPU runs SHA-NI (with the SSSE3 and SSE4.1 shuffles the code also uses).
/// Asked of CPUID once; Valgrind's virtual CPU reports no SHA, so the portable path runs there.
inline bool cpu_has_sha_extensions() noexcept {
    static const bool has = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (__get_cpuid(1, &a, &b, &c, &d) == 0) return false;
        const bool ssse3 = (c >> 9) & 1, sse41 = (c >> 19) & 1;
        if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
        const bool sha = (b >> 29) & 1;
        return ssse3 && sse41 && sha;
    }();
    return has;
}

#define TOKENAUTH_SHA_NI_TARGET __attribute__((target("sha,ssse3,sse4.1")))

// The instructions keep the eight working variables as two vectors, ABEF and CDGH; message
// words are big-endian.
TOKENAUTH_SHA_NI_TARGET inline __m128i sha256_ni_byte_swap() noexcept {
    return _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
}

TOKENAUTH_SHA_NI_TARGET inline void sha256_ni_load_state(const std::uint32_t state[8], __m128i& abef,
                                                         __m128i& cdgh) noexcept {
    const __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state));
    const __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4));
    const __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
    const __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
    abef = _mm_alignr_epi8(cdab, efgh, 8);
    cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
}

/// The state back in word order: DCBA into lo, HGFE into hi.
TOKENAUTH_SHA_NI_TARGET inline void sha256_ni_unpack_state(__m128i abef, __m128i cdgh, __m128i& lo,
                                                           __m128i& hi) noexcept {
    const __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    const __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    lo = _mm_blend_epi16(feba, dchg, 0xF0);
    hi = _mm_alignr_epi8(dchg, feba, 8);
}

/// The 64 rounds of one block whose message words (host order) are w0..w3, added into the
/// state.
TOKENAUTH_SHA_NI_TARGET inline void sha256_ni_block(__m128i& abef, __m128i& cdgh, __m128i w0, __m128i w1, __m128i w2,
                                                    __m128i w3) noexcept {
    const __m128i abef_in = abef, cdgh_in = cdgh;
    __m128i w[4] = {w0, w1, w2, w3};
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
        // Four rounds a step: W[4i..4i+3]; from step 4 on, the schedule computes them from the
        // four vectors before (W[t-16..t-13] + sigma0, + W[t-7..t-4], + sigma1).
        if (i >= 4) {
            const __m128i older = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);
            const __m128i mid = _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4);
            w[i & 3] = _mm_sha256msg2_epu32(_mm_add_epi32(older, mid), w[(i + 3) & 3]);
        }
        __m128i wk =
            _mm_add_epi32(w[i & 3], _mm_loadu_si128(reinterpret_cast<const __m128i*>(sha256_round_constants + 4 * i)));
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
        wk = _mm_shuffle_epi32(wk, 0x0E);
        abef = _mm_sha256rnds2_epu32(abef, cdgh, wk);
    }
    abef = _mm_add_epi32(abef, abef_in);
    cdgh = _mm_add_epi32(cdgh, cdgh_in);
}

/// One compression per 64-byte block of in, into state (host-order words). Call only when
/// cpu_has_sha_extensions().
TOKENAUTH_SHA_NI_TARGET inline void sha256_compress_ni(std::uint32_t state[8], const std::uint8_t* in,
                                                       std::size_t blocks) noexcept {
    __m128i abef, cdgh;
    sha256_ni_load_state(state, abef, cdgh);
    const __m128i swap = sha256_ni_byte_swap();
    for (; blocks != 0; --blocks, in += 64) {
        __m128i w[4];
        for (int i = 0; i < 4; ++i)
            w[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 16 * i)), swap);
        sha256_ni_block(abef, cdgh, w[0], w[1], w[2], w[3]);
    }
    __m128i lo, hi;
    sha256_ni_unpack_state(abef, cdgh, lo, hi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state), lo);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), hi);
}

/// SHA-256 of the 55 bytes prefix[0..7) || a[0..16) || b[0..32), one compression, with the
/// message laid out in registers (no block in memory to build, wipe or stall on): the
/// at-rest hash of an access token. Call only when cpu_has_sha_extensions().
TOKENAUTH_SHA_NI_TARGET inline void sha256_7_16_32_ni(const std::uint8_t (&prefix)[7], const std::uint8_t* a,
                                                      const std::uint8_t* b, std::uint8_t out[32]) noexcept {
    // The prefix in bytes 9..15, the padding (0x80, then the bit length 440 big-endian) in
    // bytes 0..8 of two constant-like vectors; alignr shifts each 16-byte window into place.
    std::uint8_t high[16] = {}, tail[16] = {0x80, 0, 0, 0, 0, 0, 0, 0x01, 0xb8};
    for (int i = 0; i < 7; ++i) high[9 + i] = prefix[i];
    const __m128i p = _mm_loadu_si128(reinterpret_cast<const __m128i*>(high));
    const __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(tail));
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a));
    const __m128i s0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
    const __m128i s1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16));
    const __m128i swap = sha256_ni_byte_swap();
    const __m128i w0 = _mm_shuffle_epi8(_mm_alignr_epi8(x, p, 9), swap);    // prefix, a[0..9)
    const __m128i w1 = _mm_shuffle_epi8(_mm_alignr_epi8(s0, x, 9), swap);   // a[9..16), b[0..9)
    const __m128i w2 = _mm_shuffle_epi8(_mm_alignr_epi8(s1, s0, 9), swap);  // b[9..25)
    const __m128i w3 = _mm_shuffle_epi8(_mm_alignr_epi8(t, s1, 9), swap);   // b[25..32), padding
    __m128i abef, cdgh;
    sha256_ni_load_state(sha256_initial_state, abef, cdgh);
    sha256_ni_block(abef, cdgh, w0, w1, w2, w3);
    __m128i lo, hi;
    sha256_ni_unpack_state(abef, cdgh, lo, hi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_shuffle_epi8(lo, swap));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16), _mm_shuffle_epi8(hi, swap));
}

/// The portable names of the two accelerated entry points.
inline void sha256_compress_hw(std::uint32_t state[8], const std::uint8_t* in, std::size_t blocks) noexcept {
    sha256_compress_ni(state, in, blocks);
}
inline void sha256_7_16_32_hw(const std::uint8_t (&prefix)[7], const std::uint8_t* a, const std::uint8_t* b,
                              std::uint8_t out[32]) noexcept {
    sha256_7_16_32_ni(prefix, a, b, out);
}

#undef TOKENAUTH_SHA_NI_TARGET

#elif defined(TOKENAUTH_HAVE_SHA_ARM)

/// True when this CPU has the ARMv8 SHA-2 instructions (the kernel's hwcaps, asked once).
inline bool cpu_has_sha_extensions() noexcept {
    static const bool has = (getauxval(AT_HWCAP) & HWCAP_SHA2) != 0;
    return has;
}

#if defined(__ARM_FEATURE_SHA2)
#define TOKENAUTH_SHA_ARM_TARGET
#else
#define TOKENAUTH_SHA_ARM_TARGET __attribute__((target("+crypto")))
#endif

/// The 64 rounds of one block whose message words are w0..w3, added into the state.
TOKENAUTH_SHA_ARM_TARGET inline void sha256_arm_block(uint32x4_t& abcd, uint32x4_t& efgh, uint32x4_t w0, uint32x4_t w1,
                                                      uint32x4_t w2, uint32x4_t w3) noexcept {
    const uint32x4_t abcd_in = abcd, efgh_in = efgh;
    uint32x4_t w[4] = {w0, w1, w2, w3};
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
        if (i >= 4) w[i & 3] = vsha256su1q_u32(vsha256su0q_u32(w[i & 3], w[(i + 1) & 3]), w[(i + 2) & 3], w[(i + 3) & 3]);
        const uint32x4_t wk = vaddq_u32(w[i & 3], vld1q_u32(sha256_round_constants + 4 * i));
        const uint32x4_t before = abcd;
        abcd = vsha256hq_u32(abcd, efgh, wk);
        efgh = vsha256h2q_u32(efgh, before, wk);
    }
    abcd = vaddq_u32(abcd, abcd_in);
    efgh = vaddq_u32(efgh, efgh_in);
}

/// 16 message bytes as four big-endian words.
TOKENAUTH_SHA_ARM_TARGET inline uint32x4_t sha256_arm_words(uint8x16_t bytes) noexcept {
    return vreinterpretq_u32_u8(vrev32q_u8(bytes));
}

/// One compression per 64-byte block of in, into state (host-order words). Call only when
/// cpu_has_sha_extensions().
TOKENAUTH_SHA_ARM_TARGET inline void sha256_compress_hw(std::uint32_t state[8], const std::uint8_t* in,
                                                        std::size_t blocks) noexcept {
    uint32x4_t abcd = vld1q_u32(state), efgh = vld1q_u32(state + 4);
    for (; blocks != 0; --blocks, in += 64)
        sha256_arm_block(abcd, efgh, sha256_arm_words(vld1q_u8(in)), sha256_arm_words(vld1q_u8(in + 16)),
                         sha256_arm_words(vld1q_u8(in + 32)), sha256_arm_words(vld1q_u8(in + 48)));
    vst1q_u32(state, abcd);
    vst1q_u32(state + 4, efgh);
}

/// SHA-256 of prefix[0..7) || a[0..16) || b[0..32), one compression, the message laid out
/// in registers (as the x86 version). Call only when cpu_has_sha_extensions().
TOKENAUTH_SHA_ARM_TARGET inline void sha256_7_16_32_hw(const std::uint8_t (&prefix)[7], const std::uint8_t* a,
                                                       const std::uint8_t* b, std::uint8_t out[32]) noexcept {
    std::uint8_t high[16] = {}, tail[16] = {0x80, 0, 0, 0, 0, 0, 0, 0x01, 0xb8};
    for (int i = 0; i < 7; ++i) high[9 + i] = prefix[i];
    const uint8x16_t p = vld1q_u8(high), t = vld1q_u8(tail), x = vld1q_u8(a);
    const uint8x16_t s0 = vld1q_u8(b), s1 = vld1q_u8(b + 16);
    uint32x4_t abcd = vld1q_u32(sha256_initial_state), efgh = vld1q_u32(sha256_initial_state + 4);
    sha256_arm_block(abcd, efgh, sha256_arm_words(vextq_u8(p, x, 9)), sha256_arm_words(vextq_u8(x, s0, 9)),
                     sha256_arm_words(vextq_u8(s0, s1, 9)), sha256_arm_words(vextq_u8(s1, t, 9)));
    vst1q_u8(out, vrev32q_u8(vreinterpretq_u8_u32(abcd)));
    vst1q_u8(out + 16, vrev32q_u8(vreinterpretq_u8_u32(efgh)));
}

#undef TOKENAUTH_SHA_ARM_TARGET

#else

inline bool cpu_has_sha_extensions() noexcept { return false; }

#endif

/// The digest of state (big-endian words).
inline void sha256_digest_of(const std::uint32_t state[8], std::uint8_t out[32]) noexcept {
    for (int i = 0; i < 8; ++i) {
        out[4 * i] = static_cast<std::uint8_t>(state[i] >> 24);
        out[4 * i + 1] = static_cast<std::uint8_t>(state[i] >> 16);
        out[4 * i + 2] = static_cast<std::uint8_t>(state[i] >> 8);
        out[4 * i + 3] = static_cast<std::uint8_t>(state[i]);
    }
}

/// SHA-256 with the SHA instructions (padding included). Call only when
/// cpu_has_sha_extensions(); sha256() chooses.
inline void sha256_accelerated(const std::uint8_t* in, std::size_t n, std::uint8_t out[32]) noexcept {
#if defined(TOKENAUTH_HAVE_SHA_HW)
    std::uint32_t state[8];
    std::memcpy(state, sha256_initial_state, sizeof state);
    const std::size_t full = n / 64;
    sha256_compress_hw(state, in, full);
    // The tail, 0x80, zeros and the bit length fill one block, or two when the tail is
    // longer than 55 bytes.
    std::uint8_t last[128] = {};
    const std::size_t tail = n - 64 * full;
    if (tail != 0) std::memcpy(last, in + 64 * full, tail);
    last[tail] = 0x80;
    const std::size_t blocks = tail < 56 ? 1 : 2;
    const std::uint64_t bits = static_cast<std::uint64_t>(n) * 8;
    for (int i = 0; i < 8; ++i) last[64 * blocks - 1 - i] = static_cast<std::uint8_t>(bits >> (8 * i));
    sha256_compress_hw(state, last, blocks);
    wipe(last, sizeof last);
    sha256_digest_of(state, out);
    wipe(state, sizeof state);
#else
    (void)in;
    (void)n;
    (void)out;
#endif
}

/// SHA-256 of in: the SHA instructions when the CPU has them, else libsodium.
inline void sha256(const std::uint8_t* in, std::size_t n, std::uint8_t out[32]) noexcept {
    if (cpu_has_sha_extensions()) sha256_accelerated(in, n, out);
    else crypto_hash_sha256(out, in, n);
}

}  // namespace detail
TOKENAUTH_ABI_END
}  // namespace tokenauth
