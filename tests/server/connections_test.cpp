// Many connections: the server holds 10,000 idle keep-alive connections (each a buffer in the
// event loop, not a thread) and still serves a bystander; past --max-connections a connection
// is closed at once and counted. Normal build only (not again under the sanitizers).
#include <catch2/catch.hpp>
#include <sys/resource.h>

#include <chrono>
#include <memory>
#include <vector>

#include "metrics_helpers.hpp"
#include "raw_client.hpp"
#include "server_process.hpp"

using test_server::metric;
using test_server::raw_connection;
using test_server::scrape;
using test_server::server_process;
using test_server::temp_dir;
using namespace std::chrono_literals;

namespace {

const std::string version_request = "GET /v1/version HTTP/1.1\r\nHost: tokenauth\r\n\r\n";

/// One keep-alive request on c; true when its 200 came back (the body is JSON: ends in '}').
bool ask_version(raw_connection& c, std::size_t nth) {
    if (!c.send(version_request)) return false;
    const std::string got = c.receive(10s, "}", nth);
    return raw_connection::occurrences(got, "HTTP/1.1 200 ") == nth;
}

}  // namespace

TEST_CASE("10,000 idle keep-alive connections are held while a bystander is served", "[connections]") {
    // This process and the server each hold one descriptor per connection (separate limits).
    constexpr std::size_t held = 10000;
    rlimit lim{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &lim) == 0);
    if (lim.rlim_max < held + 500) {
        std::printf("SKIPPED: the open-file hard limit is %llu, below %zu (raise it: ulimit -Hn, or LimitNOFILE=)\n",
                    static_cast<unsigned long long>(lim.rlim_max), held + 500);
        return;
    }
    lim.rlim_cur = lim.rlim_max;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &lim) == 0);
    temp_dir dir;
    server_process s(dir.path + "/data", {"--http", "--max-connections", "12000", "--max-connections-per-address", "20000",
                                          "--idle-timeout", "300", "--metrics-listen", "127.0.0.1:0"});
    const std::string admin = s.login();
    std::vector<std::unique_ptr<raw_connection>> idle;
    idle.reserve(held);
    const auto opening = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < held; ++i) {
        idle.push_back(std::make_unique<raw_connection>(s.port(), false));
        REQUIRE(ask_version(*idle.back(), 1));
    }
    const auto opened = std::chrono::steady_clock::now() - opening;
    CHECK(metric(scrape(s), "tokenauth_connections") >= held);
    // A bystander: a new connection, an authenticated request.
    const auto asked = std::chrono::steady_clock::now();
    const auto r = s.request("GET", "/v1/session/who-am-i", admin);
    const auto answered = std::chrono::steady_clock::now() - asked;
    CHECK(r.status == 200);
    std::printf("10,000 keep-alive connections opened in %.2f s; a bystander's who-am-i took %.2f ms\n",
                std::chrono::duration<double>(opened).count(), std::chrono::duration<double, std::milli>(answered).count());
    // The held connections are still open and serve their next request.
    for (const std::size_t i : {std::size_t{0}, held / 2, held - 1}) CHECK(ask_version(*idle[i], 2));
    CHECK(metric(scrape(s), "tokenauth_connections") >= held);
}

TEST_CASE("past --max-connections a connection is closed at once and counted as shed", "[connections]") {
    temp_dir dir;
    server_process s(dir.path + "/data", {"--http", "--max-connections", "16", "--max-connections-per-address", "1000",
                                          "--metrics-listen", "127.0.0.1:0"});
    CHECK(s.log().find("\"max_connections\":16") != std::string::npos);
    std::vector<std::unique_ptr<raw_connection>> held;
    for (int i = 0; i < 16; ++i) {
        held.push_back(std::make_unique<raw_connection>(s.port(), false));
        REQUIRE(ask_version(*held.back(), 1));
    }
    raw_connection over(s.port(), false);
    over.send(version_request);
    over.receive(5s);
    CHECK(over.closed());
    CHECK(raw_connection::occurrences(over.receive(0ms), "HTTP/1.1") == 0);
    CHECK(metric(scrape(s), "tokenauth_shed_total{reason=\"connection_limit\"}") >= 1);
    // One closes: there is room again.
    held.pop_back();
    std::string got;
    for (int i = 0; i < 100 && got.find("HTTP/1.1 200 ") == std::string::npos; ++i) {
        raw_connection next(s.port(), false);
        next.send(version_request);
        got = next.receive(2s, "}");
    }
    CHECK(got.find("HTTP/1.1 200 ") != std::string::npos);
}
