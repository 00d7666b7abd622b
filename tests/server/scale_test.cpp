// A large store through the real server: what a large response costs the server's memory
// after it is sent. A system test (ctest builds it with TOKENAUTH_SCALE_TESTS): it measures
// the process's RSS, which the sanitizers' allocators change, so it runs in the normal build
// only.
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "api_helpers.hpp"

using test_server::server_process;
using test_server::temp_dir;
using namespace std::chrono_literals;

TEST_CASE("a large list's memory goes back to the system once it is sent", "[server][scale]") {
    temp_dir dir;
    const std::string data = dir.path + "/data";
    {
        server_process s(data);
        CHECK(s.stop() == 0);
    }
    // 30,000 tokens of admin's, inserted directly (the API holds a user to two).
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((data + "/tokenauth.db").c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db,
                         "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000) "
                         "INSERT INTO access_tokens (id, secret_hash, user_id, creator_id, creation_time, enabled, "
                         "hash_scheme) SELECT randomblob(16), randomblob(32), 500, 500, 0, 1, 2 FROM n",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
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
