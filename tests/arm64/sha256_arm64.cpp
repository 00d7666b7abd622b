// The ARMv8 SHA-2 path of tokenauth/detail/sha256.hpp, cross-compiled for aarch64 and run
// under qemu-aarch64 (ctest arm64.sha256): SHA-256 of every length from 0 to 300 and the
// token layout (7-byte prefix, 16 and 32 bytes) against a plain FIPS 180-4 implementation
// written here, with the CPU's SHA-2 feature detected (qemu's "max" CPU has it) and the
// portable fallback not linked at all.
#include <tokenauth/detail/sha256.hpp>

#include <cstdio>
#include <cstring>

namespace {

std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

// The reference: the textbook definition, one block at a time, for inputs of up to 440 bytes.
void reference(const std::uint8_t* m, std::size_t n, std::uint8_t out[32]) {
    using tokenauth::detail::sha256_initial_state;
    using tokenauth::detail::sha256_round_constants;
    std::uint32_t h[8];
    std::memcpy(h, sha256_initial_state, sizeof h);
    std::uint8_t buf[512] = {};
    const std::size_t total = (n + 9 + 63) / 64 * 64;
    std::memcpy(buf, m, n);
    buf[n] = 0x80;
    for (int i = 0; i < 8; ++i) buf[total - 1 - i] = static_cast<std::uint8_t>((std::uint64_t{n} * 8) >> (8 * i));
    for (std::size_t b = 0; b < total; b += 64) {
        std::uint32_t w[64];
        for (int i = 0; i < 16; ++i)
            w[i] = std::uint32_t{buf[b + 4 * i]} << 24 | std::uint32_t{buf[b + 4 * i + 1]} << 16 |
                   std::uint32_t{buf[b + 4 * i + 2]} << 8 | buf[b + 4 * i + 3];
        for (int i = 16; i < 64; ++i) {
            const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        std::uint32_t v[8];
        std::memcpy(v, h, sizeof v);
        for (int i = 0; i < 64; ++i) {
            const std::uint32_t t1 = v[7] + (rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25)) +
                                     ((v[4] & v[5]) ^ (~v[4] & v[6])) + sha256_round_constants[i] + w[i];
            const std::uint32_t t2 = (rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22)) +
                                     ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
            std::memmove(v + 1, v, 7 * sizeof v[0]);
            v[4] += t1;
            v[0] = t1 + t2;
        }
        for (int i = 0; i < 8; ++i) h[i] += v[i];
    }
    tokenauth::detail::sha256_digest_of(h, out);
}

}  // namespace

int main() {
    if (!tokenauth::detail::cpu_has_sha_extensions()) {
        std::fprintf(stderr, "sha256_arm64: this CPU reports no SHA-2 instructions\n");
        return 1;
    }
    std::uint8_t data[300];
    for (std::size_t i = 0; i < sizeof data; ++i) data[i] = static_cast<std::uint8_t>(i * 37 + 11);
    int failures = 0, checked = 0;
    for (std::size_t n = 0; n <= sizeof data; ++n) {
        std::uint8_t want[32], got[32];
        reference(data, n, want);
        tokenauth::detail::sha256_accelerated(data, n, got);
        failures += std::memcmp(got, want, 32) != 0;
        ++checked;
        if (n + 55 <= sizeof data) {
            std::uint8_t prefix[7];
            std::memcpy(prefix, data + n, 7);
            reference(data + n, 55, want);
            tokenauth::detail::sha256_7_16_32_hw(prefix, data + n + 7, data + n + 23, got);
            failures += std::memcmp(got, want, 32) != 0;
            ++checked;
        }
    }
    std::printf("sha256_arm64: %d digests checked, %d wrong\n", checked, failures);
    return failures == 0 ? 0 : 1;
}
