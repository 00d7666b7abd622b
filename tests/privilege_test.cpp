#include <catch2/catch.hpp>

#include <tokenauth/privilege.hpp>

#include <set>
#include <vector>

using tokenauth::privilege;
using tokenauth::privilege_set;

TEST_CASE("127 privileges with unique names that round-trip", "[privilege]") {
    CHECK(tokenauth::privilege_count == 127);
    std::set<std::string> names;
    for (std::size_t i = 0; i < tokenauth::privilege_count; ++i) {
        const auto p = static_cast<privilege>(i);
        const auto name = tokenauth::to_string(p);
        CHECK(name.rfind("PRIVILEGE_", 0) == 0);
        names.insert(name);
        CHECK(tokenauth::parse_privilege(name) == p);
        CHECK_FALSE(tokenauth::privilege_description(p).empty());
    }
    CHECK(names.size() == 127);
    CHECK(tokenauth::to_string(privilege::ad_read) == "PRIVILEGE_AD_READ");
    CHECK(tokenauth::to_string(privilege::object_storage_config_write) == "PRIVILEGE_OBJECT_STORAGE_CONFIG_WRITE");
    CHECK(tokenauth::parse_privilege("PRIVILEGE_ACCESS_TOKENS_WRITE") == privilege::access_tokens_write);
    for (const char* bad : {"", "PRIVILEGE_", "privilege_ad_read", "PRIVILEGE_AD_READ ", "PRIVILEGE_NOPE", "ZZZ"})
        CHECK_FALSE(tokenauth::parse_privilege(bad).has_value());
    CHECK(tokenauth::privilege_description(privilege::access_tokens_read) == "Read access tokens");
    CHECK(tokenauth::privilege_description(privilege::access_tokens_write) == "Modify access tokens");
    CHECK(tokenauth::privilege_description(privilege::debug) == "Debug");
}

TEST_CASE("privilege sets", "[privilege]") {
    privilege_set s;
    CHECK(s.empty());
    s.insert(privilege::ad_read);
    s.insert(privilege::object_storage_config_write);  // the last one, in the second word
    CHECK(s.contains(privilege::ad_read));
    CHECK(s.contains(privilege::object_storage_config_write));
    CHECK_FALSE(s.contains(privilege::ad_write));
    CHECK(s.size() == 2);
    s.erase(privilege::ad_read);
    CHECK(s.size() == 1);
    CHECK(privilege_set::all().size() == 127);
    CHECK(privilege_set::all().contains_all(s));
    CHECK_FALSE(s.contains_all(privilege_set::all()));
    const privilege_set reads = tokenauth::read_privileges();
    CHECK(reads.size() == 63);
    CHECK(reads.contains(privilege::access_tokens_read));
    CHECK_FALSE(reads.contains(privilege::access_tokens_write));
    CHECK((privilege_set{privilege::debug} | privilege_set{privilege::ad_use}).to_vector() ==
          std::vector<privilege>{privilege::ad_use, privilege::debug});
}

TEST_CASE("effective privileges are the union of roles held directly or through groups", "[privilege]") {
    std::vector<tokenauth::role> roles(4);
    roles[0] = {"Readers", "", {privilege::access_tokens_read}, {}};
    roles[1] = {"Writers", "", {privilege::access_tokens_write}, {}};
    roles[2] = {"Users", "", {privilege::local_user_read}, {}};
    roles[3] = {"Unrelated", "", {privilege::debug}, {}};
    const std::uint64_t user = 1001, group_a = 513, group_b = 2000, other_group = 3000;
    roles[0].add_member(user);
    roles[1].add_member(group_a);
    roles[2].add_member(group_b);
    roles[3].add_member(other_group);
    CHECK_FALSE(roles[0].add_member(user));

    const std::vector<std::uint64_t> groups = {group_a, group_b};
    const auto eff = tokenauth::effective_privileges(roles, user, groups);
    CHECK(eff == privilege_set{privilege::access_tokens_read, privilege::access_tokens_write, privilege::local_user_read});
    CHECK(tokenauth::effective_privileges(roles, user, std::vector<std::uint64_t>{}) ==
          privilege_set{privilege::access_tokens_read});
    CHECK(tokenauth::effective_privileges(roles, 42, std::vector<std::uint64_t>{}).empty());
    CHECK(roles[0].remove_member(user));
    CHECK_FALSE(roles[0].remove_member(user));
    CHECK_FALSE(tokenauth::effective_privileges(roles, user, groups).contains(privilege::access_tokens_read));
}

TEST_CASE("privileges files parse like qq reads them", "[privilege]") {
    const auto ok = tokenauth::parse_privilege_list(
        "# comment\nPRIVILEGE_ACCESS_TOKENS_READ\n  PRIVILEGE_DEBUG  # trailing\r\n\n\t\nPRIVILEGE_DEBUG\nPRIVILEGE_AD_USE");
    REQUIRE(ok.ok());
    CHECK(*ok == std::vector<privilege>{privilege::access_tokens_read, privilege::debug, privilege::ad_use});
    CHECK(tokenauth::parse_privilege_list("").value().empty());
    std::size_t line = 0;
    const auto bad = tokenauth::parse_privilege_list("PRIVILEGE_DEBUG\n\nPRIVILEGE_NOPE\n", &line);
    CHECK(bad.code() == tokenauth::errc::unknown_privilege);
    CHECK(line == 3);
    CHECK(tokenauth::parse_privilege_list("privilege_debug").code() == tokenauth::errc::unknown_privilege);
    CHECK(tokenauth::parse_privilege_list(std::string(2u << 20, '#')).code() == tokenauth::errc::too_long);
}
