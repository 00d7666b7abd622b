#include <catch2/catch.hpp>

#include <tokenauth/network.hpp>
#include <tokenauth/validator.hpp>

#include <string>

using tokenauth::errc;
using tokenauth::ip_address;
using tokenauth::ip_prefix;

namespace {

ip_address addr(const std::string& s) {
    ip_address a;
    REQUIRE(tokenauth::parse_ip_address(s, a) == errc::ok);
    return a;
}

ip_prefix prefix(const std::string& s) {
    ip_prefix p;
    REQUIRE(tokenauth::parse_ip_prefix(s, p) == errc::ok);
    return p;
}

std::string canonical(const std::string& s) { return tokenauth::to_string(prefix(s)); }

}  // namespace

TEST_CASE("addresses parse strictly and print canonically", "[network]") {
    CHECK(tokenauth::to_string(addr("10.1.2.3")) == "10.1.2.3");
    CHECK(addr("10.1.2.3").is_v4());
    CHECK(addr("::ffff:10.1.2.3") == addr("10.1.2.3"));  // a dual-stack socket's form of it
    CHECK(tokenauth::to_string(addr("2001:DB8:0:0:0:0:0:1")) == "2001:db8::1");
    CHECK(tokenauth::to_string(addr("2001:db8:0:1:0:0:0:0")) == "2001:db8:0:1::");
    CHECK(tokenauth::to_string(addr("1:0:0:2:0:0:3:4")) == "1::2:0:0:3:4");  // the first of equal runs
    CHECK(tokenauth::to_string(addr("1:0:0:2:0:0:0:3")) == "1:0:0:2::3");     // the longest run
    CHECK(tokenauth::to_string(addr("1:0:2:3:4:5:6:7")) == "1:0:2:3:4:5:6:7");  // one zero is not "::"
    CHECK(tokenauth::to_string(addr("::")) == "::");
    CHECK(tokenauth::to_string(addr("::1")) == "::1");
    CHECK(tokenauth::to_string(addr("64:ff9b::192.0.2.33")) == "64:ff9b::c000:221");
    ip_address a;
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "01.2.3.4", "256.1.1.1", "1.2.3.-4", " 1.2.3.4", "1.2.3.4 ",
                            "1..3.4", "a.b.c.d", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", ":::", "12345::",
                            "fe80::1%eth0", "[::1]", "::g", "1:2:3:4:5:6:7:8::", "::1.2.3", ":1::", "1::2:",
                            "1:2:3:4:5:6:1.2.3.4:8", "1.2.3.4::", "0x1.2.3.4"}) {
        INFO(bad);
        CHECK(tokenauth::parse_ip_address(bad, a) == errc::bad_address);
    }
    CHECK(tokenauth::parse_ip_address("1:2:3:4:5:6:1.2.3.4", a) == errc::ok);
    CHECK(tokenauth::parse_ip_address(std::string(46, '1'), a) == errc::bad_address);
}

TEST_CASE("prefixes: host bits must be zero, lengths within the family", "[network]") {
    CHECK(canonical("10.0.0.0/8") == "10.0.0.0/8");
    CHECK(canonical("192.168.1.7") == "192.168.1.7/32");
    CHECK(canonical("0.0.0.0/0") == "0.0.0.0/0");
    CHECK(canonical("2001:DB8::/32") == "2001:db8::/32");
    CHECK(canonical("::ffff:10.0.0.0/104") == "10.0.0.0/8");  // the IPv4-mapped form of 10/8
    CHECK(canonical("::/0") == "::/0");
    ip_prefix p;
    for (const char* bad : {"10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/-1", "2001:db8::1/32",
                            "::/129", "10.0.0.0/8/8", "/8", "10.0.0.0/ 8", "::ffff:10.0.0.0/80"}) {
        INFO(bad);
        CHECK(tokenauth::parse_ip_prefix(bad, p) == errc::bad_address);
    }
}

TEST_CASE("a prefix holds exactly its addresses", "[network]") {
    const ip_prefix ten = prefix("10.0.0.0/8");
    CHECK(ten.contains(addr("10.0.0.0")));
    CHECK(ten.contains(addr("10.255.255.255")));
    CHECK(ten.contains(addr("::ffff:10.9.9.9")));
    CHECK_FALSE(ten.contains(addr("11.0.0.0")));
    CHECK_FALSE(ten.contains(addr("9.255.255.255")));
    CHECK_FALSE(ten.contains(addr("::a00:1")));  // IPv4-compatible is not IPv4
    const ip_prefix odd = prefix("192.168.4.0/22");  // a length that ends inside a byte
    CHECK(odd.contains(addr("192.168.7.255")));
    CHECK_FALSE(odd.contains(addr("192.168.8.0")));
    CHECK_FALSE(odd.contains(addr("192.168.3.255")));
    CHECK(prefix("0.0.0.0/0").contains(addr("203.0.113.9")));
    CHECK_FALSE(prefix("0.0.0.0/0").contains(addr("2001:db8::1")));
    CHECK(prefix("::/0").contains(addr("203.0.113.9")));  // every address, IPv4 included
    CHECK(prefix("2001:db8::/33").contains(addr("2001:db8:7fff::1")));
    CHECK_FALSE(prefix("2001:db8::/33").contains(addr("2001:db8:8000::1")));
    CHECK(prefix("::1").contains(addr("::1")));
    CHECK_FALSE(prefix("::1").contains(addr("::2")));
}

TEST_CASE("bounds: sorted, without duplicates, at most 16", "[network]") {
    tokenauth::network_bounds b;
    REQUIRE(tokenauth::parse_network_bounds("192.168.0.0/16,10.0.0.0/8,10.0.0.0/8,2001:db8::/32", b) == errc::ok);
    CHECK(b.count == 3);
    CHECK(tokenauth::to_string(b) == "10.0.0.0/8,192.168.0.0/16,2001:db8::/32");
    tokenauth::network_bounds again;
    REQUIRE(tokenauth::parse_network_bounds(tokenauth::to_string(b), again) == errc::ok);
    CHECK_FALSE(b < again);
    CHECK_FALSE(again < b);
    CHECK(b.allows(addr("10.2.3.4")));
    CHECK(b.allows(addr("2001:db8::5")));
    CHECK_FALSE(b.allows(addr("172.16.0.1")));
    std::string many;
    for (int i = 0; i < 17; ++i) many += (i ? "," : "") + std::to_string(i + 1) + ".0.0.0/8";
    CHECK(tokenauth::parse_network_bounds(many, b) == errc::too_long);
    CHECK(tokenauth::parse_network_bounds("", b) == errc::bad_address);
    CHECK(tokenauth::parse_network_bounds("10.0.0.0/8,", b) == errc::bad_address);
    CHECK(tokenauth::parse_network_bounds("10.0.0.0/8, 11.0.0.0/8", b) == errc::bad_address);
}

TEST_CASE("a token with network bounds validates only from within them", "[network][validator]") {
    tokenauth::memory_token_store store;
    tokenauth::manual_clock clock{1'700'000'000LL * tokenauth::nanos_per_second};
    tokenauth::validator v{store, clock};
    tokenauth::network_bounds office;
    REQUIRE(tokenauth::parse_network_bounds("10.0.0.0/8,2001:db8::/32", office) == errc::ok);
    const auto bounded = tokenauth::generate_access_token();
    auto rec = tokenauth::make_token_record(bounded, 1001);
    rec.network = store.networks().intern(office);
    REQUIRE(rec.network != 0);
    store.upsert(rec);
    const auto open = tokenauth::generate_access_token();
    store.upsert(tokenauth::make_token_record(open, 1002));
    const std::string header = "Bearer " + tokenauth::encode_access_token(bounded);

    CHECK(v.validate(header, addr("10.20.30.40")).ok());
    CHECK(v.validate(header, addr("2001:db8::9")).ok());
    CHECK(v.validate(header, addr("::ffff:10.0.0.1")).ok());
    CHECK(v.validate(header, addr("192.0.2.1")).code() == errc::address_not_allowed);
    CHECK(v.validate(header).code() == errc::address_not_allowed);  // no address known
    // Without the secret the bounds are not told.
    auto wrong = bounded;
    wrong.secret[0] ^= 1;
    CHECK(v.validate("Bearer " + tokenauth::encode_access_token(wrong), addr("192.0.2.1")).code() == errc::bad_secret);
    // An unbounded token works with or without an address.
    const std::string other = "Bearer " + tokenauth::encode_access_token(open);
    CHECK(v.validate(other).ok());
    CHECK(v.validate(other, addr("192.0.2.1")).ok());
    // The bounds' state is told after them: a disabled bounded token from outside is still
    // "not allowed", from inside "disabled".
    store.set_enabled(bounded.id, false);
    CHECK(v.validate(header, addr("192.0.2.1")).code() == errc::address_not_allowed);
    CHECK(v.validate(header, addr("10.0.0.1")).code() == errc::disabled);
    store.set_enabled(bounded.id, true);
    // Removing the bounds lets it in from anywhere.
    store.set_network(bounded.id, tokenauth::network_table::unbounded);
    CHECK(v.validate(header, addr("192.0.2.1")).ok());
}

TEST_CASE("a refused address does not count as a use", "[network][validator]") {
    tokenauth::memory_token_store store;
    tokenauth::manual_clock clock{1'700'000'000LL * tokenauth::nanos_per_second};
    tokenauth::validator v{store, clock};
    tokenauth::network_bounds one;
    REQUIRE(tokenauth::parse_network_bounds("10.0.0.0/8", one) == errc::ok);
    const auto t = tokenauth::generate_access_token();
    auto rec = tokenauth::make_token_record(t, 1001);
    rec.network = store.networks().intern(one);
    store.upsert(rec);
    const std::string header = "Bearer " + tokenauth::encode_access_token(t);
    CHECK(v.validate(header, addr("192.0.2.1")).code() == errc::address_not_allowed);
    CHECK(store.last_used(t.id) == 0);
    CHECK(v.validate(header, addr("10.0.0.1")).ok());
    CHECK(store.last_used(t.id) == clock.now());
}

TEST_CASE("a store that knows no bounds fails bounded records closed", "[network][validator]") {
    struct plain final : tokenauth::token_store {
        tokenauth::token_record rec;
        bool find(const tokenauth::token_id& id, tokenauth::token_record& out) const noexcept override {
            if (!(id == rec.id)) return false;
            out = rec;
            return true;
        }
    } store;
    tokenauth::manual_clock clock{1'700'000'000LL * tokenauth::nanos_per_second};
    tokenauth::validator v{store, clock};
    const auto t = tokenauth::generate_access_token();
    store.rec = tokenauth::make_token_record(t, 1001);
    const std::string header = "Bearer " + tokenauth::encode_access_token(t);
    CHECK(v.validate(header, addr("10.0.0.1")).ok());
    store.rec.network = 7;  // an index this store cannot look up
    CHECK(v.validate(header, addr("10.0.0.1")).code() == errc::address_not_allowed);
}
