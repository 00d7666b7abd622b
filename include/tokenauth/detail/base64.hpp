// tokenauth::detail: standard base64 (RFC 4648 section 4, with '=' padding), strict and
// canonical, in constant time with respect to the data.
//
// Invariant: no branch and no table index depends on a data byte or a decoded value. The
// only data-dependent outcome is the final accept/reject, which the caller learns anyway.
// Branches depend only on lengths and positions, which are public.
#pragma once

#include "config.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "../error.hpp"
#include "ct.hpp"
#include "wipe.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN
namespace detail {

/// Number of base64 characters (with padding) for n bytes.
constexpr std::size_t base64_encoded_size(std::size_t n) noexcept { return (n + 2) / 3 * 4; }

/// All-ones when lo <= c <= hi, else zero. c, lo, hi < 2^16. Constant time.
constexpr std::uint32_t ct_in_range(std::uint32_t c, std::uint32_t lo, std::uint32_t hi) noexcept {
    // (c - lo) and (hi - c) are both non-negative exactly when c is in range; a negative
    // difference sets bit 31.
    return (((c - lo) | (hi - c)) >> 31) - 1u;
}

/// Maps one character to its 6-bit value; bit 8 is set when c is not in the alphabet and
/// bit 9 when c is '='. Constant time.
constexpr std::uint32_t ct_decode_char(std::uint32_t c) noexcept {
    const std::uint32_t upper = ct_in_range(c, 'A', 'Z');
    const std::uint32_t lower = ct_in_range(c, 'a', 'z');
    const std::uint32_t digit = ct_in_range(c, '0', '9');
    const std::uint32_t plus = ct_in_range(c, '+', '+');
    const std::uint32_t slash = ct_in_range(c, '/', '/');
    const std::uint32_t pad = ct_in_range(c, '=', '=');
    const std::uint32_t value = (upper & (c - 'A')) | (lower & (c - 'a' + 26)) |
                                (digit & (c - '0' + 52)) | (plus & 62u) | (slash & 63u);
    const std::uint32_t valid = upper | lower | digit | plus | slash;
    return (value & 0x3Fu) | (~valid & 0x100u) | (pad & 0x200u);
}

#if (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && !defined(TOKENAUTH_NO_VECTOR_BASE64)
#define TOKENAUTH_VECTOR_BASE64 1
// 16 lanes at a time with the compilers' portable vector extensions (SSE2 on x86-64, NEON
// on ARM). Lane-wise compares yield all-ones/all-zero masks: no branch, no table. Signed
// lanes make each range check two signed compares, and put bytes >= 0x80 (negative) out
// of every range.
typedef std::int8_t v16i8 __attribute__((vector_size(16)));
typedef std::uint8_t v16u8 __attribute__((vector_size(16)));
typedef std::uint16_t v8u16 __attribute__((vector_size(16)));
typedef std::uint32_t v4u32 __attribute__((vector_size(16)));
typedef std::uint64_t v2u64 __attribute__((vector_size(16)));

/// Reduces a mask vector to 0 or 1 without a branch.
__attribute__((always_inline)) inline std::uint32_t ct_any(v16i8 m) noexcept {
    const v2u64 w = (v2u64)m;
    const std::uint64_t x = w[0] | w[1];
    return static_cast<std::uint32_t>((x | (0 - x)) >> 63);
}

/// Decodes `blocks` blocks of 16 characters into blocks * 12 bytes (out needs one byte of
/// slack). Returns bit 8 when any character is outside the alphabet, bit 9 when any is '=',
/// bit 10 when any is outside the alphabet and not '='. Constant time.
inline std::uint32_t ct_decode_blocks(const unsigned char* in, std::size_t blocks, std::uint8_t* out) noexcept {
    v16i8 invalid_acc = {}, pad_acc = {}, other_acc = {};
    for (std::size_t b = 0; b < blocks; ++b, in += 16, out += 12) {
        v16i8 x;
        __builtin_memcpy(&x, in, 16);
        const v16i8 upper = (x > 'A' - 1) & (x < 'Z' + 1);
        const v16i8 lower = (x > 'a' - 1) & (x < 'z' + 1);
        const v16i8 digit = (x > '0' - 1) & (x < '9' + 1);
        const v16i8 plus = x == '+';
        const v16i8 slash = x == '/';
        const v16i8 pad = x == '=';
        // Per-lane offsets, mod 256: 'A' -> 0, 'a' -> 26, '0' -> 52, '+' -> 62, '/' -> 63.
        const v16i8 offset = (upper & (std::int8_t)(0 - 'A')) | (lower & (std::int8_t)(26 - 'a')) |
                             (digit & (std::int8_t)(52 - '0')) | (plus & (std::int8_t)(62 - '+')) |
                             (slash & (std::int8_t)(63 - '/'));
        const v16i8 invalid = ~(upper | lower | digit | plus | slash);
        invalid_acc |= invalid;
        pad_acc |= pad;
        other_acc |= invalid & ~pad;
        const v16u8 v = ((v16u8)x + (v16u8)offset) & 0x3F;
        // Pack: 16-bit lanes (c0 << 6 | c1), then 32-bit lanes (c0c1 << 12 | c2c3) = 24 bits.
        const v8u16 w = (v8u16)v;
        const v8u16 pairs = (v8u16)((w & 0x3F) << 6) | (w >> 8);
        const v4u32 d = (v4u32)pairs;
        const v4u32 quads = ((d & 0xFFFF) << 12) | (d >> 16);
        for (int i = 0; i < 4; ++i) {
            // Big-endian 24 bits: a 4-byte store whose 4th byte the next store overwrites.
            const std::uint32_t be = __builtin_bswap32(quads[i] << 8);
            __builtin_memcpy(out + 3 * i, &be, 4);
        }
    }
    return (ct_any(invalid_acc) << 8) | (ct_any(pad_acc) << 9) | (ct_any(other_acc) << 10);
}
#endif

/// Maps a 6-bit value to its character. Constant time.
constexpr char ct_encode_char(std::uint32_t v) noexcept {
    // Start at 'A' and shift the offset at each class boundary with masks, never branches.
    std::uint32_t offset = 'A';
    offset += ((25u - v) >> 8) & 6u;       // 26..51 -> 'a'..'z'
    offset -= ((51u - v) >> 8) & 75u;      // 52..61 -> '0'..'9'
    offset -= ((61u - v) >> 8) & 15u;      // 62 -> '+'
    offset += ((62u - v) >> 8) & 3u;       // 63 -> '/'
    return static_cast<char>((v + offset) & 0xFFu);
}

/// Encodes n bytes into out, which has room for base64_encoded_size(n) characters.
/// Never fails. Constant time.
inline void base64_encode(const std::uint8_t* in, std::size_t n, char* out) noexcept {
    std::size_t i = 0;
    for (; i + 3 <= n; i += 3, out += 4) {
        const std::uint32_t v = (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8) | in[i + 2];
        out[0] = ct_encode_char(v >> 18);
        out[1] = ct_encode_char((v >> 12) & 0x3F);
        out[2] = ct_encode_char((v >> 6) & 0x3F);
        out[3] = ct_encode_char(v & 0x3F);
    }
    const std::size_t rest = n - i;
    if (rest == 1) {
        const std::uint32_t v = std::uint32_t{in[i]} << 16;
        out[0] = ct_encode_char(v >> 18);
        out[1] = ct_encode_char((v >> 12) & 0x3F);
        out[2] = '=';
        out[3] = '=';
    } else if (rest == 2) {
        const std::uint32_t v = (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8);
        out[0] = ct_encode_char(v >> 18);
        out[1] = ct_encode_char((v >> 12) & 0x3F);
        out[2] = ct_encode_char((v >> 6) & 0x3F);
        out[3] = '=';
    }
}

/// Decodes canonical padded base64. `in.size()` must be a multiple of 4 (else
/// errc::bad_length) and out must have room for in.size() / 4 * 3 bytes. On success
/// *out_len is the number of bytes written. Errors, in order of precedence:
/// bad_length, bad_encoding (a character outside the alphabet), bad_padding ('=' missing,
/// misplaced or more than two), noncanonical_encoding (non-zero pad bits).
/// Constant time with respect to the characters.
inline errc base64_decode(std::string_view in, std::uint8_t* out, std::size_t* out_len) noexcept {
    *out_len = 0;
    const std::size_t n = in.size();
    if (n % 4 != 0) return errc::bad_length;
    if (n == 0) return errc::ok;
    const auto* s = reinterpret_cast<const unsigned char*>(in.data());

    std::uint32_t flags = 0;  // OR of bits 8/9 of every full-group character
    std::size_t o = 0;
    const std::size_t full = n - 4;
    std::size_t i = 0;
#ifdef TOKENAUTH_VECTOR_BASE64
    const std::size_t blocks = full / 16;
    flags |= ct_decode_blocks(s, blocks, out) & 0x300u;
    i = blocks * 16;
    o = blocks * 12;
#endif
    for (; i < full; i += 4, o += 3) {
        const std::uint32_t a = ct_decode_char(s[i]), b = ct_decode_char(s[i + 1]);
        const std::uint32_t c = ct_decode_char(s[i + 2]), d = ct_decode_char(s[i + 3]);
        flags |= a | b | c | d;
        const std::uint32_t v = ((a & 0x3F) << 18) | ((b & 0x3F) << 12) | ((c & 0x3F) << 6) | (d & 0x3F);
        out[o] = static_cast<std::uint8_t>(v >> 16);
        out[o + 1] = static_cast<std::uint8_t>(v >> 8);
        out[o + 2] = static_cast<std::uint8_t>(v);
    }

    // Last group: "xxxx", "xxx=" or "xx==". Which of these it is depends on where '='
    // stands, which is public (it decides the output length).
    const std::uint32_t a = ct_decode_char(s[full]), b = ct_decode_char(s[full + 1]);
    const std::uint32_t c = ct_decode_char(s[full + 2]), d = ct_decode_char(s[full + 3]);
    // Where '=' stands decides the output length: public once computed (without a branch).
    const bool c_pad = declassify_verdict(value_barrier(s[full + 2]) == '=');
    const bool d_pad = declassify_verdict(value_barrier(s[full + 3]) == '=');
    std::uint32_t tail_flags = a | b;
    std::size_t tail_bytes = 3;
    std::uint32_t pad_bits = 0;
    if (d_pad && c_pad) {
        tail_bytes = 1;
        pad_bits = b & 0x0F;  // low 4 bits of the second character must be zero
    } else if (d_pad) {
        tail_bytes = 2;
        tail_flags |= c;
        pad_bits = c & 0x03;  // low 2 bits of the third character must be zero
    } else {
        tail_flags |= c | d;
    }
    const std::uint32_t v = ((a & 0x3F) << 18) | ((b & 0x3F) << 12) | ((c & 0x3F) << 6) | (d & 0x3F);
    flags |= tail_flags;
    // Whether the text is well-formed is public; which characters made it so is not.
    flags = value_barrier(flags);
    declassify(&flags, sizeof flags);
    pad_bits = value_barrier(pad_bits);
    declassify(&pad_bits, sizeof pad_bits);
    // A '=' among data characters is both "not in the alphabet" and "padding": the more
    // specific padding error wins only when every other character was in the alphabet.
    const std::uint32_t non_alphabet = flags & 0x100u;
    const std::uint32_t pad_in_data = flags & 0x200u;
    // (d_pad && !c_pad is fine; c_pad && !d_pad is a '=' in data and already flagged.)
    if (non_alphabet != 0 && pad_in_data == 0) return errc::bad_encoding;
    if (pad_in_data != 0) {
        // Distinguish "some other bad character as well" from "only misplaced '='".
        std::uint32_t other = 0;
        for (std::size_t j = 0; j < n; ++j) {
            const std::uint32_t ch = ct_decode_char(s[j]);
            other |= (ch & 0x100u) & ~((ch & 0x200u) >> 1);
        }
        return declassify_verdict(value_barrier(other) != 0) ? errc::bad_encoding : errc::bad_padding;
    }
    if (pad_bits != 0) return errc::noncanonical_encoding;
    out[o] = static_cast<std::uint8_t>(v >> 16);
    if (tail_bytes > 1) out[o + 1] = static_cast<std::uint8_t>(v >> 8);
    if (tail_bytes > 2) out[o + 2] = static_cast<std::uint8_t>(v);
    *out_len = o + tail_bytes;
    return errc::ok;
}

/// Decodes exactly N bytes from exactly base64_encoded_size(N) characters. Errors, in order:
/// bad_length, bad_encoding, bad_padding (the '=' count is not the one N implies),
/// noncanonical_encoding: the same codes base64_decode gives for the same input.
/// Constant time with respect to the data characters.
template <std::size_t N>
errc base64_decode_fixed(std::string_view in, std::uint8_t (&out)[N]) noexcept {
    constexpr std::size_t size = base64_encoded_size(N);
    constexpr std::size_t pads = (3 - N % 3) % 3;
    if (in.size() != size) return errc::bad_length;
#ifdef TOKENAUTH_VECTOR_BASE64
    // Copy into a buffer of whole 16-character blocks. The expected padding characters
    // (public positions) and the fill become 'A' (value 0), so one vector pass decodes it
    // all; the bytes they produce must then be zero, which is exactly the pad-bit check.
    constexpr std::size_t blocks = (size + 15) / 16;
    unsigned char buf[blocks * 16];
    std::uint8_t bytes[blocks * 12 + 1];
    bool pad_shape_ok = true;
    __builtin_memcpy(buf, in.data(), size);
    for (std::size_t i = size; i < sizeof buf; ++i) buf[i] = 'A';
    for (std::size_t i = size - pads; i < size; ++i) {
        const bool is_pad = buf[i] == '=';
        pad_shape_ok &= is_pad;
        if (is_pad) buf[i] = 'A';
    }
    std::uint32_t flags = ct_decode_blocks(buf, blocks, bytes);
    std::uint8_t spill = 0;  // bits the padding characters carried: must be zero
    for (std::size_t i = N; i < size / 4 * 3; ++i) spill |= bytes[i];
    __builtin_memcpy(out, bytes, N);
    wipe(bytes, sizeof bytes);  // it may hold a secret
    // Whether the text is well-formed is public; which characters made it so is not.
    declassify(&flags, sizeof flags);
    const bool canonical = declassify_verdict(value_barrier(spill) == 0);
    if (flags & 0x400u) return errc::bad_encoding;
    if (!pad_shape_ok || (flags & 0x200u)) return errc::bad_padding;
    if (!canonical) return errc::noncanonical_encoding;
    return errc::ok;
#else
    std::uint8_t buf[size / 4 * 3];
    std::size_t len = 0;
    const errc e = base64_decode(in, buf, &len);
    if (e == errc::bad_encoding) return e;
    // Where '=' stands is public: check the padding has exactly the expected shape, without
    // a branch on the characters, and declassify only the verdict.
    unsigned shape_ok = 1;
    for (std::size_t i = 0; i < pads; ++i) shape_ok &= static_cast<unsigned>(in[size - 1 - i] == '=');
    if (pads < 2) shape_ok &= static_cast<unsigned>(in[size - 1 - pads] != '=');
    if (!declassify_verdict(value_barrier(shape_ok) != 0)) return errc::bad_padding;
    if (e == errc::ok)
        for (std::size_t i = 0; i < N; ++i) out[i] = buf[i];
    wipe(buf, sizeof buf);  // it may hold a secret
    return e;
#endif
}

/// "<prefix><base64 of the n payload bytes>": the text of both token formats.
inline std::string encode_prefixed(std::string_view prefix, const std::uint8_t* payload, std::size_t n) {
    std::string out(prefix.size() + base64_encoded_size(n), '\0');
    __builtin_memcpy(&out[0], prefix.data(), prefix.size());
    base64_encode(payload, n, &out[prefix.size()]);
    return out;
}

/// The shared front half of both token formats: "<prefix><base64 of N bytes>" whose first
/// byte is the format version. Errors, in order: bad_prefix, bad_length, the decoding errors
/// of base64_decode_fixed, unsupported_version. On failure out is wiped.
template <std::size_t N>
errc decode_prefixed(std::string_view text, std::string_view prefix, std::uint8_t version,
                     std::uint8_t (&out)[N]) noexcept {
    if (text.substr(0, prefix.size()) != prefix) return errc::bad_prefix;
    if (text.size() != prefix.size() + base64_encoded_size(N)) return errc::bad_length;
    errc e = base64_decode_fixed(text.substr(prefix.size()), out);
    if (e == errc::ok && out[0] != version) e = errc::unsupported_version;
    if (e != errc::ok) wipe(out, N);
    return e;
}

}  // namespace detail
TOKENAUTH_ABI_END
}  // namespace tokenauth

#undef TOKENAUTH_VECTOR_BASE64  // internal: chosen above, used only in this header
