// The framework adapters against the real frameworks: a cpp-httplib server and a Boost.Beast
// server on loopback, asked by a real HTTP client.
#include <catch2/catch.hpp>
#include <httplib.h>
#include <tokenauth/adapters/httplib.hpp>
#include <tokenauth/tokenauth.hpp>

#include <atomic>
#include <thread>

#ifdef TOKENAUTH_HAVE_BEAST
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <tokenauth/adapters/beast.hpp>
#endif

namespace {

/// A store that can be told it has fallen behind, over a memory store with one token.
struct test_store final : tokenauth::token_store {
    tokenauth::memory_token_store tokens;
    std::atomic<bool> behind{false};
    bool find(const tokenauth::token_id& id, tokenauth::token_record& out) const noexcept override {
        return tokens.find(id, out);
    }
    bool stale() const noexcept override { return behind; }
};

struct fixture {
    test_store store;
    tokenauth::system_clock clock;
    tokenauth::validator v{store, clock};
    std::string bearer;
    fixture() {
        const auto t = tokenauth::generate_access_token();
        store.tokens.upsert(tokenauth::make_token_record(t, 1001));
        bearer = tokenauth::encode_access_token(t);
    }
};

/// The four cases every adapter answers the same way; get(authorization) asks the server.
template <class Get>
void check_adapter(fixture& f, Get&& get) {
    auto r = get("");
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(r->get_header_value("WWW-Authenticate") == "Bearer realm=\"tokenauth\"");
    CHECK(r->body == "{\"error\":\"missing_credentials\"}");
    r = get("Bearer access-v1:nonsense");
    CHECK(r->status == 401);
    CHECK(r->get_header_value("WWW-Authenticate") == "Bearer realm=\"tokenauth\", error=\"invalid_token\"");
    std::string wrong = f.bearer;
    wrong[wrong.size() - 3] = wrong[wrong.size() - 3] == 'A' ? 'B' : 'A';
    r = get("Bearer " + wrong);
    CHECK(r->status == 401);
    CHECK(r->body.find(wrong) == std::string::npos);
    r = get("Bearer " + f.bearer);
    CHECK(r->status == 200);
    CHECK(r->body == "hello 1001");
    f.store.behind = true;
    r = get("Bearer " + f.bearer);
    CHECK(r->status == 503);
    CHECK(r->get_header_value("Retry-After") == "1");
    f.store.behind = false;
}

httplib::Result ask(int port, const std::string& authorization) {
    httplib::Client c("127.0.0.1", port);
    httplib::Headers h;
    if (!authorization.empty()) h.emplace("Authorization", authorization);
    return c.Get("/data", h);
}

}  // namespace

TEST_CASE("the cpp-httplib adapter passes the principal to the handler, or refuses as RFC 6750 says", "[adapters]") {
    fixture f;
    httplib::Server server;
    server.Get("/data", tokenauth::httplib_adapter::with_principal(
                            f.v, [](const httplib::Request&, httplib::Response& res, const tokenauth::principal& who) {
                                res.set_content("hello " + std::to_string(who.auth_id), "text/plain");
                            }));
    const int port = server.bind_to_any_port("127.0.0.1");
    std::thread t([&] { server.listen_after_bind(); });
    check_adapter(f, [&](const std::string& a) { return ask(port, a); });
    // Two Authorization headers never reach the handler.
    httplib::Client c("127.0.0.1", port);
    const auto twice = c.Get("/data", {{"Authorization", "Bearer " + f.bearer}, {"Authorization", "Bearer x"}});
    CHECK(twice->status == 401);
    server.stop();
    t.join();
}

#ifdef TOKENAUTH_HAVE_BEAST
TEST_CASE("the Boost.Beast adapter gives the principal or the refusal to send", "[adapters]") {
    namespace beast = boost::beast;
    namespace http = beast::http;
    using tcp = boost::asio::ip::tcp;
    fixture f;
    boost::asio::io_context io;
    tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const int port = acceptor.local_endpoint().port();
    std::atomic<bool> stop{false};
    // A plain synchronous Beast server: one request per connection.
    std::thread server([&] {
        while (!stop) {
            tcp::socket socket(io);
            acceptor.accept(socket);
            if (stop) break;
            beast::flat_buffer buffer;
            http::request<http::string_body> req;
            beast::error_code ec;
            http::read(socket, buffer, req, ec);
            if (ec) continue;
            auto who = tokenauth::beast_adapter::authenticate(f.v, req);
            if (!who.principal) {
                who.refusal->keep_alive(false);
                http::write(socket, *who.refusal, ec);
                continue;
            }
            http::response<http::string_body> res{http::status::ok, req.version()};
            res.set(http::field::content_type, "text/plain");
            res.body() = "hello " + std::to_string(who.principal->auth_id);
            res.keep_alive(false);
            res.prepare_payload();
            http::write(socket, res, ec);
        }
    });
    check_adapter(f, [&](const std::string& a) { return ask(port, a); });
    stop = true;
    ask(port, "");  // wakes the accept
    server.join();
}
#endif
