// tokenauth::postgres::replica in a process that links only the library (and libpq): the
// tokens a real tokenauth-server writes to a real PostgreSQL, validated and revoked here.
#include <catch2/catch.hpp>
#include <tokenauth/postgres/replica.hpp>
#include <tokenauth/tokenauth.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "api_helpers.hpp"
#include "raw_http.hpp"

using nlohmann::json;
using test_server::pg_instance;
using test_server::server_process;
using test_server::temp_dir;
using tokenauth::errc;
using tokenauth::postgres::replica;
using namespace test_server::api;
using namespace std::chrono_literals;

namespace {

/// Runs one statement; the first column of the first row ("" if none).
std::string sql(const std::string& db, const std::string& statement) {
    PGconn* c = PQconnectdb(db.c_str());
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    PGresult* r = PQexec(c, statement.c_str());
    INFO(statement << ": " << PQerrorMessage(c));
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    std::string out = ok && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    PQfinish(c);
    REQUIRE(ok);
    return out;
}

/// The last change the server logged: a write is seen by a replica once it has applied this.
std::int64_t last_change(const std::string& db) { return std::stoll(sql(db, "SELECT coalesce(max(seq), 0) FROM changes")); }

/// Waits (bounded only by ctest's TIMEOUT) until the replica has applied seq; how long since
/// start (the write's request) that took.
std::chrono::microseconds wait_for(const replica& r, std::int64_t seq,
                                   std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now()) {
    while (r.applied_seq() < seq) std::this_thread::sleep_for(100us);
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
}

/// A server on a fresh database of the shared instance.
struct server_on_pg {
    temp_dir dir;
    std::string db = pg_instance::shared().create_database();
    server_process s{dir.path + "/server", {"--database", db, "--session-key-file", dir.path + "/session.key"}};
    std::string admin = s.login();
    /// Creates the user svc and a token for it.
    created_token svc_token() const {
        create_user(s, admin, "svc");
        return create_token(s, admin, user_identity("svc"));
    }
};

/// server_on_pg with a token for svc, and a replica with the given bound validating it.
struct with_replica : server_on_pg {
    created_token t;
    std::unique_ptr<replica> r;
    tokenauth::system_clock clock;
    std::unique_ptr<tokenauth::validator> v;
    explicit with_replica(std::chrono::milliseconds bound) {
        t = svc_token();
        tokenauth::postgres::replica_options o{db};
        o.max_staleness = bound;
        r = std::make_unique<replica>(o);
        v = std::make_unique<tokenauth::validator>(*r, clock);
    }
    errc validate() const { return v->validate("Bearer " + t.bearer).code(); }
};

}  // namespace

TEST_CASE("replica: the server's tokens validate in another process, and its revocations reach it", "[replica]") {
    if (test_server::skip_without_postgres()) return;
    server_on_pg p;
    const std::string user = create_user(p.s, p.admin, "svc");
    const auto t = create_token(p.s, p.admin, user_identity("svc"));
    const auto scoped = p.s.request("POST", "/v1/auth/access-tokens/", p.admin,
                                    json{{"user", {{"name", "admin"}}}, {"privileges", {"PRIVILEGE_LOCAL_USER_READ"}}});
    REQUIRE(scoped.status == 200);

    replica r({p.db});
    tokenauth::system_clock clock;
    const tokenauth::validator v(r, clock);
    CHECK(r.stats().snapshot_loads == 1);
    auto who = v.validate("Bearer " + t.bearer);
    REQUIRE(who.ok());
    CHECK(std::to_string(who->auth_id) == user);
    CHECK(tokenauth::to_string(who->token) == t.id);
    who = v.validate("Bearer " + scoped.body.at("bearer_token").get<std::string>());
    REQUIRE(who.ok());
    CHECK(r.scope(who->scope).to_vector() == std::vector<tokenauth::privilege>{tokenauth::privilege::local_user_read});
    CHECK(!r.stale());

    // Created after the replica started: applied from the log. (Latencies count from the
    // write's request, so they include its HTTP round trip and commit; printed, not asserted.)
    auto start = std::chrono::steady_clock::now();
    const auto later = create_token(p.s, p.admin, user_identity("svc"));
    std::printf("replica: creation seen %lld us after its request\n",
                static_cast<long long>(wait_for(r, last_change(p.db), start).count()));
    CHECK(v.validate("Bearer " + later.bearer).ok());
    CHECK(r.stats().changes_applied >= 1);

    // Disabled, re-enabled, expiry moved into the past, deleted: each seen.
    start = std::chrono::steady_clock::now();
    REQUIRE(p.s.request("PATCH", "/v1/auth/access-tokens/" + t.id, p.admin, json{{"enabled", false}}).status == 200);
    std::printf("replica: disable seen %lld us after its request\n",
                static_cast<long long>(wait_for(r, last_change(p.db), start).count()));
    CHECK(v.validate("Bearer " + t.bearer).code() == errc::disabled);
    REQUIRE(p.s.request("PATCH", "/v1/auth/access-tokens/" + t.id, p.admin, json{{"enabled", true}}).status == 200);
    wait_for(r, last_change(p.db));
    CHECK(v.validate("Bearer " + t.bearer).ok());
    REQUIRE(p.s.request("PATCH", "/v1/auth/access-tokens/" + t.id, p.admin,
                        json{{"expiration_time", "2001-01-01T00:00:00Z"}})
                .status == 200);
    wait_for(r, last_change(p.db));
    CHECK(v.validate("Bearer " + t.bearer).code() == errc::expired);
    start = std::chrono::steady_clock::now();
    REQUIRE(p.s.request("DELETE", "/v1/auth/access-tokens/" + t.id, p.admin).status == 200);
    std::printf("replica: delete seen %lld us after its request\n",
                static_cast<long long>(wait_for(r, last_change(p.db), start).count()));
    CHECK(v.validate("Bearer " + t.bearer).code() == errc::unknown_token);
    // A deleted user's tokens go with it.
    REQUIRE(p.s.request("DELETE", "/v1/users/" + user, p.admin).status == 200);
    wait_for(r, last_change(p.db));
    CHECK(v.validate("Bearer " + later.bearer).code() == errc::unknown_token);
    // Sessions are not accepted: the replica holds no session key.
    CHECK(v.validate("Bearer " + p.admin).code() == errc::bad_prefix);
    CHECK(r.last_error().empty());
}

TEST_CASE("replica: PostgreSQL stopped, validation fails closed after the bound and recovers by itself", "[replica]") {
    if (test_server::skip_without_postgres()) return;
    with_replica w(1s);
    REQUIRE(w.validate() == errc::ok);
    auto& pg = pg_instance::shared();
    pg.stop();
    while (w.validate() != errc::store_stale) std::this_thread::sleep_for(20ms);
    CHECK(w.r->stale());
    CHECK(!w.r->last_error().empty());
    pg.start();
    while (w.validate() != errc::ok) std::this_thread::sleep_for(20ms);
    CHECK(!w.r->stale());
}

TEST_CASE("replica: started after 10,000 changes, it loads one snapshot instead of applying them", "[replica]") {
    if (test_server::skip_without_postgres()) return;
    server_on_pg p;
    const auto t = p.svc_token();
    sql(p.db, "INSERT INTO changes (kind, entity_id) SELECT 'user', '500' FROM generate_series(1, 10000)");
    replica r({p.db});
    CHECK(r.stats().snapshot_loads == 1);
    CHECK(r.stats().changes_applied == 0);
    CHECK(r.applied_seq() == last_change(p.db));
    tokenauth::system_clock clock;
    CHECK(tokenauth::validator(r, clock).validate("Bearer " + t.bearer).ok());
}

TEST_CASE("replica: behind what the server pruned, it loads a snapshot again", "[replica]") {
    if (test_server::skip_without_postgres()) return;
    server_on_pg p;
    const auto t = p.svc_token();
    replica r({p.db});
    tokenauth::system_clock clock;
    const tokenauth::validator v(r, clock);
    REQUIRE(v.validate("Bearer " + t.bearer).ok());
    // In one transaction: a token disabled and logged, then the whole log pruned past it.
    sql(p.db, "BEGIN; UPDATE access_tokens SET enabled = false; "
              "INSERT INTO changes (kind, token_id) SELECT 'token', id FROM access_tokens; "
              "UPDATE meta SET value = (SELECT max(seq) FROM changes)::text WHERE key = 'pruned_through'; "
              "DELETE FROM changes; COMMIT; NOTIFY tokenauth_changes");
    while (r.stats().snapshot_loads < 2) std::this_thread::sleep_for(1ms);
    CHECK(v.validate("Bearer " + t.bearer).code() == errc::disabled);
}

TEST_CASE("replica: a change of a kind it does not know, or a newer schema, fails it closed", "[replica]") {
    if (test_server::skip_without_postgres()) return;
    with_replica w(1s);
    sql(w.db, "INSERT INTO changes (kind, entity_id) VALUES ('user_v9', '1001'); NOTIFY tokenauth_changes");
    while (w.r->last_error().find("user_v9") == std::string::npos) std::this_thread::sleep_for(20ms);
    // It stops there: after the bound, nothing validates until it is upgraded.
    while (w.validate() != errc::store_stale) std::this_thread::sleep_for(20ms);
    std::this_thread::sleep_for(300ms);
    CHECK(w.validate() == errc::store_stale);
    CHECK(w.r->last_error().find("user_v9") != std::string::npos);
    sql(w.db, "DELETE FROM changes WHERE kind = 'user_v9'");
    sql(w.db, "UPDATE schema_version SET version = version + 1");
    CHECK_THROWS_WITH(replica({w.db}), Catch::Contains("newer than this follower knows"));
}

TEST_CASE("replica: the tokenauth_replica role reads the replica views and no password hash", "[replica]") {
    if (test_server::skip_without_postgres()) return;
    server_on_pg p;
    const auto t = p.svc_token();
    sql(p.db, "ALTER ROLE tokenauth_replica LOGIN");
    std::string as_replica = p.db;
    as_replica.replace(as_replica.find("user=tokenauth"), std::string("user=tokenauth").size(), "user=tokenauth_replica");
    PGconn* c = PQconnectdb(as_replica.c_str());
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    for (const char* forbidden : {"SELECT password_hash FROM principals", "SELECT * FROM access_tokens",
                                  "SELECT * FROM meta", "UPDATE principals SET name = name"}) {
        PGresult* res = PQexec(c, forbidden);
        INFO(forbidden);
        CHECK(PQresultStatus(res) == PGRES_FATAL_ERROR);
        CHECK(std::string(PQresultErrorField(res, PG_DIAG_SQLSTATE)) == "42501");  // insufficient_privilege
        PQclear(res);
    }
    PGresult* res = PQexec(c, "SELECT count(*) FROM tokenauth_replica_tokens");
    CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);
    PQclear(res);
    PQfinish(c);
    replica r({as_replica});
    tokenauth::system_clock clock;
    CHECK(tokenauth::validator(r, clock).validate("Bearer " + t.bearer).ok());
}

TEST_CASE("replica: docs/library.md's example compiles and runs as printed", "[replica]") {
    if (test_server::skip_without_postgres()) return;
    const std::string doc = test_server::read_file(TOKENAUTH_LIBRARY_DOC);
    const auto at = doc.find("<!-- replica-example -->");
    REQUIRE(at != std::string::npos);
    const auto start = doc.find("```cpp\n", at) + 7;
    const std::string block = doc.substr(start, doc.find("```\n", start) - start);
    server_on_pg p;
    const auto t = p.svc_token();
    temp_dir dir;
    std::ofstream(dir.path + "/example.cpp") << block;
    const std::string bin = dir.path + "/example";
    const std::string build = std::string(TOKENAUTH_CXX) + " -std=c++17 -Wall -Wextra -Werror " + TOKENAUTH_INCLUDE_FLAGS + " " +
                              dir.path + "/example.cpp -o " + bin + " $(pkg-config --cflags --libs libsodium libpq) -pthread > " +
                              dir.path + "/out.txt 2>&1";
    INFO(build);
    REQUIRE(std::system(build.c_str()) == 0);
    const std::string run = bin + " '" + p.db + "' 'Bearer " + t.bearer + "' > " + dir.path + "/out.txt 2>&1";
    CHECK(WEXITSTATUS(std::system(run.c_str())) == 0);
    CHECK(test_server::read_file(dir.path + "/out.txt").find("user 100") == 0);
    const std::string refused = bin + " '" + p.db + "' 'Bearer access-v1:nonsense' > " + dir.path + "/out.txt 2>&1";
    CHECK(WEXITSTATUS(std::system(refused.c_str())) == 1);
    CHECK(test_server::read_file(dir.path + "/out.txt").rfind("refused: ", 0) == 0);
}

TEST_CASE("replica: the README's replica and adapter service compiles and serves as printed", "[replica]") {
    if (test_server::skip_without_postgres()) return;
    std::string readme = test_server::read_file(TOKENAUTH_README);
    const auto at = readme.find("<!-- replica-adapter-example -->");
    REQUIRE(at != std::string::npos);
    const auto start = readme.find("```cpp\n", at) + 7;
    std::string block = readme.substr(start, readme.find("```\n", start) - start);
    server_on_pg p;
    const auto t = p.svc_token();
    const int port = test_server::free_port();
    // Only the database and the port are this test's.
    const std::string uri = "postgresql://tokenauth_replica@db.example/tokenauth";
    REQUIRE(block.find(uri) != std::string::npos);
    REQUIRE(block.find("8080") != std::string::npos);
    block.replace(block.find(uri), uri.size(), p.db);
    block.replace(block.find("8080"), 4, std::to_string(port));
    temp_dir dir;
    std::ofstream(dir.path + "/service.cpp") << block;
    const std::string bin = dir.path + "/service";
    const std::string build = std::string(TOKENAUTH_CXX) + " -std=c++17 -Wall -Wextra -Werror " + TOKENAUTH_INCLUDE_FLAGS + " " +
                              dir.path + "/service.cpp -o " + bin +
                              " $(pkg-config --cflags --libs libsodium libpq cpp-httplib) -pthread > " + dir.path +
                              "/build.txt 2>&1";
    INFO(test_server::read_file(dir.path + "/build.txt"));
    REQUIRE(std::system(build.c_str()) == 0);
    REQUIRE(std::system((bin + " > " + dir.path + "/out.txt 2>&1 & echo $! > " + dir.path + "/pid").c_str()) == 0);
    httplib::Client c("127.0.0.1", port);
    for (int i = 0; i < 500 && !c.Get("/reports"); ++i) std::this_thread::sleep_for(10ms);  // until it listens
    const auto ok = c.Get("/reports", {{"Authorization", "Bearer " + t.bearer}});
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(ok->body.rfind("reports for user 100", 0) == 0);
    const auto refused = c.Get("/reports");
    CHECK(refused->status == 401);
    CHECK(refused->get_header_value("WWW-Authenticate") == "Bearer realm=\"tokenauth\"");
    std::system(("kill $(cat " + dir.path + "/pid)").c_str());
}

TEST_CASE("replica: sessions are accepted only when opted in, and a password change ends them", "[replica]") {
    if (test_server::skip_without_postgres()) return;
    server_on_pg p;
    create_user(p.s, p.admin, "jane", std::string("jane-password-1"));
    const std::string jane = p.s.login("jane", "jane-password-1");
    const auto key = tokenauth::parse_session_key_hex(test_server::read_file(p.dir.path + "/session.key"));
    REQUIRE(key.ok());
    tokenauth::system_clock clock;
    {
        replica tokens_only({p.db});  // the default: no session state, so no session validates
        const tokenauth::validator v(tokens_only, clock, *key, tokens_only);
        CHECK(!v.validate("Bearer " + jane).ok());
    }
    tokenauth::postgres::replica_options o{p.db};
    o.accept_sessions = true;
    replica r(o);
    const tokenauth::validator v(r, clock, *key, r);
    auto who = v.validate("Bearer " + jane);
    REQUIRE(who.ok());
    CHECK(who->kind == tokenauth::credential_kind::session);
    CHECK(v.validate("Bearer " + p.admin).ok());
    // A password change on the server ends jane's sessions here too; her new one works.
    const auto changed = p.s.request("POST", "/v1/session/change-password", jane,
                                     json{{"old_password", "jane-password-1"}, {"new_password", "jane-password-2"}});
    REQUIRE(changed.status == 200);
    wait_for(r, last_change(p.db));
    CHECK(v.validate("Bearer " + jane).code() == errc::session_revoked);
    CHECK(v.validate("Bearer " + changed.body.at("bearer_token").get<std::string>()).ok());
    // Deleted: unknown.
    const auto users = p.s.request("GET", "/v1/users/", p.admin).body;
    for (const auto& u : users)
        if (u.at("name") == "jane") REQUIRE(p.s.request("DELETE", "/v1/users/" + u.at("id").get<std::string>(), p.admin).status == 200);
    wait_for(r, last_change(p.db));
    CHECK(!v.validate("Bearer " + changed.body.at("bearer_token").get<std::string>()).ok());
    CHECK(v.validate("Bearer " + p.admin).ok());
}

TEST_CASE("replica: a quiet database never makes a healthy replica look stale", "[replica]") {
    if (test_server::skip_without_postgres()) return;
    server_on_pg p;
    tokenauth::postgres::replica_options o{p.db};
    o.max_staleness = 200ms;  // below the default poll interval: the poll must adapt
    replica r(o);
    int stale = 0;
    for (int i = 0; i < 150; ++i, std::this_thread::sleep_for(10ms)) stale += r.stale() ? 1 : 0;
    CHECK(stale == 0);
}

TEST_CASE("replica: a token's network bounds hold in the replica's validator, and their changes reach it",
          "[replica][cidrs]") {
    if (test_server::skip_without_postgres()) return;
    server_on_pg p;
    create_user(p.s, p.admin, "svc");
    const auto created = p.s.request("POST", "/v1/auth/access-tokens/", p.admin,
                                     json{{"user", user_identity("svc")}, {"allowed_cidrs", {"10.0.0.0/8"}}});
    REQUIRE(created.status == 200);
    const std::string id = created.body.at("id"), header = "Bearer " + created.body.at("bearer_token").get<std::string>();
    replica r({p.db});  // the bounds from the snapshot
    tokenauth::system_clock clock;
    const tokenauth::validator v(r, clock);
    tokenauth::ip_address inside, outside;
    REQUIRE(tokenauth::parse_ip_address("10.1.2.3", inside) == errc::ok);
    REQUIRE(tokenauth::parse_ip_address("192.0.2.1", outside) == errc::ok);
    CHECK(v.validate(header, inside).ok());
    CHECK(v.validate(header, outside).code() == errc::address_not_allowed);
    CHECK(v.validate(header).code() == errc::address_not_allowed);
    // Moved by a PATCH: from the change log.
    REQUIRE(p.s.request("PATCH", "/v1/auth/access-tokens/" + id, p.admin, json{{"allowed_cidrs", {"192.0.2.0/24"}}}).status == 200);
    wait_for(r, last_change(p.db));
    CHECK(v.validate(header, inside).code() == errc::address_not_allowed);
    CHECK(v.validate(header, outside).ok());
    REQUIRE(p.s.request("PATCH", "/v1/auth/access-tokens/" + id, p.admin, json{{"allowed_cidrs", nullptr}}).status == 200);
    wait_for(r, last_change(p.db));
    CHECK(v.validate(header).ok());
}
