// Old databases keep working: access tokens hashed with the legacy BLAKE2b scheme (built here
// with the library's legacy hash function, no binary fixtures) validate, and each is
// rewritten to SHA-256 by the batched writer the first time its token validates.
#include <catch2/catch.hpp>
#include <sqlite3.h>
#include <tokenauth/tokenauth.hpp>

#include <chrono>
#include <cstring>
#include <thread>

#include "api_helpers.hpp"
#include "schema_rewind.hpp"

using nlohmann::json;
using test_server::server_process;
using test_server::temp_dir;
using namespace test_server::api;
using namespace std::chrono_literals;

namespace {

tokenauth::access_token parsed(const std::string& bearer) { return tokenauth::parse_access_token(bearer).value(); }

struct sqlite_db {
    explicit sqlite_db(const std::string& path) { REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK); }
    ~sqlite_db() { sqlite3_close(db); }
    void exec(const std::string& sql) {
        char* err = nullptr;
        const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
        INFO(sql << ": " << (err ? err : ""));
        sqlite3_free(err);
        REQUIRE(rc == SQLITE_OK);
    }
    /// Sets the token's stored hash (a BLOB).
    void set_hash(const tokenauth::token_id& id, const tokenauth::secret_hash& h) {
        sqlite3_stmt* st = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, "UPDATE access_tokens SET secret_hash = ? WHERE id = ?", -1, &st, nullptr) == SQLITE_OK);
        sqlite3_bind_blob(st, 1, h.bytes, 32, SQLITE_TRANSIENT);
        sqlite3_bind_blob(st, 2, id.bytes, 16, SQLITE_TRANSIENT);
        CHECK(sqlite3_step(st) == SQLITE_DONE);
        sqlite3_finalize(st);
        CHECK(sqlite3_changes(db) == 1);
    }
    /// The token's stored scheme and hash.
    std::pair<int, tokenauth::secret_hash> stored(const tokenauth::token_id& id) {
        sqlite3_stmt* st = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, "SELECT hash_scheme, secret_hash FROM access_tokens WHERE id = ?", -1, &st, nullptr) ==
                SQLITE_OK);
        sqlite3_bind_blob(st, 1, id.bytes, 16, SQLITE_TRANSIENT);
        std::pair<int, tokenauth::secret_hash> out{0, {}};
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 1) == 32) {
            out.first = sqlite3_column_int(st, 0);
            std::memcpy(out.second.bytes, sqlite3_column_blob(st, 1), 32);
        }
        sqlite3_finalize(st);
        return out;
    }
    sqlite3* db = nullptr;
};

bool same(const tokenauth::secret_hash& a, const tokenauth::secret_hash& b) { return tokenauth::constant_time_equal(a.bytes, b.bytes); }

}  // namespace

TEST_CASE("a database from before SHA-256 keeps its tokens, which are upgraded after their first use", "[server][scheme]") {
    temp_dir dir;
    const std::string data = dir.path + "/data";
    created_token used, idle;
    {
        server_process s(data);
        const std::string admin = s.login();
        create_user(s, admin, "svc");
        used = create_token(s, admin, user_identity("svc"));
        idle = create_token(s, admin, user_identity("svc"));
        REQUIRE(s.stop() == 0);
    }
    const auto u = parsed(used.bearer), i = parsed(idle.bearer);
    {
        // Make it the database an earlier version wrote: schema v3, BLAKE2b hashes.
        sqlite_db db(data + "/tokenauth.db");
        db.exec(test_server::undo_v6_and_later);
        db.exec("ALTER TABLE access_tokens DROP COLUMN hash_scheme");
        db.exec("DROP INDEX principals_name_key; DROP INDEX roles_name_key");  // v5's, on top
        db.exec("ALTER TABLE principals DROP COLUMN name_key; ALTER TABLE roles DROP COLUMN name_key");
        db.exec("PRAGMA user_version = 3");
        db.set_hash(u.id, tokenauth::hash_secret_blake2b(u.id.bytes, u.secret));
        db.set_hash(i.id, tokenauth::hash_secret_blake2b(i.id.bytes, i.secret));
    }
    server_process s(data, {"--last-used-interval", "1"});
    REQUIRE(s.request("GET", "/v1/session/who-am-i", used.bearer).status == 200);
    auto wrong = u;
    wrong.secret[0] ^= 1;
    const auto refused = s.request("GET", "/v1/session/who-am-i", tokenauth::encode_access_token(wrong));
    CHECK(refused.status == 401);
    // The batch writes the upgrade within the interval, without a restart.
    std::pair<int, tokenauth::secret_hash> now{0, {}};
    for (int n = 0; n < 100 && now.first != 2; ++n) {
        std::this_thread::sleep_for(100ms);
        now = sqlite_db(data + "/tokenauth.db").stored(u.id);
    }
    CHECK(now.first == 2);
    CHECK(same(now.second, tokenauth::hash_access_token(u)));
    // The token that was not presented keeps its legacy record: its secret was never known.
    const auto untouched = sqlite_db(data + "/tokenauth.db").stored(i.id);
    CHECK(untouched.first == 1);
    CHECK(same(untouched.second, tokenauth::hash_secret_blake2b(i.id.bytes, i.secret)));
    REQUIRE(s.stop() == 0);
    // After a restart both still validate: one from its new hash, one from its legacy hash.
    server_process again(data);
    CHECK(again.request("GET", "/v1/session/who-am-i", used.bearer).status == 200);
    CHECK(again.request("GET", "/v1/session/who-am-i", idle.bearer).status == 200);
    CHECK(again.request("GET", "/v1/session/who-am-i", tokenauth::encode_access_token(wrong)).status == 401);
}
