// Several servers over one PostgreSQL: two real server processes on one throwaway database.
#include <catch2/catch.hpp>
#include <sqlite3.h>
#include <tokenauth/tokenauth.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <set>
#include <thread>

#include "api_helpers.hpp"
#include "metrics_helpers.hpp"
#include "webhook_receiver.hpp"
#include "storage/pg.hpp"
#include <tokenauth/postgres/replica.hpp>

using nlohmann::json;
using test_server::pg_instance;
using test_server::server_process;
using test_server::metric;
using test_server::scrape;
using test_server::temp_dir;
using namespace test_server::api;
using namespace std::chrono_literals;

namespace {

/// The flags that put a server on a database with the shared key file.
std::vector<std::string> on(const std::string& database, const std::string& key_file, std::vector<std::string> more = {}) {
    std::vector<std::string> flags = {"--database", database, "--session-key-file", key_file};
    for (auto& m : more) flags.push_back(std::move(m));
    return flags;
}

/// Polls until the request's status is `want`; returns how long that took (or -1 ms).
std::chrono::milliseconds until_status(const server_process& s, const std::string& path, const std::string& bearer,
                                       int want, std::chrono::milliseconds bound) {
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < bound) {
        if (s.request("GET", path, bearer).status == want)
            return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        std::this_thread::sleep_for(2ms);
    }
    return -1ms;
}

/// Two servers on a fresh database of the shared instance, with one key file.
struct two_servers {
    temp_dir dir;
    std::string db = pg_instance::shared().create_database();
    server_process a{dir.path + "/a", on(db, dir.path + "/session.key")};
    server_process b{dir.path + "/b", on(db, dir.path + "/session.key")};
};

}  // namespace

TEST_CASE("two servers on one PostgreSQL: what one writes the other enforces", "[postgres]") {
    if (test_server::skip_without_postgres()) return;
    two_servers pair;
    server_process& a = pair.a;
    server_process& b = pair.b;
    const std::string admin_a = a.login();

    // Created on A, used on B.
    create_user(a, admin_a, "svc");
    const auto t = create_token(a, admin_a, user_identity("svc"));
    CHECK(until_status(b, "/v1/session/who-am-i", t.bearer, 200, 5s) >= 0ms);
    // A session from A works on B (one key file, user state in the database).
    CHECK(b.request("GET", "/v1/session/who-am-i", admin_a).status == 200);

    // Disabled on B: refused on A. Deleted on B: refused on A.
    const std::string admin_b = b.login();
    REQUIRE(b.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin_b, json{{"enabled", false}}).status == 200);
    const auto disabled = until_status(a, "/v1/session/who-am-i", t.bearer, 401, 5s);
    CHECK(disabled >= 0ms);
    std::printf("revocation latency B->A (disable): %lld ms\n", static_cast<long long>(disabled.count()));
    REQUIRE(b.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin_b, json{{"enabled", true}}).status == 200);
    CHECK(until_status(a, "/v1/session/who-am-i", t.bearer, 200, 5s) >= 0ms);
    REQUIRE(b.request("DELETE", "/v1/auth/access-tokens/" + t.id, admin_b).status == 200);
    const auto deleted = until_status(a, "/v1/session/who-am-i", t.bearer, 401, 5s);
    CHECK(deleted >= 0ms);
    std::printf("revocation latency B->A (delete): %lld ms\n", static_cast<long long>(deleted.count()));

    // Rotated on A: the successor works on B and the predecessor is refused there; a reuse
    // seen on B disables the family on A.
    const auto old_token = create_token(a, admin_a, user_identity("svc"));
    auto rotated = a.request("POST", "/v1/auth/access-tokens/" + old_token.id + "/rotate", admin_a, json{{"grace_seconds", 60}});
    REQUIRE(rotated.status == 200);
    const std::string successor = rotated.body.at("bearer_token");
    CHECK(until_status(b, "/v1/session/who-am-i", successor, 200, 5s) >= 0ms);
    CHECK(b.request("GET", "/v1/session/who-am-i", old_token.bearer).status == 200);  // in its grace
    CHECK(b.request("POST", "/v1/auth/access-tokens/" + old_token.id + "/rotate", old_token.bearer).status == 409);
    CHECK(until_status(a, "/v1/session/who-am-i", successor, 401, 5s) >= 0ms);
    CHECK(a.request("GET", "/v1/session/who-am-i", old_token.bearer).status == 401);

    // A password change on B ends the user's sessions on A.
    create_user(a, admin_a, "jane", std::string("jane-password-1"));
    const std::string jane_on_a = a.login("jane", "jane-password-1");
    const std::string jane_on_b = b.login("jane", "jane-password-1");
    REQUIRE(b.request("POST", "/v1/session/change-password", jane_on_b,
                      json{{"old_password", "jane-password-1"}, {"new_password", "jane-password-2"}})
                .status == 200);
    CHECK(until_status(a, "/v1/session/who-am-i", jane_on_a, 401, 5s) >= 0ms);
    // Directory changes travel too: a user deleted on A cannot log in on B.
    const std::string jane_id = a.request("GET", "/v1/session/who-am-i", a.login("jane", "jane-password-2")).body.at("id");
    REQUIRE(a.request("DELETE", "/v1/users/" + jane_id, admin_a).status == 200);
    bool refused = false;
    for (int i = 0; i < 500 && !refused; ++i) {
        refused = b.request("POST", "/v1/session/login", "", json{{"username", "jane"}, {"password", "jane-password-2"}}).status == 401;
        if (!refused) std::this_thread::sleep_for(10ms);
    }
    CHECK(refused);
}

TEST_CASE("the two-token limit holds for 20 concurrent creates over two servers", "[postgres]") {
    if (test_server::skip_without_postgres()) return;
    two_servers pair;
    server_process& a = pair.a;
    server_process& b = pair.b;
    const std::string admin = a.login();
    create_user(a, admin, "svc");
    std::atomic<int> ok{0}, conflict{0}, other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 20; ++i)
        threads.emplace_back([&, i] {
            const server_process& s = i % 2 == 0 ? a : b;
            const int status = s.request("POST", "/v1/auth/access-tokens/", admin, json{{"user", {{"name", "svc"}}}}).status;
            (status == 200 ? ok : status == 409 ? conflict : other)++;
        });
    for (auto& t : threads) t.join();
    CHECK(ok == 2);
    CHECK(conflict == 18);
    CHECK(other == 0);
    const auto listed = b.request("GET", "/v1/auth/access-tokens/", admin);
    CHECK(listed.body.at("entries").size() == 2);
}

TEST_CASE("what one server has just created can be named through the other at once", "[postgres]") {
    // Behind a load balancer, a create and the next request land on different servers: the
    // second must not answer 404 because its follower has not applied the change yet.
    if (test_server::skip_without_postgres()) return;
    two_servers pair;
    const std::string admin = pair.a.login();
    std::atomic<int> ok{0}, not_found{0}, other{0};  // counted here: Catch2's CHECK is not thread-safe
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c)
        clients.emplace_back([&, c] {
            for (int i = 0; i < 15; ++i) {
                const std::string name = "svc" + std::to_string(c) + "-" + std::to_string(i);
                const auto u = pair.a.request("POST", "/v1/users/", admin,
                                              json{{"name", name}, {"primary_group", "0"}, {"uid", ""},
                                                   {"home_directory", nullptr}, {"password", nullptr}});
                if (u.status != 200) {
                    ++other;
                    continue;
                }
                const auto r = pair.b.request("POST", "/v1/auth/access-tokens/", admin, json{{"user", {{"name", name}}}});
                (r.status == 200 ? ok : r.status == 404 ? not_found : other)++;
            }
        });
    for (auto& t : clients) t.join();
    CHECK(not_found == 0);
    CHECK(other == 0);
    CHECK(ok == 60);
}

TEST_CASE("kill -9 during writes loses no acknowledged write", "[postgres]") {
    if (test_server::skip_without_postgres()) return;
    ::signal(SIGPIPE, SIG_IGN);  // the killed server's socket may close under a write
    auto& pg = pg_instance::shared();
    temp_dir dir;
    const std::string db = pg.create_database();
    const std::string key = dir.path + "/session.key";
    std::vector<std::string> acknowledged;
    {
        server_process a(dir.path + "/a", on(db, key));
        const std::string admin = a.login();
        std::atomic<bool> stop{false};
        std::thread writer([&] {
            for (int i = 0; !stop; ++i) {
                const std::string name = "crash" + std::to_string(i);
                try {
                    const auto r = a.request("POST", "/v1/users/", admin,
                                             json{{"name", name}, {"primary_group", "0"}, {"uid", ""},
                                                  {"home_directory", nullptr}, {"password", nullptr}});
                    if (r.status == 200) acknowledged.push_back(name);
                } catch (const std::exception&) {
                    break;  // the server is gone
                }
            }
        });
        std::this_thread::sleep_for(1500ms);
        a.kill_hard();
        stop = true;
        writer.join();
    }
    REQUIRE(!acknowledged.empty());
    server_process b(dir.path + "/b", on(db, key));
    const auto users = b.request("GET", "/v1/users/", b.login());
    std::set<std::string> names;
    for (const auto& u : users.body) names.insert(u.at("name").get<std::string>());
    for (const auto& n : acknowledged) CHECK(names.count(n) == 1);
    std::printf("acknowledged before kill -9: %zu users, all present after restart\n", acknowledged.size());
}

TEST_CASE("without the database a server fails closed after --max-staleness and recovers by itself", "[postgres]") {
    if (test_server::skip_without_postgres()) return;
    pg_instance pg;  // its own instance: this test stops it
    temp_dir dir;
    const std::string db = pg.create_database();
    server_process a(dir.path + "/a",
                     on(db, dir.path + "/session.key", {"--max-staleness", "3", "--metrics-listen", "127.0.0.1:0"}));
    const std::string admin = a.login();
    create_user(a, admin, "svc");
    const auto t = create_token(a, admin, user_identity("svc"));
    REQUIRE(a.request("GET", "/v1/session/who-am-i", t.bearer).status == 200);
    const auto lag = [&] { return test_server::metric(test_server::scrape(a), "tokenauth_follower_lag_seconds"); };
    const auto stale_validations = [&] {
        return test_server::metric(test_server::scrape(a), "tokenauth_validations_total{result=\"store_stale\"}");
    };
    CHECK(lag() < 3);
    CHECK(stale_validations() == 0);
    pg.stop();
    const auto failed_closed = until_status(a, "/v1/session/who-am-i", t.bearer, 503, 30s);
    CHECK(failed_closed >= 2s);  // not before the bound (3 s, less the last sync's age)
    const auto r = a.request("GET", "/v1/session/who-am-i", t.bearer);
    require_error(r, 503, "storage_unavailable_error");
    CHECK(a.request("GET", "/v1/version").status == 200);  // unauthenticated: still answers
    // The probes: alive, not ready, with a fixed reason and no driver text.
    CHECK(a.request("GET", "/livez").status == 200);
    const auto ready = a.request("GET", "/readyz");
    CHECK(ready.status == 503);
    CHECK(ready.body == json{{"status", "unavailable"}, {"reason", "storage_unreachable"}});
    // The metrics say why: the follower's lag is past the bound, and the 503s are counted.
    CHECK(lag() >= 3);
    CHECK(stale_validations() >= 2);
    pg.start();
    CHECK(until_status(a, "/v1/session/who-am-i", t.bearer, 200, 30s) >= 0ms);
    CHECK(lag() < 3);
    CHECK(a.request("GET", "/readyz").body == json{{"status", "ready"}});
    // Writes work again on the same server, without a restart.
    CHECK(a.request("PATCH", "/v1/auth/access-tokens/" + t.id, admin, json{{"enabled", false}}).status == 200);
}

TEST_CASE("migrating a SQLite store to PostgreSQL keeps tokens and sessions working", "[postgres]") {
    if (test_server::skip_without_postgres()) return;
    auto& pg = pg_instance::shared();
    temp_dir dir;
    const std::string sqlite_dir = dir.path + "/sqlite";
    created_token token, scoped;
    std::string session;
    std::string svc_id;
    {
        server_process s(sqlite_dir, {"--database", "sqlite:" + sqlite_dir + "/tokenauth.db"});
        const std::string admin = s.login();
        svc_id = create_user(s, admin, "svc");
        grant(s, admin, "SvcRole", {"PRIVILEGE_LOCAL_USER_READ", "PRIVILEGE_ACCESS_TOKENS_READ"}, json{{"name", "svc"}});
        token = create_token(s, admin, user_identity("svc"), "2099-01-01T00:00:00Z");
        const auto r = s.request("POST", "/v1/auth/access-tokens/", admin,
                                 json{{"user", {{"name", "svc"}}}, {"privileges", {"PRIVILEGE_LOCAL_USER_READ"}},
                                      {"allowed_cidrs", {"127.0.0.0/8"}}});
        REQUIRE(r.status == 200);
        scoped = {r.body.at("id"), r.body.at("bearer_token")};
        REQUIRE(s.request("POST", "/v1/groups/", admin, json{{"name", "Ops"}, {"gid", "7"}}).status == 200);
        session = s.login();
        CHECK(s.stop() == 0);
    }
    {
        // The scoped token's record is of the legacy scheme, as a database from before SHA-256
        // would have it: the migration keeps its scheme, so it still validates.
        const auto t = tokenauth::parse_access_token(scoped.bearer).value();
        const auto legacy = tokenauth::hash_secret_blake2b(t.id.bytes, t.secret);
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open((sqlite_dir + "/tokenauth.db").c_str(), &db) == SQLITE_OK);
        sqlite3_stmt* st = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, "UPDATE access_tokens SET hash_scheme = 1, secret_hash = ? WHERE id = ?", -1, &st,
                                   nullptr) == SQLITE_OK);
        sqlite3_bind_blob(st, 1, legacy.bytes, 32, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 2, t.id.bytes, 16, SQLITE_TRANSIENT);
        CHECK(sqlite3_step(st) == SQLITE_DONE);
        sqlite3_finalize(st);
        CHECK(sqlite3_changes(db) == 1);
        sqlite3_close(db);
    }
    const std::string db = pg.create_database();
    const std::string cmd = std::string(TOKENAUTH_SERVER_BIN) + " --migrate-from sqlite:" + sqlite_dir +
                            "/tokenauth.db --database '" + db + "' --session-key-file " + sqlite_dir + "/session.key > " +
                            dir.path + "/migrate.log 2>&1";
    REQUIRE(WEXITSTATUS(std::system(cmd.c_str())) == 0);
    // A second migration into the same database is refused.
    CHECK(WEXITSTATUS(std::system(cmd.c_str())) != 0);

    server_process p(dir.path + "/pg", on(db, sqlite_dir + "/session.key"));
    auto who = p.request("GET", "/v1/session/who-am-i", token.bearer);
    REQUIRE(who.status == 200);
    CHECK(who.body.at("id") == svc_id);
    CHECK(p.request("GET", "/v1/session/who-am-i", session).status == 200);  // the same key file
    CHECK(p.request("GET", "/v1/users/", scoped.bearer).status == 200);
    CHECK(p.request("GET", "/v1/auth/access-tokens/", scoped.bearer).status == 403);  // the scope came along
    CHECK(p.request("GET", "/v1/auth/access-tokens/" + scoped.id, p.login()).body.at("allowed_cidrs") ==
          json{"127.0.0.0/8"});  // and the network bounds
    const std::string admin = p.login();
    const auto row = p.request("GET", "/v1/auth/access-tokens/" + token.id, admin);
    CHECK(row.body.at("expiration_time").get<std::string>().rfind("2099-01-01T00:00:00", 0) == 0);
    CHECK(p.request("GET", "/v1/auth/roles/SvcRole/members", admin).body.at("members").contains(svc_id));
    // The migrated user holds two tokens: the limit counts them.
    CHECK(p.request("POST", "/v1/auth/access-tokens/", admin, json{{"user", {{"name", "svc"}}}}).status == 409);
    // New ids continue after the old ones (no reuse).
    const std::string next = create_user(p, admin, "after-migration");
    CHECK(std::stoull(next) > std::stoull(svc_id) + 1);
}

namespace {
std::string hex_bytea(const std::uint8_t* p, std::size_t n) { return *tokenauth::server::pg::bytes(p, n); }

/// Runs one statement on the database; returns the first column of the first row ("" if none).
std::string sql(const std::string& db, const std::string& statement) {
    PGconn* c = PQconnectdb(db.c_str());
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    PGresult* r = PQexec(c, statement.c_str());
    INFO(statement << ": " << PQerrorMessage(c));
    CHECK((PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK));
    std::string out = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    PQfinish(c);
    return out;
}
}  // namespace

TEST_CASE("a legacy BLAKE2b token in PostgreSQL validates on every server and is upgraded after its first use", "[postgres][scheme]") {
    if (test_server::skip_without_postgres()) return;
    auto& pg = pg_instance::shared();
    temp_dir dir;
    const std::string db = pg.create_database();
    const std::string key = dir.path + "/session.key";
    created_token t;
    {
        server_process a(dir.path + "/a", on(db, key));
        const std::string admin = a.login();
        create_user(a, admin, "svc");
        t = create_token(a, admin, user_identity("svc"));
        REQUIRE(a.stop() == 0);
    }
    const auto token = tokenauth::parse_access_token(t.bearer).value();
    const auto legacy = tokenauth::hash_secret_blake2b(token.id.bytes, token.secret);
    const std::string where = " WHERE id = '" + hex_bytea(token.id.bytes, 16) + "'";
    CHECK(sql(db, "SELECT hash_scheme FROM access_tokens" + where) == "2");
    sql(db, "UPDATE access_tokens SET hash_scheme = 1, secret_hash = '" + hex_bytea(legacy.bytes, 32) + "'" + where);

    server_process a(dir.path + "/a", on(db, key, {"--last-used-interval", "1"}));
    server_process b(dir.path + "/b", on(db, key));
    REQUIRE(a.request("GET", "/v1/session/who-am-i", t.bearer).status == 200);
    std::string scheme;
    for (int n = 0; n < 100 && scheme != "2"; ++n) {
        std::this_thread::sleep_for(100ms);
        scheme = sql(db, "SELECT hash_scheme FROM access_tokens" + where);
    }
    CHECK(scheme == "2");
    const auto current = tokenauth::hash_access_token(token);
    CHECK(sql(db, "SELECT secret_hash FROM access_tokens" + where) == hex_bytea(current.bytes, 32));
    // B loaded the legacy record before the upgrade: it still validates there.
    CHECK(b.request("GET", "/v1/session/who-am-i", t.bearer).status == 200);
    auto wrong = token;
    wrong.secret[5] ^= 1;
    CHECK(b.request("GET", "/v1/session/who-am-i", tokenauth::encode_access_token(wrong)).status == 401);
    CHECK(a.request("GET", "/v1/session/who-am-i", tokenauth::encode_access_token(wrong)).status == 401);
}

TEST_CASE("change log v2: every write names its entity, and the pruning mark is recorded", "[postgres]") {
    if (test_server::skip_without_postgres()) return;
    two_servers pair;
    server_process& a = pair.a;
    const std::string admin = a.login();
    const std::string before = sql(pair.db, "SELECT coalesce(max(seq), 0) FROM changes");
    const std::string user = create_user(a, admin, "svc");
    const auto group = a.request("POST", "/v1/groups/", admin, json{{"name", "ops"}, {"gid", ""}});
    REQUIRE(group.status == 200);
    const std::string gid = group.body.at("id");
    REQUIRE(a.request("POST", "/v1/groups/" + gid + "/members/", admin, json{{"member_id", user}}).status == 200);
    grant(a, admin, "Readers", {"PRIVILEGE_LOCAL_USER_READ"}, json{{"name", "svc"}});
    const auto t = create_token(a, admin, user_identity("svc"));
    REQUIRE(a.request("DELETE", "/v1/users/" + user, admin).status == 200);
    const std::string logged = sql(pair.db, "SELECT string_agg(kind || ':' || coalesce(entity_id, encode(token_id, 'hex')), ' ' "
                                            "ORDER BY seq) FROM changes WHERE seq > " + before);
    const std::string want = "user:" + user + " group:" + gid + " group_members:" + gid + " role:Readers role_members:Readers";
    CHECK(logged.rfind(want + " token:", 0) == 0);  // then the token's creation, its deletion, and the user's
    CHECK(logged.size() > want.size());
    CHECK(logged.substr(logged.rfind(' ') + 1) == "user:" + user);
    CHECK(sql(pair.db, "SELECT count(*) FROM changes WHERE seq > " + before + " AND kind = 'directory'") == "0");
    CHECK(sql(pair.db, "SELECT value FROM meta WHERE key = 'pruned_through'") == "0");
    CHECK(sql(pair.db, "SELECT version FROM schema_version") == std::to_string(tokenauth::postgres::known_schema_version));
    // The token's two rows (created, then deleted with its user) name it.
    CHECK(sql(pair.db, "SELECT count(*) FROM changes WHERE seq > " + before + " AND kind = 'token' AND token_id IS NOT NULL") == "2");
    CHECK(a.request("GET", "/v1/session/who-am-i", t.bearer).status == 401);
}

TEST_CASE("a change of a kind the server does not know fails it closed instead of being skipped", "[postgres]") {
    if (test_server::skip_without_postgres()) return;
    temp_dir dir;
    const std::string db = pg_instance::shared().create_database();
    server_process a(dir.path + "/a", on(db, dir.path + "/session.key", {"--max-staleness", "1"}));
    const std::string admin = a.login();
    REQUIRE(a.request("GET", "/v1/session/who-am-i", admin).status == 200);
    // What a newer server might log: skipping it could keep a removed user's access.
    sql(db, "WITH c AS (INSERT INTO changes (kind, entity_id) VALUES ('user_v9', '1001') RETURNING seq) "
            "SELECT pg_notify('tokenauth_changes', seq::text) FROM c");
    for (int i = 0; i < 1000 && a.log().find("\"event\":\"follower_error\"") == std::string::npos; ++i)
        std::this_thread::sleep_for(10ms);
    CHECK(a.log().find("\"event\":\"follower_error\"") != std::string::npos);
    CHECK(a.log().find("user_v9") != std::string::npos);
    // It stops there: after the bound, authenticated requests fail closed, and stay so.
    int status = 0;
    for (int i = 0; i < 500 && status != 503; ++i) {
        status = a.request("GET", "/v1/session/who-am-i", admin).status;
        if (status != 503) std::this_thread::sleep_for(10ms);
    }
    CHECK(status == 503);
    std::this_thread::sleep_for(300ms);
    CHECK(a.request("GET", "/v1/session/who-am-i", admin).status == 503);
    CHECK(a.request("GET", "/readyz").body == json{{"status", "unavailable"}, {"reason", "stale"}});
    CHECK(a.request("GET", "/livez").status == 200);
    // A database whose schema is newer than the server's is refused at start.
    sql(db, "UPDATE schema_version SET version = version + 1");
    CHECK_THROWS(server_process(dir.path + "/b", on(db, dir.path + "/session.key")));
}

TEST_CASE("the change log is pruned to --change-log-retention, and a server behind it loads a snapshot", "[postgres]") {
    if (test_server::skip_without_postgres()) return;
    auto& pg = pg_instance::shared();
    temp_dir dir;
    const std::string db = pg.create_database();
    const std::string key = dir.path + "/session.key";
    server_process a(dir.path + "/a", on(db, key, {"--change-log-retention", "3"}));
    server_process b(dir.path + "/b", on(db, key, {"--change-log-retention", "3", "--max-staleness", "120",
                                                   "--metrics-listen", "127.0.0.1:0"}));
    const std::string admin = a.login();
    create_user(a, admin, "svc");
    const auto revoked = create_token(a, admin, user_identity("svc"));
    REQUIRE(until_status(b, "/v1/session/who-am-i", revoked.bearer, 200, 30s) >= 0ms);
    // B follows with the library's follower: its first snapshot, then change by change.
    CHECK(metric(scrape(b), "tokenauth_follower_snapshot_loads_total") == 1);
    const auto applied_before = metric(scrape(b), "tokenauth_follower_changes_applied_total");
    CHECK(applied_before >= 2);  // the user and the token
    // B sleeps while A revokes a token, creates another and a user, and writes more changes
    // than the log keeps; then the log is pruned past the revocation.
    b.signal(SIGSTOP);
    REQUIRE(a.request("DELETE", "/v1/auth/access-tokens/" + revoked.id, admin).status == 200);
    const std::string revocation = sql(db, "SELECT max(seq) FROM changes");
    const auto created = create_token(a, admin, user_identity("svc"));
    create_user(a, admin, "late-user");
    for (int i = 0; i < 5; ++i) create_user(a, admin, "filler-" + std::to_string(i));
    const auto pruned = [&] { return std::stoll(sql(db, "SELECT value FROM meta WHERE key = 'pruned_through'")); };
    for (int i = 0; i < 300 && pruned() < std::stoll(revocation); ++i) std::this_thread::sleep_for(100ms);
    CHECK(pruned() >= std::stoll(revocation));
    CHECK(std::stoll(sql(db, "SELECT count(*) FROM changes")) <= 4);  // the retention, and one written meanwhile
    b.signal(SIGCONT);
    // B cannot apply what it missed change by change: it loads a snapshot, and sees all of it.
    CHECK(until_status(b, "/v1/session/who-am-i", created.bearer, 200, 30s) >= 0ms);
    CHECK(b.request("GET", "/v1/session/who-am-i", revoked.bearer).status == 401);
    const std::string b_admin = b.login();
    CHECK(b.request("GET", "/v1/users/", b_admin).raw.find("\"late-user\"") != std::string::npos);
    CHECK(b.log().find("\"event\":\"follower_snapshot\"") != std::string::npos);
    // One more snapshot, not the missed changes one by one.
    const std::string exposition = scrape(b);
    CHECK(metric(exposition, "tokenauth_follower_snapshot_loads_total") == 2);
    CHECK(metric(exposition, "tokenauth_follower_changes_applied_total") <= applied_before + 1);
}

TEST_CASE("two servers on one PostgreSQL give an expiry warning once between them", "[postgres]") {
    if (test_server::skip_without_postgres()) return;
    temp_dir dir;
    const std::string db = pg_instance::shared().create_database();
    const std::vector<std::string> warn = {"--expiry-warnings", "1h", "--expiry-warning-interval", "1"};
    server_process a{dir.path + "/a", on(db, dir.path + "/session.key", warn)};
    server_process b{dir.path + "/b", on(db, dir.path + "/session.key", warn)};
    const std::string admin = a.login();
    std::vector<std::string> ids;
    for (int i = 0; i < 2; ++i) {
        const std::string expiry =
            tokenauth::format_rfc3339(tokenauth::system_clock().now() + tokenauth::timestamp{1800} * 1'000'000'000);
        ids.push_back(create_token(a, admin, user_identity("admin"), expiry).id);
    }
    const auto given = [&](const std::string& id) {
        const std::string all = test_server::read_file(dir.path + "/a/audit.log") + test_server::read_file(dir.path + "/b/audit.log");
        std::size_t n = 0;
        for (std::size_t at = all.find("\"token_expiring\""); at != std::string::npos; at = all.find("\"token_expiring\"", at + 1))
            if (all.find(id, at) < all.find('\n', at)) ++n;
        return n;
    };
    for (int i = 0; i < 100 && (given(ids[0]) == 0 || given(ids[1]) == 0); ++i) std::this_thread::sleep_for(100ms);
    std::this_thread::sleep_for(2500ms);  // both servers have looked again since
    CHECK(given(ids[0]) == 1);
    CHECK(given(ids[1]) == 1);
}

TEST_CASE("two servers on one PostgreSQL share the webhook outbox: every event delivered, signed, once",
          "[postgres][webhooks]") {
    if (test_server::skip_without_postgres()) return;
    REQUIRE(sodium_init() >= 0);
    namespace wh = test_server::webhooks;
    wh::receiver r;
    temp_dir dir;
    const std::string db = pg_instance::shared().create_database();
    const std::string key = wh::random_key();
    const std::vector<std::string> hook = {"--webhook", r.url() + "," + wh::secret_file(dir.path, {key})};
    server_process a(dir.path + "/a", on(db, dir.path + "/session.key", hook));
    server_process b(dir.path + "/b", on(db, dir.path + "/session.key", hook));
    const std::string admin = a.login();
    std::set<std::string> tokens;
    for (int i = 0; i < 6; ++i) {
        const server_process& s = i % 2 == 0 ? a : b;
        const std::string user = "svc" + std::to_string(i);
        create_user(s, admin, user);
        tokens.insert(create_token(s, admin, user_identity(user)).id);
    }
    // Every row delivered (a delivered row is never claimed again): what came is all that comes.
    for (int i = 0; i < 200 && sql(db, "SELECT count(*) FROM webhook_outbox WHERE state <> 'delivered'") != "0"; ++i)
        std::this_thread::sleep_for(100ms);
    REQUIRE(sql(db, "SELECT count(*) FROM webhook_outbox") == "6");
    REQUIRE(sql(db, "SELECT count(*) FROM webhook_outbox WHERE state <> 'delivered'") == "0");
    const auto got = r.got();
    REQUIRE(got.size() == 6);
    std::set<std::string> ids, delivered;
    for (const auto& d : got) {
        CHECK(wh::verifies(d, key));
        ids.insert(d.id);
        delivered.insert(json::parse(d.body).at("data").at("target").at("token_id").get<std::string>());
    }
    CHECK(ids.size() == 6);
    CHECK(delivered == tokens);
}

TEST_CASE("a follower applies another server's directory writes entity by entity, not by reloading 20,000 users",
          "[postgres][scale]") {
    if (test_server::skip_without_postgres()) return;
    temp_dir dir;
    const std::string db = pg_instance::shared().create_database();
    {
        server_process first(dir.path + "/a", on(db, dir.path + "/session.key"));  // creates the schema
    }
    sql(db, "INSERT INTO principals (auth_id, kind, name, primary_group, session_binding, name_key) "
            "SELECT 100000 + i, 'user', 'bulk-' || i, 513, decode(md5(i::text), 'hex'), 'bulk-' || i FROM generate_series(1, 20000) i");
    sql(db, "UPDATE meta SET value = '200000' WHERE key = 'next_auth_id'");
    server_process a(dir.path + "/a", on(db, dir.path + "/session.key"));
    server_process b(dir.path + "/b", on(db, dir.path + "/session.key", {"--metrics-listen", "127.0.0.1:0"}));
    const std::string admin = a.login();
    const std::string admin_b = b.login();
    const auto copied = [&] { return metric(scrape(b), "tokenauth_directory_entities_copied_total"); };
    CHECK(copied() >= 20000);  // B's first load read them all
    // Each write through A, then waited for on B: what B copied to apply it.
    const auto on_b = [&](const char* what, const std::function<void()>& write, const std::function<bool()>& seen) {
        const std::uint64_t before = copied();
        write();
        const auto end = std::chrono::steady_clock::now() + 10s;
        while (!seen() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(10ms);
        REQUIRE(seen());
        const std::uint64_t cost = copied() - before;
        INFO(what << ": B copied " << cost << " entities");
        CHECK(cost <= 200);
    };
    std::string user;
    on_b("create a user", [&] { user = create_user(a, admin, "svc-new"); },
         [&] { return b.request("GET", "/v1/users/" + user, admin_b).status == 200; });
    on_b("create a role", [&] { grant(a, admin, "Bulk", {"PRIVILEGE_LOCAL_USER_READ"}, json{{"name", "svc-new"}}); },
         [&] { return b.request("GET", "/v1/auth/roles/Bulk/members/" + user, admin_b).status == 200; });
    on_b("rename the role",
         [&] { REQUIRE(a.request("PATCH", "/v1/auth/roles/Bulk", admin, json{{"name", "Bulk readers"}}).status == 200); },
         [&] {
             return b.request("GET", "/v1/auth/roles/Bulk%20readers", admin_b).status == 200 &&
                    b.request("GET", "/v1/auth/roles/Bulk", admin_b).status == 404;
         });
    on_b("delete the user", [&] { REQUIRE(a.request("DELETE", "/v1/users/" + user, admin).status == 200); },
         [&] { return b.request("GET", "/v1/users/" + user, admin_b).status == 404; });
    CHECK(b.request("GET", "/v1/auth/roles/Bulk%20readers/members", admin_b).body.at("members").empty());
    CHECK(metric(scrape(b), "tokenauth_follower_snapshot_loads_total") == 1);
}

TEST_CASE("group commit: concurrent token writes share commits, and a 409 rolls back only its own write", "[postgres]") {
    if (test_server::skip_without_postgres()) return;
    temp_dir dir;
    const std::string db = pg_instance::shared().create_database();
    server_process s(dir.path + "/a", on(db, dir.path + "/session.key", {"--metrics-listen", "127.0.0.1:0"}));
    const std::string admin = s.login();
    constexpr int writers = 8, rounds = 25;
    for (int i = 0; i < writers; ++i) create_user(s, admin, "writer-" + std::to_string(i));
    create_user(s, admin, "full");
    const auto held = create_token(s, admin, user_identity("full"));
    create_token(s, admin, user_identity("full"));
    std::atomic<int> wrong{0}, unusable{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < writers; ++i)
        threads.emplace_back([&, i] {
            for (int k = 0; k < rounds; ++k) {
                // Each writer's own create succeeds and works at once (it was committed and
                // applied before the answer); the one over the limit fails alone.
                const auto r = s.request("POST", "/v1/auth/access-tokens/", admin,
                                         json{{"user", {{"name", "writer-" + std::to_string(i)}}}});
                if (r.status != 200) {
                    ++wrong;
                    continue;
                }
                if (s.request("GET", "/v1/session/who-am-i", r.body.at("bearer_token").get<std::string>()).status != 200)
                    ++unusable;
                if (s.request("POST", "/v1/auth/access-tokens/", admin, json{{"user", {{"name", "full"}}}}).status != 409)
                    ++wrong;
                if (s.request("DELETE", "/v1/auth/access-tokens/" + r.body.at("id").get<std::string>(), admin).status != 200)
                    ++wrong;
            }
        });
    for (auto& t : threads) t.join();
    CHECK(wrong == 0);
    CHECK(unusable == 0);
    CHECK(s.request("GET", "/v1/auth/access-tokens/?user=full", admin).body.at("entries").size() == 2);
    CHECK(s.request("GET", "/v1/auth/access-tokens/", admin).body.at("entries").size() == 2);
    CHECK(s.request("GET", "/v1/session/who-am-i", held.bearer).status == 200);
    CHECK(sql(db, "SELECT count(*) FROM access_tokens") == "2");
    const std::uint64_t grouped = metric(scrape(s), "tokenauth_writes_grouped_total");
    INFO(grouped << " of " << writers * rounds * 3 << " writes committed with others");
    CHECK(grouped > 0);
}
