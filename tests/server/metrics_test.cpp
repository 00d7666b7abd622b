// GET /metrics against the real server: who may read it, each metric moving when its event
// happens, what no label may carry, promtool's lint, and the token census's buckets.
#include <catch2/catch.hpp>
#include <tokenauth/token.hpp>

#include <chrono>
#include <regex>
#include <thread>

#include "api_helpers.hpp"
#include "metrics_helpers.hpp"
#include "storage/token_census.hpp"

using nlohmann::json;
using test_server::metric;
using test_server::scrape;
using test_server::server_process;
using test_server::temp_dir;
namespace api = test_server::api;
using namespace std::chrono_literals;

namespace {

/// An RFC 3339 time seconds from now.
std::string in_seconds(double seconds) {
    const auto now = tokenauth::system_clock().now();
    return tokenauth::format_rfc3339(now + static_cast<tokenauth::timestamp>(seconds * 1e9));
}

/// A well-formed access token with the same id as bearer and another secret.
std::string with_other_secret(const std::string& bearer) {
    auto t = tokenauth::parse_access_token(bearer);
    REQUIRE(t);
    t->secret[0] ^= 1;
    return tokenauth::encode_access_token(*t);
}

}  // namespace

TEST_CASE("GET /metrics needs PRIVILEGE_METRICS_READ on the main listener and nothing on --metrics-listen",
          "[metrics]") {
    temp_dir dir;
    server_process s(dir.path + "/data", {"--metrics-listen", "127.0.0.1:0"});
    const std::string admin = s.login();
    api::require_error(s.request("GET", "/metrics"), 401, "authentication_required_error");
    const std::string plain = api::user_with(s, admin, "plain", {"PRIVILEGE_ACCESS_TOKENS_READ"});
    CHECK(s.request_text("GET", "/metrics", plain, "").status == 403);
    const std::string reader = api::user_with(s, admin, "reader", {"PRIVILEGE_METRICS_READ"});
    auto c = s.client();
    const auto r = c->Get("/metrics", {{"Authorization", "Bearer " + reader}});
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(r->body.find("tokenauth_build_info{") != std::string::npos);

    // The metrics listener: plain HTTP, /metrics without credentials, nothing else.
    httplib::Client m("127.0.0.1", test_server::metrics_port(s));
    const auto open = m.Get("/metrics");
    REQUIRE(open);
    CHECK(open->status == 200);
    const auto other = m.Get("/v1/version");
    REQUIRE(other);
    CHECK(other->status == 404);
    // OpenMetrics when asked: counters by family name, and the closing # EOF.
    const auto om = m.Get("/metrics", {{"Accept", "application/openmetrics-text; version=1.0.0"}});
    REQUIRE(om);
    CHECK(om->get_header_value("Content-Type") == "application/openmetrics-text; version=1.0.0; charset=utf-8");
    CHECK(om->body.find("# TYPE tokenauth_validations counter\n") != std::string::npos);
    CHECK(om->body.size() > 6);
    CHECK(om->body.substr(om->body.size() - 6) == "# EOF\n");
}

TEST_CASE("an unauthenticated metrics listener off loopback needs --metrics-listen-any", "[metrics]") {
    temp_dir dir;
    const std::string run = test_server::server_binary() + " --data-dir " + dir.path + "/data --listen 127.0.0.1:0";
    const std::string out = test_server::output_of(run + " --metrics-listen 0.0.0.0:0 2>&1; echo rc=$?");
    CHECK(out.find("--metrics-listen-any") != std::string::npos);
    CHECK(out.find("rc=2") != std::string::npos);
}

TEST_CASE("each metric moves when its event happens, and no label names a user, path or token", "[metrics]") {
    temp_dir dir;
    server_process s(dir.path + "/data", {"--metrics-listen", "127.0.0.1:0", "--login-failures-per-user", "2"});
    const std::string admin = s.login();
    const std::string before = scrape(s);
    CHECK(metric(before, "tokenauth_logins_total{result=\"success\"}") == 1);
    CHECK(metric(before, "tokenauth_tokens{state=\"enabled\"}") == 0);

    // Tokens: never expiring, in 3 days, in 2 s (then expired), and one disabled.
    api::create_user(s, admin, "svc-one");
    api::create_user(s, admin, "svc-two");
    const auto forever = api::create_token(s, admin, json{{"name", "svc-one"}});
    const auto soon = api::create_token(s, admin, json{{"name", "svc-one"}}, in_seconds(2));
    const auto days = api::create_token(s, admin, json{{"name", "svc-two"}}, in_seconds(3 * 86400));
    const auto off = api::create_token(s, admin, json{{"name", "svc-two"}}, in_seconds(40 * 86400));
    REQUIRE(s.request("PATCH", "/v1/auth/access-tokens/" + off.id, admin, json{{"enabled", false}}).status == 200);
    std::string now = scrape(s);
    CHECK(metric(now, "tokenauth_tokens{state=\"enabled\"}") == 3);
    CHECK(metric(now, "tokenauth_tokens{state=\"disabled\"}") == 1);
    CHECK(metric(now, "tokenauth_tokens{state=\"expired\"}") == 0);
    CHECK(metric(now, "tokenauth_tokens_expiring{within=\"1d\"}") == 1);
    CHECK(metric(now, "tokenauth_tokens_expiring{within=\"7d\"}") == 1);
    CHECK(metric(now, "tokenauth_tokens_expiring{within=\"30d\"}") == 0);
    CHECK(metric(now, "tokenauth_tokens_expiring{within=\"later\"}") == 1);
    CHECK(metric(now, "tokenauth_tokens_expiring{within=\"never\"}") == 1);

    // Validations of each kind.
    const auto who = [&](const std::string& header) {
        auto c = s.client();
        httplib::Headers h;
        if (!header.empty()) h.emplace("Authorization", header);
        return c->Get("/v1/session/who-am-i", h)->status;
    };
    CHECK(who("") == 401);
    CHECK(who("Basic abc") == 401);
    CHECK(who("Bearer  two-spaces") == 401);
    CHECK(who("Bearer " + tokenauth::encode_access_token(tokenauth::generate_access_token())) == 401);
    CHECK(who("Bearer " + with_other_secret(forever.bearer)) == 401);
    CHECK(who("Bearer " + off.bearer) == 401);
    CHECK(who("Bearer " + forever.bearer) == 200);
    // Until the 2 s token is refused (the one 401 it gets is counted as expired).
    int soon_status = 200;
    for (int i = 0; i < 400 && soon_status == 200; ++i) {
        soon_status = who("Bearer " + soon.bearer);
        if (soon_status == 200) std::this_thread::sleep_for(25ms);
    }
    CHECK(soon_status == 401);
    now = scrape(s);
    const auto delta = [&](const char* result) {
        const std::string name = std::string("tokenauth_validations_total{result=\"") + result + "\"}";
        return metric(now, name) - metric(before, name);
    };
    CHECK(delta("missing_credentials") == 1);
    CHECK(delta("bad_scheme") == 1);
    CHECK(delta("malformed") == 1);
    CHECK(delta("unknown_token") == 1);
    CHECK(delta("bad_secret") == 1);
    CHECK(delta("disabled") == 1);
    CHECK(delta("expired") == 1);
    CHECK(delta("ok") >= 1);
    // The 2 s token has expired: the census moved it without a recount.
    CHECK(metric(now, "tokenauth_tokens{state=\"expired\"}") == 1);
    CHECK(metric(now, "tokenauth_tokens{state=\"enabled\"}") == 2);
    CHECK(metric(now, "tokenauth_tokens_expiring{within=\"1d\"}") == 0);
    // A deleted token leaves the census.
    REQUIRE(s.request("DELETE", "/v1/auth/access-tokens/" + days.id, admin).status == 200);
    CHECK(metric(scrape(s), "tokenauth_tokens_expiring{within=\"7d\"}") == 0);

    // Logins: two failures, then the pair is throttled.
    const json wrong = {{"username", "svc-one"}, {"password", "not-the-password"}};
    CHECK(s.request("POST", "/v1/session/login", "", wrong).status == 401);
    CHECK(s.request("POST", "/v1/session/login", "", wrong).status == 401);
    CHECK(s.request("POST", "/v1/session/login", "", wrong).status == 429);
    // A path no route has, carrying something that must never become a label.
    CHECK(s.request("GET", "/secret-path-xyz").status == 404);
    CHECK(s.request("GET", "/v1/users/987654", admin).status == 404);
    const std::uint64_t audit_before = metric(before, "tokenauth_audit_log_bytes");
    now = scrape(s);
    CHECK(metric(now, "tokenauth_logins_total{result=\"failure\"}") == 2);
    CHECK(metric(now, "tokenauth_logins_total{result=\"throttled\"}") == 1);
    CHECK(metric(now, "tokenauth_throttled_total") >= 1);
    CHECK(metric(now, "tokenauth_audit_log_bytes") > audit_before);
    CHECK(metric(now, "tokenauth_http_request_duration_seconds_count{route=\"other\",method=\"GET\",status_class=\"4xx\"}") == 1);
    CHECK(metric(now, "tokenauth_http_request_duration_seconds_count{route=\"/v1/users/{1}\",method=\"GET\",status_class=\"4xx\"}") == 1);
    CHECK(metric(now, "tokenauth_http_request_duration_seconds_count{route=\"/v1/session/login\",method=\"POST\",status_class=\"4xx\"}") == 3);
    CHECK(metric(now, "tokenauth_http_request_duration_seconds_bucket{route=\"/v1/session/login\",method=\"POST\",status_class=\"2xx\",le=\"+Inf\"}") == 1);
    for (const std::string& secret : {std::string("secret-path-xyz"), std::string("svc-one"), std::string("987654"),
                                     forever.id, std::string("127.0.0.1")})
        CHECK(now.find(secret) == std::string::npos);
}

TEST_CASE("promtool check metrics accepts the exposition of a busy server", "[metrics]") {
    if (::access("/usr/bin/promtool", X_OK) != 0) {
        std::printf("SKIPPED: promtool missing; run ./scripts/deps.sh --test\n");
        return;
    }
    temp_dir dir;
    server_process s(dir.path + "/data", {"--metrics-listen", "127.0.0.1:0"});
    const std::string admin = s.login();
    api::create_token(s, admin, json{{"name", "admin"}}, in_seconds(3600));
    CHECK(s.request("GET", "/nowhere").status == 404);
    std::ofstream(dir.path + "/exposition.txt") << scrape(s);
    const std::string out = test_server::output_of("promtool check metrics < " + dir.path + "/exposition.txt 2>&1; echo rc=$?");
    INFO(out);
    CHECK(out == "rc=0\n");
}

TEST_CASE("the token census moves tokens between buckets as time passes, without a recount", "[metrics]") {
    using tokenauth::server::token_census;
    constexpr tokenauth::timestamp day = 86'400'000'000'000;
    const tokenauth::timestamp t0 = 1'000 * day;
    token_census census;
    auto record = [](std::uint8_t id, tokenauth::timestamp expires, bool enabled) {
        tokenauth::token_record r;
        r.id.bytes[0] = id;
        r.expires_at = expires;
        r.enabled = enabled;
        return r;
    };
    census.add(record(1, t0 + day / 2, true), t0);        // within 1 d
    census.add(record(2, t0 + 3 * day, false), t0);       // within 7 d, disabled
    census.add(record(3, t0 + 20 * day, true), t0);       // within 30 d
    census.add(record(4, t0 + 400 * day, true), t0);      // later
    census.add(record(5, tokenauth::never_expires, true), t0);
    auto c = census.read(t0);
    CHECK(c.enabled == 4);
    CHECK(c.disabled == 1);
    CHECK(c.expired == 0);
    CHECK(c.expiring == std::array<std::uint64_t, 5>{1, 1, 1, 1, 1});
    // 10 days on: 1 and 2 expired (2 no longer counts as disabled), 3 within 30 d... now 10 d away.
    c = census.read(t0 + 10 * day);
    CHECK(c.expired == 2);
    CHECK(c.disabled == 0);
    CHECK(c.enabled == 3);
    CHECK(c.expiring == std::array<std::uint64_t, 5>{0, 0, 1, 1, 1});
    // 375 days on: 4 is within 30 days; at exactly its expiry it is not yet expired.
    c = census.read(t0 + 375 * day);
    CHECK(c.expiring == std::array<std::uint64_t, 5>{0, 0, 1, 0, 1});
    c = census.read(t0 + 400 * day);
    CHECK(c.expiring == std::array<std::uint64_t, 5>{1, 0, 0, 0, 1});
    CHECK(c.expired == 3);
    c = census.read(t0 + 400 * day + 1);
    CHECK(c.expired == 4);
    census.remove(record(4, t0 + 400 * day, true), t0 + 400 * day + 1);
    census.remove(record(5, tokenauth::never_expires, true), t0 + 400 * day + 1);
    c = census.read(t0 + 400 * day + 1);
    CHECK(c.expired == 3);
    CHECK(c.enabled == 0);
    CHECK(c.expiring == std::array<std::uint64_t, 5>{0, 0, 0, 0, 0});
}
