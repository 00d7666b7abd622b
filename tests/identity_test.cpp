#include <catch2/catch.hpp>

#include <tokenauth/identity.hpp>
#include <tokenauth/identity_json.hpp>

using tokenauth::api_identity;
using tokenauth::errc;
using tokenauth::identity_domain;

namespace {
api_identity make(std::optional<identity_domain> d, std::optional<std::string> auth_id,
                  std::optional<std::uint32_t> uid, std::optional<std::uint32_t> gid, std::optional<std::string> sid,
                  std::optional<std::string> name) {
    api_identity id;
    id.domain = d;
    id.auth_id = std::move(auth_id);
    id.uid = uid;
    id.gid = gid;
    id.sid = std::move(sid);
    id.name = std::move(name);
    return id;
}
const auto none = std::nullopt;
}  // namespace

TEST_CASE("every identity string form of the spec parses as clients parse it", "[identity]") {
    struct row {
        const char* input;
        api_identity expected;
    };
    const row rows[] = {
        {"jane", make(none, none, none, none, none, "jane")},
        {"S-1-5-21-1-2-3-500", make(none, none, none, none, "S-1-5-21-1-2-3-500", none)},
        {"local:jane", make(identity_domain::local, none, none, none, none, "jane")},
        {"LOCAL:jane", make(identity_domain::local, none, none, none, none, "jane")},
        {" local : jane ", make(identity_domain::local, none, none, none, none, "jane")},
        {"ad:jane", make(identity_domain::active_directory, none, none, none, none, "jane")},
        {"AD\\jane", make(none, none, none, none, none, "AD\\jane")},
        {"ldap_user:x", make(identity_domain::posix_user, none, none, none, none, "x")},
        {"ldap_group:x", make(identity_domain::posix_group, none, none, none, none, "x")},
        {"world:Everyone", make(identity_domain::world, none, none, none, none, "Everyone")},
        {"auth_id:1234", make(none, "1234", none, none, none, none)},
        {"AUTH_ID:18446744073709551615", make(none, "18446744073709551615", none, none, none, none)},
        {"uid:1000", make(none, none, 1000u, none, none, none)},
        {"gid:1000", make(none, none, none, 1000u, none, none)},
        {"SID:S-1-1-0", make(none, none, none, none, "S-1-1-0", none)},
        {"sid:S-1-1-0", make(none, none, none, none, "S-1-1-0", none)},
        {"name:x", make(none, none, none, none, none, "x")},
        {"name:a:b", make(none, none, none, none, none, "a:b")},
        {"CN=Jane Doe,OU=x:y", make(none, none, none, none, none, "CN=Jane Doe,OU=x:y")},
        {"S-foo", make(none, none, none, none, none, "S-foo")},
    };
    for (const auto& r : rows) {
        INFO(r.input);
        const auto id = tokenauth::parse_identity(r.input);
        REQUIRE(id.ok());
        CHECK(*id == r.expected);
    }
}

TEST_CASE("bad identity strings are rejected with a reason", "[identity]") {
    for (const char* bad : {"", "   ", "auth_id:", "auth_id:abc", "auth_id:-1", "auth_id:18446744073709551616",
                            "auth_id:01", "uid:4294967296", "uid:x", "gid:-5", "sid:jane", "SID:S-1",
                            "foo:bar", "local:", "unknown_prefix:x"}) {
        INFO(bad);
        const auto id = tokenauth::parse_identity(bad);
        CHECK(id.code() == errc::bad_identity);
        CHECK(std::string(id.detail()).size() > 5);
    }
    CHECK(tokenauth::parse_identity(std::string(2000, 'a')).code() == errc::too_long);
    // Names leave room for a prefix, so every accepted identity's canonical form parses.
    const std::string longest(tokenauth::max_identity_name_length, 'a');
    const auto ok = tokenauth::parse_identity(longest);
    REQUIRE(ok.ok());
    CHECK(tokenauth::parse_identity(tokenauth::format_identity(*ok)).value() == *ok);
    CHECK(tokenauth::parse_identity(longest + "a").code() == errc::too_long);
    CHECK(tokenauth::parse_identity("ldap_group:" + longest).ok());
    CHECK(tokenauth::parse_identity("local:" + longest + "a").code() == errc::too_long);
}

TEST_CASE("identity strings round-trip through format_identity", "[identity]") {
    for (const char* s : {"jane", "local:jane", "ad:jane", "ldap_user:x", "ldap_group:x", "world:Everyone",
                          "auth_id:1234", "uid:1000", "gid:7", "SID:S-1-1-0", "S-1-5-32-544", "name:a:b"}) {
        INFO(s);
        const auto once = tokenauth::parse_identity(s).value();
        const auto twice = tokenauth::parse_identity(tokenauth::format_identity(once)).value();
        CHECK(once == twice);
    }
}

TEST_CASE("identities serialize with all six keys and null for unset", "[identity][json]") {
    const auto id = make(identity_domain::local, "500", none, none, "S-1-5-21-1-2-3-500", "admin");
    const nlohmann::json j = id;
    CHECK(j == nlohmann::json::parse(
                   R"({"domain":"LOCAL","auth_id":"500","uid":null,"gid":null,"sid":"S-1-5-21-1-2-3-500","name":"admin"})"));
    CHECK(j.get<api_identity>() == id);
}

TEST_CASE("identity JSON input accepts subsets and rejects wrong types", "[identity][json]") {
    using nlohmann::json;
    CHECK(tokenauth::identity_from_json(json::parse(R"({"name":"jane"})")).value() ==
          make(none, none, none, none, none, "jane"));
    CHECK(tokenauth::identity_from_json(json::parse(R"({"auth_id":500})")).value() ==
          make(none, "500", none, none, none, none));
    CHECK(tokenauth::identity_from_json(json::parse(R"({"uid":"", "gid":"12"})")).value() ==
          make(none, none, none, 12u, none, none));
    CHECK(tokenauth::identity_from_json(json::parse(R"({"domain":null,"extra":1})")).value() == api_identity{});
    for (const char* bad : {R"([])", R"("jane")", R"({"domain":"NOPE"})", R"({"domain":5})", R"({"auth_id":"x"})",
                            R"({"auth_id":-1})", R"({"auth_id":1.5})", R"({"uid":-1})", R"({"uid":4294967296})",
                            R"({"sid":5})", R"({"name":[]})"}) {
        INFO(bad);
        CHECK(tokenauth::identity_from_json(json::parse(bad)).code() == errc::bad_identity);
    }
    CHECK_THROWS_AS(json::parse(R"({"domain":"NOPE"})").get<api_identity>(), std::invalid_argument);
}
