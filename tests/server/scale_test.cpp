// A large store through the real server: what a large response costs the server's memory
// after it is sent. A system test (ctest builds it with TOKENAUTH_SCALE_TESTS): it measures
// the process's RSS, which the sanitizers' allocators change, so it runs in the normal build
// only.
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <chrono>
#include <algorithm>
#include <fstream>
#include <string>
#include <thread>

#include "api_helpers.hpp"
#include "metrics_helpers.hpp"
#include "raw_client.hpp"

using test_server::server_process;
using test_server::temp_dir;
using namespace std::chrono_literals;

namespace {
/// A store the server created at data (started once and stopped), then sql run on it
/// directly: what the API would take thousands of calls to build.
void seeded_store(const std::string& data, const std::string& sql) {
    {
        server_process s(data);
        CHECK(s.stop() == 0);
    }
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((data + "/tokenauth.db").c_str(), &db) == SQLITE_OK);
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
}
}  // namespace

TEST_CASE("a large list's memory goes back to the system once it is sent", "[server][scale]") {
    temp_dir dir;
    const std::string data = dir.path + "/data";
    // 30,000 tokens of admin's, inserted directly (the API holds a user to two).
    seeded_store(data,
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000) "
                 "INSERT INTO access_tokens (id, secret_hash, user_id, creator_id, creation_time, enabled, "
                 "hash_scheme) SELECT randomblob(16), randomblob(32), 500, 500, 0, 1, 2 FROM n");
    server_process s(data);
    const std::string admin = s.login();
    const auto rss_kb = [&] {
        std::ifstream f("/proc/" + std::to_string(s.pid()) + "/status");
        std::string line;
        while (std::getline(f, line))
            if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
        return 0L;
    };
    const long before = rss_kb();
    std::size_t body = 0;
    for (int i = 0; i < 3; ++i) {  // each on whichever worker (and malloc arena) takes it
        const auto r = s.request("GET", "/v1/auth/access-tokens/", admin);
        REQUIRE(r.status == 200);
        REQUIRE(r.body.at("entries").size() == 30000);
        body = r.raw.size();
    }
    // The memory is returned after the last byte is sent, which the client may see first.
    long grown = rss_kb() - before;
    for (int i = 0; i < 100 && grown * 1024 >= static_cast<long>(body); ++i) {
        std::this_thread::sleep_for(50ms);
        grown = rss_kb() - before;
    }
    INFO("RSS " << before << " kB before, grown by " << grown << " kB after three lists of " << body / 1024 << " kB");
    CHECK(grown * 1024 < static_cast<long>(body));
}

TEST_CASE("a directory write among 100,000 users copies what it changes, not the directory", "[server][scale]") {
    temp_dir dir;
    const std::string data = dir.path + "/data";
    // 100,000 users, and a group "bulk" of 1,000 of them, inserted directly.
    seeded_store(data,
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) "
                 "INSERT INTO principals (auth_id, kind, name, primary_group, session_binding, name_key) "
                 "SELECT 100000 + i, 'user', printf('bulk-%06d', i), 513, randomblob(16), printf('bulk-%06d', i) FROM n;"
                 "INSERT INTO principals (auth_id, kind, name, name_key) VALUES (300000, 'group', 'bulk', 'bulk');"
                 "INSERT INTO group_members (group_id, member_id) SELECT 300000, auth_id FROM principals "
                 "WHERE kind = 'user' AND auth_id > 100000 AND auth_id <= 101000;"
                 "UPDATE meta SET value = '300001' WHERE key = 'next_auth_id'");
    server_process s(data, {"--metrics-listen", "127.0.0.1:0"});
    const std::string admin = s.login();
    struct copies {
        std::uint64_t entities, nodes;
    };
    const auto read = [&] {
        const std::string m = test_server::scrape(s);
        return copies{test_server::metric(m, "tokenauth_directory_entities_copied_total"),
                      test_server::metric(m, "tokenauth_directory_nodes_copied_total")};
    };
    const copies at_start = read();
    INFO("start-up read " << at_start.entities << " entities");
    CHECK(at_start.entities >= 100000);  // the counter sees a whole directory when one is read

    std::uint64_t worst_entities = 0, worst_nodes = 0;
    // Each write's bounds: small ones, or for a write that changes the 1,000 memberships of a
    // group, a few copies each.
    const auto write = [&](const char* what, const std::string& method, const std::string& path,
                           const std::optional<nlohmann::json>& body, int status, std::uint64_t entity_bound = 200,
                           std::uint64_t node_bound = 60) {
        const copies before = read();
        const auto r = s.request(method, path, admin, body);
        INFO(what << ": " << r.raw);
        REQUIRE(r.status == status);
        const copies after = read();
        const std::uint64_t entities = after.entities - before.entities, nodes = after.nodes - before.nodes;
        UNSCOPED_INFO(what << ": " << entities << " entities and " << nodes << " nodes copied");
        worst_entities = std::max(worst_entities, entities);
        worst_nodes = std::max(worst_nodes, nodes);
        CHECK(entities <= entity_bound);  // a rebuild would read 100,000 and more
        CHECK(nodes <= node_bound);
        return r;
    };
    const auto created = write("create a user", "POST", "/v1/users/", nlohmann::json{{"name", "svc-new"}, {"primary_group", "513"}, {"uid", ""}, {"home_directory", nullptr}, {"password", nullptr}}, 200);
    const std::string id = created.body.at("id").get<std::string>();
    write("rename it", "PUT", "/v1/users/" + id, nlohmann::json{{"id", id}, {"name", "svc-renamed"}, {"primary_group", "513"}, {"uid", ""}, {"home_directory", nullptr}, {"password", nullptr}}, 200);
    write("add it to the group", "POST", "/v1/groups/300000/members/", nlohmann::json{{"member_id", id}}, 200);
    write("create a role", "POST", "/v1/auth/roles/", nlohmann::json{{"name", "Bulk readers"}, {"description", "d"}, {"privileges", {"PRIVILEGE_ANALYTICS_READ"}}}, 200);
    write("give the role to the group", "POST", "/v1/auth/roles/Bulk%20readers/members", nlohmann::json{{"auth_id", "300000"}}, 200);
    write("change the role's privileges", "PATCH", "/v1/auth/roles/Bulk%20readers", nlohmann::json{{"privileges", {"PRIVILEGE_ANALYTICS_READ", "PRIVILEGE_SMB_SHARE_READ"}}}, 200);
    write("take the user out of the group", "DELETE", "/v1/groups/300000/members/" + id, std::nullopt, 200);
    write("delete the user", "DELETE", "/v1/users/" + id, std::nullopt, 200);
    write("delete the role", "DELETE", "/v1/auth/roles/Bulk%20readers", std::nullopt, 200);
    write("delete the group of 1,000", "DELETE", "/v1/groups/300000", std::nullopt, 200, 10 * 1000, 4 * 1000);
    INFO("worst write: " << worst_entities << " entities, " << worst_nodes << " nodes");

    // What the writes produced is what a restart reads from the database.
    const auto users = s.request("GET", "/v1/users/?limit=1&name_prefix=svc", admin);
    CHECK(users.body.size() == 0);
    CHECK(s.request("GET", "/v1/groups/300000", admin).status == 404);
    CHECK(s.request("GET", "/v1/users/100500/groups/", admin).body.size() == 1);
    CHECK(s.request("GET", "/v1/groups/513/members/", admin).body.size() == 100000 + 1);  // and admin
}

namespace {
long rss_kb_of(int pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return 0;
}
}  // namespace

TEST_CASE("a list of 200,000 tokens streams in bounded memory to a slow reader, and a reader that stops is dropped",
          "[server][scale][stream]") {
    temp_dir dir;
    const std::string data = dir.path + "/data";
    constexpr int tokens = 200000;
    seeded_store(data, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(tokens) +
                           ") INSERT INTO access_tokens (id, secret_hash, user_id, creator_id, creation_time, enabled, "
                           "hash_scheme, name) SELECT randomblob(16), randomblob(32), 500, 500, 0, 1, 2, printf('t-%06d', i) FROM n");
    server_process s(data, {"--write-timeout", "1"});
    const std::string admin = s.login();
    const std::string request = "GET /v1/auth/access-tokens/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + admin + "\r\n\r\n";
    const std::string last_chunk = "\r\n0\r\n\r\n";

    // A slow reader, then a fast one: the server holds a piece at a time, whatever the pace.
    const long before = rss_kb_of(s.pid());
    long peak = before;
    std::string got;
    const auto complete = [&](const std::string& text) {
        return text.size() >= last_chunk.size() &&
               text.compare(text.size() - last_chunk.size(), last_chunk.size(), last_chunk) == 0;
    };
    {
        test_server::raw_connection c(s.port(), true);
        REQUIRE(c.send(request));
        for (int i = 0; i < 10; ++i) {  // 10 sips, 200 ms apart: within the write timeout
            c.receive(std::chrono::milliseconds(20));
            peak = std::max(peak, rss_kb_of(s.pid()));
            std::this_thread::sleep_for(200ms);
        }
        for (int i = 0; i < 12000 && !complete(c.receive(std::chrono::milliseconds(0))); ++i) {
            c.receive(std::chrono::milliseconds(10));
            peak = std::max(peak, rss_kb_of(s.pid()));
            REQUIRE_FALSE(c.closed());
        }
        got = c.receive(std::chrono::milliseconds(0));
        REQUIRE(complete(got));
    }
    const std::size_t entries = test_server::raw_connection::occurrences(got, "\"creation_time\":");
    long after = rss_kb_of(s.pid());
    for (int i = 0; i < 100 && after > before * 11 / 10; ++i) {
        std::this_thread::sleep_for(50ms);
        after = rss_kb_of(s.pid());
    }
    INFO("RSS " << before << " kB before, peak " << peak << " kB, " << after << " kB after a list of " << got.size() / 1024
                << " kB (" << entries << " entries)");
    CHECK(entries == tokens);
    CHECK(got.find("Transfer-Encoding: chunked") != std::string::npos);
    CHECK(peak - before <= 32 * 1024);  // the whole list would be 60 MB and more in memory
    CHECK(after <= before * 11 / 10);

    // A reader that takes nothing for --write-timeout (1 s) is dropped without the last chunk.
    {
        test_server::raw_connection c(s.port(), true);
        REQUIRE(c.send(request));
        std::this_thread::sleep_for(3s);
        const std::string part = c.receive(std::chrono::seconds(20));
        INFO("took " << part.size() / 1024 << " kB");
        CHECK(c.closed());
        CHECK(part.size() < got.size());
        CHECK(part.find(last_chunk) == std::string::npos);
    }

    // A failure mid-stream (a row the server cannot read, written behind its back after the
    // first pieces' rows) closes the connection without the last chunk: the client sees the
    // body cut short, never a complete-looking one. The server goes on serving.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((data + "/tokenauth.db").c_str(), &db) == SQLITE_OK);
    const int rc = sqlite3_exec(db,
                                "INSERT INTO access_tokens (id, secret_hash, user_id, creator_id, creation_time, enabled, "
                                "hash_scheme, family) VALUES (randomblob(16), randomblob(32), 500, 500, 0, 1, 2, x'00')",
                                nullptr, nullptr, nullptr);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
    {
        test_server::raw_connection c(s.port(), true);
        REQUIRE(c.send(request));
        const std::string cut = c.receive(std::chrono::seconds(60));
        CHECK(c.closed());
        CHECK(cut.find("HTTP/1.1 200 ") == 0);
        CHECK(cut.size() > got.size() / 2);
        CHECK(cut.find(last_chunk) == std::string::npos);
    }
    CHECK(s.request("GET", "/v1/auth/access-tokens/?limit=1", admin).status == 200);
}
