// tokenauth-bench: the validation hot path, measured against its floor in the same run.
// Names are stable across versions (BM_<Thing>_<Case>); bench/report.cpp turns a JSON run into
// the ratios the targets are stated in.
#include <benchmark/benchmark.h>
#include <sodium.h>
#include <tokenauth/tokenauth.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr tokenauth::timestamp now_ns = 1'700'000'000LL * tokenauth::nanos_per_second;

/// A store of n tokens plus a sample of their Authorization headers, built once per n.
struct fixture {
    tokenauth::memory_token_store store;
    tokenauth::manual_clock clock{now_ns};
    tokenauth::validator validator{store, clock};
    std::vector<std::string> headers;  // sample of valid headers, random order
    std::string expired, wrong_secret, unknown;
    std::size_t rss_bytes = 0;  // resident memory the fill added
};

std::size_t rss_now() {
    std::ifstream f("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    f >> pages >> resident;
    return resident * 4096;
}

fixture& fixture_for(std::size_t n) {
    static std::mutex mu;
    static std::map<std::size_t, std::unique_ptr<fixture>> cache;
    std::lock_guard lock(mu);
    auto& slot = cache[n];
    if (slot) return *slot;
    tokenauth::ensure_sodium_init();
    const std::size_t rss_before = rss_now();
    slot = std::make_unique<fixture>();
    fixture& f = *slot;
    std::mt19937_64 rng(n);
    const std::size_t sample = std::min<std::size_t>(n, 4096);
    for (std::size_t i = 0; i < n; ++i) {
        tokenauth::access_token t;
        for (auto& b : t.id.bytes) b = static_cast<std::uint8_t>(rng());
        for (auto& b : t.secret) b = static_cast<std::uint8_t>(rng());
        f.store.upsert(tokenauth::make_token_record(t, 1000 + i % 50));
        if (i % std::max<std::size_t>(1, n / sample) == 0 && f.headers.size() < sample)
            f.headers.push_back("Bearer " + tokenauth::encode_access_token(t));
    }
    f.rss_bytes = rss_now() - rss_before;
    std::shuffle(f.headers.begin(), f.headers.end(), rng);
    // Rejection cases.
    tokenauth::access_token e = tokenauth::generate_access_token();
    f.store.upsert(tokenauth::make_token_record(e, 0, now_ns - 1));
    f.expired = "Bearer " + tokenauth::encode_access_token(e);
    tokenauth::access_token w = *tokenauth::parse_access_token(f.headers[0].substr(7));
    w.secret[0] ^= 1;
    f.wrong_secret = "Bearer " + tokenauth::encode_access_token(w);
    f.unknown = "Bearer " + tokenauth::encode_access_token(tokenauth::generate_access_token());
    return f;
}

using token_hash_fn = tokenauth::secret_hash (*)(const std::uint8_t (&)[16], const std::uint8_t (&)[32]) noexcept;

// One token's id and secret hashed again and again, each secret taken from the hash before
// (a chain, so the time is the hash's latency).
template <token_hash_fn hash>
void hash_chain(benchmark::State& state) {
    tokenauth::ensure_sodium_init();
    tokenauth::access_token t = tokenauth::generate_access_token();
    t.secret[1] = static_cast<std::uint8_t>(state.thread_index());
    for (auto _ : state) {
        const tokenauth::secret_hash h = hash(t.id.bytes, t.secret);
        benchmark::DoNotOptimize(h);
        t.secret[0] = h.bytes[0];
    }
    state.SetItemsProcessed(state.iterations());
}

// The floor: the hash validation really computes, SHA-256 of prefix, id and secret (55
// bytes, one compression) through the same dispatch (the SHA instructions where the CPU has
// them).
void BM_Floor_TokenHash(benchmark::State& state) { hash_chain<tokenauth::hash_secret>(state); }
BENCHMARK(BM_Floor_TokenHash);

// The machine's own two-thread scaling of the floor: what BM_Validate_Hit_Threads can hope for
// (two vCPUs that share a physical core scale well below 2x).
void BM_Floor_TokenHash_Threads(benchmark::State& state) { hash_chain<tokenauth::hash_secret>(state); }
BENCHMARK(BM_Floor_TokenHash_Threads)->Threads(1)->Threads(2)->UseRealTime();

// The hardware's one-block SHA-256: one compression and the digest, with no input to lay out
// (SHA instructions only; skipped elsewhere).
void BM_Sha256_OneBlock_Hardware(benchmark::State& state) {
    if (!tokenauth::detail::cpu_has_sha_extensions()) {
        state.SkipWithError("no SHA instructions on this CPU");
        return;
    }
#if defined(TOKENAUTH_HAVE_SHA_HW)
    alignas(16) std::uint8_t block[64] = {1, 2, 3};
    block[55] = 0x80;  // the padding of a 55-byte message: 0x80, zeros, 440 bits big-endian
    block[62] = 0x01;
    block[63] = 0xb8;
    std::uint8_t out[32];
    for (auto _ : state) {
        std::uint32_t st[8];
        std::memcpy(st, tokenauth::detail::sha256_initial_state, sizeof st);
        tokenauth::detail::sha256_compress_hw(st, block, 1);
        tokenauth::detail::sha256_digest_of(st, out);
        benchmark::DoNotOptimize(out);
        block[0] = out[0];
    }
#endif
}
BENCHMARK(BM_Sha256_OneBlock_Hardware);

// libsodium's portable SHA-256 of the same 55 bytes: the fallback on CPUs without SHA
// instructions.
void BM_Sha256_Portable55(benchmark::State& state) {
    std::uint8_t in[55] = {1, 2, 3}, out[32];
    for (auto _ : state) {
        crypto_hash_sha256(out, in, sizeof in);
        benchmark::DoNotOptimize(out);
        in[0] = out[0];
    }
}
BENCHMARK(BM_Sha256_Portable55);

// The legacy scheme's hash (BLAKE2b-256, personalised, of id and secret): what a record
// written before SHA-256 costs on top, until it is upgraded.
void BM_Hash_Blake2b_Legacy(benchmark::State& state) { hash_chain<tokenauth::hash_secret_blake2b>(state); }
BENCHMARK(BM_Hash_Blake2b_Legacy);

void BM_Parse_AccessToken(benchmark::State& state) {
    const std::string token = tokenauth::encode_access_token(tokenauth::generate_access_token());
    for (auto _ : state) {
        auto r = tokenauth::parse_access_token(token);
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_Parse_AccessToken);

// Each iteration validates the next of up to 4096 sampled tokens. The header is first
// copied into one request buffer, as an HTTP server holds the value it just read from the
// socket: the header is hot, the token's slot in the store is not.
void BM_Validate_Hit(benchmark::State& state) {
    fixture& f = fixture_for(static_cast<std::size_t>(state.range(0)));
    alignas(64) char request[128];
    std::size_t i = 0;
    for (auto _ : state) {
        const std::string& h = f.headers[i];
        std::memcpy(request, h.data(), h.size());
        if (++i == f.headers.size()) i = 0;
        auto r = f.validator.validate(std::string_view(request, h.size()));
        if (!r) state.SkipWithError("a valid token was rejected");
        benchmark::DoNotOptimize(r);
    }
    state.counters["tokens"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_Validate_Hit)->Arg(1000)->Arg(100000)->Arg(1000000);

template <class Pick>
void validate_reject(benchmark::State& state, tokenauth::errc expected, Pick pick) {
    fixture& f = fixture_for(1000);
    const std::string header = pick(f);
    for (auto _ : state) {
        auto r = f.validator.validate(header);
        if (r.code() != expected) state.SkipWithError("unexpected result");
        benchmark::DoNotOptimize(r);
    }
}

void BM_Validate_Malformed(benchmark::State& state) {
    validate_reject(state, tokenauth::errc::bad_encoding, [](fixture& f) {
        std::string h = f.headers[0];
        h[40] = '*';
        return h;
    });
}
BENCHMARK(BM_Validate_Malformed);

void BM_Validate_BadChecksum(benchmark::State& state) {
    validate_reject(state, tokenauth::errc::bad_checksum, [](fixture& f) {
        std::string h = f.headers[0];
        h[40] = h[40] == 'A' ? 'B' : 'A';
        return h;
    });
}
BENCHMARK(BM_Validate_BadChecksum);

void BM_Validate_UnknownId(benchmark::State& state) {
    validate_reject(state, tokenauth::errc::unknown_token, [](fixture& f) { return f.unknown; });
}
BENCHMARK(BM_Validate_UnknownId);

void BM_Validate_BadSecret(benchmark::State& state) {
    validate_reject(state, tokenauth::errc::bad_secret, [](fixture& f) { return f.wrong_secret; });
}
BENCHMARK(BM_Validate_BadSecret);

void BM_Validate_Expired(benchmark::State& state) {
    validate_reject(state, tokenauth::errc::expired, [](fixture& f) { return f.expired; });
}
BENCHMARK(BM_Validate_Expired);

// Tokens with network bounds (4 prefixes, the client within the last): the cost of
// allowed_cidrs over BM_Validate_Hit/1000, the same store size.
void BM_Validate_Hit_Bounded(benchmark::State& state) {
    static tokenauth::memory_token_store store;
    static tokenauth::manual_clock clock{now_ns};
    static tokenauth::validator validator{store, clock};
    static std::vector<std::string> headers;
    static tokenauth::ip_address client;
    if (headers.empty()) {
        tokenauth::ensure_sodium_init();
        tokenauth::network_bounds b;
        (void)tokenauth::parse_network_bounds("10.0.0.0/8,172.16.0.0/12,2001:db8::/32,192.168.0.0/16", b);
        (void)tokenauth::parse_ip_address("192.168.7.9", client);
        const std::uint32_t network = store.networks().intern(b);
        std::mt19937_64 rng(7);
        for (int i = 0; i < 1000; ++i) {
            tokenauth::access_token t;
            for (auto& x : t.id.bytes) x = static_cast<std::uint8_t>(rng());
            for (auto& x : t.secret) x = static_cast<std::uint8_t>(rng());
            auto rec = tokenauth::make_token_record(t, 1000 + i % 50);
            rec.network = network;
            store.upsert(rec);
            headers.push_back("Bearer " + tokenauth::encode_access_token(t));
        }
    }
    std::size_t i = 0;
    for (auto _ : state) {
        auto r = validator.validate(headers[i], client);
        if (++i == headers.size()) i = 0;
        if (!r) state.SkipWithError("a valid token was rejected");
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_Validate_Hit_Bounded);

// A record of the legacy scheme (queued for its upgrade on the first use; nothing drains the
// queue here, so every iteration pays both hashes).
void BM_Validate_Hit_Legacy(benchmark::State& state) {
    static tokenauth::memory_token_store store;
    static tokenauth::manual_clock clock{now_ns};
    static const tokenauth::validator v{store, clock};
    static const std::string header = [] {
        const tokenauth::access_token t = tokenauth::generate_access_token();
        auto rec = tokenauth::make_token_record(t, 1000);
        rec.hash = tokenauth::hash_secret_blake2b(t.id.bytes, t.secret);
        rec.scheme = tokenauth::hash_scheme::blake2b_v1;
        store.upsert(rec);
        return "Bearer " + tokenauth::encode_access_token(t);
    }();
    for (auto _ : state) {
        auto r = v.validate(header);
        if (!r) state.SkipWithError("a valid legacy token was rejected");
        benchmark::DoNotOptimize(r);
    }
}
BENCHMARK(BM_Validate_Hit_Legacy);

void BM_Validate_Hit_Threads(benchmark::State& state) {
    fixture& f = fixture_for(100000);
    alignas(64) char request[128];  // on this thread's stack: no false sharing
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 997 % f.headers.size();
    for (auto _ : state) {
        const std::string& h = f.headers[i];
        std::memcpy(request, h.data(), h.size());
        if (++i == f.headers.size()) i = 0;
        auto r = f.validator.validate(std::string_view(request, h.size()));
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Validate_Hit_Threads)->Threads(1)->Threads(2)->UseRealTime();

void BM_Privilege_Check(benchmark::State& state) {
    // A user holding 3 roles through 2 groups, among 10 roles.
    std::vector<tokenauth::role> roles(10);
    const std::uint64_t user = 1001, g1 = 2001, g2 = 2002;
    for (std::size_t i = 0; i < roles.size(); ++i) {
        roles[i].name = "role" + std::to_string(i);
        roles[i].privileges.insert(static_cast<tokenauth::privilege>(i * 7));
        roles[i].add_member(3000 + i);
    }
    roles[2].add_member(g1);
    roles[5].add_member(g2);
    roles[7].add_member(g1);
    const std::vector<std::uint64_t> groups = {g1, g2};
    const auto wanted = static_cast<tokenauth::privilege>(35);
    for (auto _ : state) {
        const bool ok = tokenauth::effective_privileges(roles, user, groups).contains(wanted);
        benchmark::DoNotOptimize(ok);
    }
}
BENCHMARK(BM_Privilege_Check);

void BM_Store_Memory(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    fixture& f = fixture_for(n);
    for (auto _ : state) benchmark::DoNotOptimize(f.store.size());
    state.counters["table_bytes_per_token"] = static_cast<double>(f.store.memory_bytes()) / static_cast<double>(n);
    state.counters["rss_bytes_per_token"] = static_cast<double>(f.rss_bytes) / static_cast<double>(n);
}
BENCHMARK(BM_Store_Memory)->Arg(1000000)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
