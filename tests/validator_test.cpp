#include <catch2/catch.hpp>

#include <tokenauth/validator.hpp>

#include <atomic>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "helpers.hpp"

using tokenauth::errc;

namespace {

constexpr tokenauth::timestamp t0 = 1'700'000'000LL * tokenauth::nanos_per_second;

struct users final : tokenauth::session_user_source {
    std::map<std::uint64_t, tokenauth::session_user> by_id;
    bool session_user_of(std::uint64_t auth_id, tokenauth::session_user& out) const noexcept override {
        const auto it = by_id.find(auth_id);
        if (it == by_id.end()) return false;
        out = it->second;
        return true;
    }
};

struct fixture {
    tokenauth::memory_token_store store;
    tokenauth::manual_clock clock{t0};
    tokenauth::session_key key = tokenauth::session_key::generate();
    users gens;
    tokenauth::validator v{store, clock, key, gens};

    std::string add(std::uint64_t user, tokenauth::timestamp expires = tokenauth::never_expires, bool enabled = true) {
        const auto t = tokenauth::generate_access_token();
        store.upsert(tokenauth::make_token_record(t, user, expires, enabled));
        return tokenauth::encode_access_token(t);
    }
};

}  // namespace

TEST_CASE("a valid access token authenticates as its user", "[validator]") {
    fixture f;
    const std::string token = f.add(1001);
    const auto p = f.v.validate("Bearer " + token);
    REQUIRE(p.ok());
    CHECK(p->auth_id == 1001);
    CHECK(p->kind == tokenauth::credential_kind::access_token);
    CHECK(p->token == tokenauth::parse_access_token(token)->id);
    for (const char* scheme : {"bearer ", "BEARER ", "BeArEr "}) CHECK(f.v.validate(scheme + token).ok());
}

TEST_CASE("every rejection has its own code", "[validator]") {
    fixture f;
    const std::string good = f.add(1001);
    const std::string expired = f.add(1001, t0 - 1);
    const std::string disabled = f.add(1001, tokenauth::never_expires, false);

    // A token with a valid checksum whose id is not in the store.
    const std::string unknown = tokenauth::encode_access_token(tokenauth::generate_access_token());
    // The right id with another secret (checksum recomputed so it reaches the store).
    std::uint8_t payload[tokenauth::access_token_payload_size];
    test_helpers::payload_of(good, payload);
    payload[20] ^= 1;
    const std::string wrong_secret = test_helpers::access_token_from_payload(payload);
    // A flipped bit without a fixed checksum.
    std::string flipped = good;
    flipped[40] = flipped[40] == 'A' ? 'B' : 'A';

    struct row {
        const char* what;
        std::string header;
        errc expected;
    };
    const row rows[] = {
        {"empty", "", errc::missing_credentials},
        {"too long", "Bearer " + std::string(300, 'A'), errc::header_too_long},
        {"no scheme", good, errc::malformed},
        {"scheme only", "Bearer", errc::malformed},
        {"scheme and space", "Bearer ", errc::malformed},
        {"two spaces", "Bearer  " + good, errc::malformed},
        {"trailing space", "Bearer " + good + " ", errc::bad_length},
        {"tab after the space", "Bearer \t" + good, errc::malformed},
        {"tab inside", "Bearer " + good.substr(0, 20) + "\t" + good.substr(21), errc::bad_encoding},
        {"basic scheme", "Basic " + good, errc::bad_scheme},
        {"bearer-ish scheme", "Bearerx " + good, errc::bad_scheme},
        {"unknown prefix", "Bearer token-v1:abc", errc::bad_prefix},
        {"wrong case prefix", "Bearer ACCESS-V1:" + good.substr(10), errc::bad_prefix},
        {"truncated", "Bearer " + good.substr(0, 81), errc::bad_length},
        {"bad character", "Bearer " + good.substr(0, 40) + "*" + good.substr(41), errc::bad_encoding},
        {"bad checksum", "Bearer " + flipped, errc::bad_checksum},
        {"unknown id", "Bearer " + unknown, errc::unknown_token},
        {"wrong secret", "Bearer " + wrong_secret, errc::bad_secret},
        {"disabled", "Bearer " + disabled, errc::disabled},
        {"expired", "Bearer " + expired, errc::expired},
    };
    for (const auto& r : rows) {
        INFO(r.what);
        CHECK(f.v.validate(r.header).code() == r.expected);
    }
}

TEST_CASE("expiry is exact to the nanosecond", "[validator]") {
    fixture f;
    const std::string token = "Bearer " + f.add(1001, t0 + 1000);
    f.clock.set(t0 + 1000);
    CHECK(f.v.validate(token).ok());
    f.clock.set(t0 + 1001);
    CHECK(f.v.validate(token).code() == errc::expired);
}

TEST_CASE("disabling, re-enabling and deleting take effect on the next validation", "[validator]") {
    fixture f;
    const std::string token = "Bearer " + f.add(1001);
    const auto id = tokenauth::parse_access_token(token.substr(7))->id;
    CHECK(f.v.validate(token).ok());
    f.store.set_enabled(id, false);
    CHECK(f.v.validate(token).code() == errc::disabled);
    f.store.set_enabled(id, true);
    CHECK(f.v.validate(token).ok());
    f.store.set_expiration(id, t0 - 1);
    CHECK(f.v.validate(token).code() == errc::expired);
    f.store.erase(id);
    CHECK(f.v.validate(token).code() == errc::unknown_token);
}

TEST_CASE("session tokens validate against the user's current generation", "[validator][session]") {
    fixture f;
    const auto binding = tokenauth::session_binding::generate();
    f.gens.by_id[500] = {3, binding};
    tokenauth::session_claims c{500, 3, t0, t0 + tokenauth::default_session_lifetime};
    const std::string token = "Bearer " + tokenauth::mint_session_token(f.key, c, binding);
    const auto p = f.v.validate(token);
    REQUIRE(p.ok());
    CHECK(p->auth_id == 500);
    CHECK(p->kind == tokenauth::credential_kind::session);

    f.gens.by_id[500].generation = 4;  // password changed
    CHECK(f.v.validate(token).code() == errc::session_revoked);
    f.gens.by_id.erase(500);  // user deleted: as unknown as a forged auth id
    CHECK(f.v.validate(token).code() == errc::bad_signature);
    // A new user given the same auth id and generation (a restore, a reused id) has its own
    // binding: the deleted user's session is not its session.
    f.gens.by_id[500] = {3, tokenauth::session_binding::generate()};
    CHECK(f.v.validate(token).code() == errc::bad_signature);
    f.gens.by_id[500] = {3, binding};
    f.clock.set(t0 + tokenauth::default_session_lifetime + 1);
    CHECK(f.v.validate(token).code() == errc::expired);

    const auto other_key = tokenauth::session_key::generate();
    f.clock.set(t0);
    CHECK(f.v.validate("Bearer " + tokenauth::mint_session_token(other_key, c, binding)).code() ==
          errc::bad_signature);
    // A session minted with the all-zero binding (which no user has) for an unknown user is
    // the one way to reach unknown_user.
    const tokenauth::session_claims ghost{777, 0, t0, t0 + tokenauth::default_session_lifetime};
    CHECK(f.v.validate("Bearer " + tokenauth::mint_session_token(f.key, ghost, tokenauth::session_binding{})).code() ==
          errc::unknown_user);

    // A validator without a session key does not accept sessions at all.
    tokenauth::validator access_only(f.store, f.clock);
    CHECK(access_only.validate(token).code() == errc::bad_prefix);
}

TEST_CASE("errc is a registered error category with distinct messages", "[validator][error]") {
    const std::error_code ec = errc::bad_secret;
    CHECK(ec.category().name() == std::string("tokenauth"));
    CHECK(ec.message() == "token secret does not match");
    std::set<std::string> messages, ids;
    for (int i = 1; i <= static_cast<int>(errc::bad_address); ++i) {
        messages.insert(tokenauth::to_string(static_cast<errc>(i)));
        ids.insert(tokenauth::to_identifier(static_cast<errc>(i)));
    }
    CHECK(messages.size() == static_cast<std::size_t>(errc::bad_address));
    CHECK(ids.size() == static_cast<std::size_t>(errc::bad_address));
    CHECK(std::string(tokenauth::to_string(static_cast<errc>(9999))) == "unknown error");
}

TEST_CASE("validation from several threads while a writer adds and removes tokens", "[validator][concurrency]") {
    fixture f;
    std::vector<std::string> stable;
    for (int i = 0; i < 200; ++i) stable.push_back("Bearer " + f.add(static_cast<std::uint64_t>(i)));
    std::atomic<bool> stop{false};
    std::atomic<long> failures{0}, done{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t) {
        readers.emplace_back([&] {
            std::size_t i = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                const std::size_t k = i++ % stable.size();
                const auto p = f.v.validate(stable[k]);
                if (!p.ok() || p->auth_id != k) ++failures;
                ++done;
            }
        });
    }
    std::vector<std::string> churn;
    for (int round = 0; round < 5000; ++round) {
        churn.push_back(f.add(9999));
        if (churn.size() > 50) {
            f.store.erase(tokenauth::parse_access_token(churn.front())->id);
            CHECK(f.v.validate("Bearer " + churn.front()).code() == errc::unknown_token);
            churn.erase(churn.begin());
        }
    }
    stop = true;
    for (auto& t : readers) t.join();
    CHECK(failures == 0);
    CHECK(done > 0);
}

namespace {
/// No default constructor: result<T> must not need one.
struct only_explicit {
    explicit only_explicit(int v) : value(v) {}
    int value;
    bool operator==(const only_explicit& o) const { return value == o.value; }
};
}  // namespace

TEST_CASE("result<T> behaves like std::expected: checked value(), unchecked *, error_code", "[error][result]") {
    const tokenauth::result<only_explicit> good = only_explicit(7);
    REQUIRE(good.ok());
    CHECK(good.value().value == 7);
    CHECK((*good).value == 7);
    CHECK(good->value == 7);
    CHECK(good.code() == errc::ok);
    CHECK(good.error().code == errc::ok);  // a success's error() reads as no failure, not as a code
    CHECK_FALSE(good.error().error_code());
    CHECK(std::string(good.detail()).empty());
    CHECK(good == only_explicit(7));
    CHECK(good != only_explicit(8));

    const tokenauth::result<only_explicit> bad{errc::bad_checksum, "checksum detail"};
    CHECK_FALSE(bad.ok());
    CHECK_FALSE(bad.has_value());
    CHECK(bad.code() == errc::bad_checksum);
    // One error accessor, as std::expected has: error() is the tokenauth::error.
    static_assert(std::is_same_v<decltype(bad.error()), tokenauth::error>);
    static_assert(!std::is_default_constructible_v<tokenauth::error>, "an error is made from its code");
    CHECK(bad.error().code == errc::bad_checksum);
    CHECK(std::string(bad.error().detail) == "checksum detail");
    CHECK(bad.error().error_code() == std::error_code(errc::bad_checksum));
    CHECK(bad.error().error_code().category() == tokenauth::error_category());
    CHECK(std::string(bad.detail()) == "checksum detail");
    CHECK(bad != only_explicit(7));
    CHECK(bad.value_or(only_explicit(3)).value == 3);
    // The checked accessor throws the error as a std::system_error.
    try {
        (void)bad.value();
        FAIL("value() of a failed result did not throw");
    } catch (const std::system_error& e) {
        CHECK(e.code() == errc::bad_checksum);
        CHECK(std::string(e.what()).find("checksum detail") != std::string::npos);
    }
    // A failed parse really fails: its value is not a default to compare against.
    const auto failed = tokenauth::parse_token_id("not a number");
    CHECK_THROWS_AS(failed.value(), std::system_error);
    CHECK_THROWS_AS(tokenauth::parse_privilege("PRIVILEGE_NOPE").value(), std::system_error);

    // Copies and moves keep the state; a failure passes on as another type's failure.
    tokenauth::result<std::string> s = std::string(100, 'x');
    tokenauth::result<std::string> copy = s;
    tokenauth::result<std::string> moved = std::move(copy);
    CHECK(*moved == std::string(100, 'x'));
    moved = tokenauth::result<std::string>(errc::too_long);
    CHECK(moved.code() == errc::too_long);
    CHECK(std::string(moved.detail()) == tokenauth::describe(errc::too_long));
    const tokenauth::result<int> passed_on = bad.error();
    CHECK(passed_on.code() == errc::bad_checksum);
    CHECK(std::string(passed_on.detail()) == "checksum detail");
}

TEST_CASE("a custom store with only find() gets the default verify, unknown ids included", "[store][validator]") {
    struct map_store final : tokenauth::token_store {
        std::map<std::string, tokenauth::token_record> records;
        mutable int finds = 0;
        bool find(const tokenauth::token_id& id, tokenauth::token_record& out) const noexcept override {
            ++finds;
            const auto it = records.find(tokenauth::to_string(id));
            if (it == records.end()) return false;
            out = it->second;
            return true;
        }
    } store;
    const auto known = tokenauth::generate_access_token();
    store.records[tokenauth::to_string(known.id)] = tokenauth::make_token_record(known, 42);
    tokenauth::manual_clock clock(t0);
    const tokenauth::validator v(store, clock);
    const auto ok = v.validate("Bearer " + tokenauth::encode_access_token(known));
    REQUIRE(ok.ok());
    CHECK(ok->auth_id == 42);
    auto wrong = known;
    wrong.secret[31] ^= 1;
    CHECK(v.validate("Bearer " + tokenauth::encode_access_token(wrong)).code() == errc::bad_secret);
    CHECK(v.validate("Bearer " + tokenauth::encode_access_token(tokenauth::generate_access_token())).code() ==
          errc::unknown_token);
    CHECK(store.finds == 3);
}

TEST_CASE("a stale store fails every access token closed with store_stale", "[validator]") {
    // A store that wraps another and can be told it has fallen behind (as a replica does).
    struct staleable final : tokenauth::token_store {
        const tokenauth::token_store& inner;
        std::atomic<bool> behind{false};
        explicit staleable(const tokenauth::token_store& s) : inner(s) {}
        bool find(const tokenauth::token_id& id, tokenauth::token_record& out) const noexcept override { return inner.find(id, out); }
        bool stale() const noexcept override { return behind; }
    };
    fixture f;
    staleable store(f.store);
    const tokenauth::validator v(store, f.clock);
    const std::string token = f.add(1001);
    CHECK(v.validate("Bearer " + token).ok());
    store.behind = true;
    CHECK(v.validate("Bearer " + token).code() == errc::store_stale);
    CHECK(v.validate("Bearer access-v1:nonsense").code() != errc::store_stale);  // parse errors first
    store.behind = false;
    CHECK(v.validate("Bearer " + token).ok());
    CHECK(!tokenauth::memory_token_store().stale());
}
