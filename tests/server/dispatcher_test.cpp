// The dispatcher on its own: a framed request's bytes in, the response's bytes out.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "http/dispatcher.hpp"

using namespace tokenauth::server;

namespace {

const std::string peer = "192.0.2.7", local = "127.0.0.1";

struct exchange {
    std::string out;
    bool client_closes = false;
    tokenauth::server::body_stream rest;  ///< the chunks after the first, when streamed
};

exchange run(const request_dispatcher& d, const std::string& request, bool last = false) {
    exchange e;
    d.handle(request, e.out, {peer, 40000, local, 8000}, last, e.client_closes, e.rest);
    return e;
}

std::string head_of(const std::string& out) { return out.substr(0, out.find("\r\n\r\n") + 4); }
std::string body_of(const std::string& out) { return out.substr(out.find("\r\n\r\n") + 4); }

}  // namespace

TEST_CASE("the dispatcher parses what the handler reads", "[dispatcher]") {
    http_request req;
    REQUIRE(request_dispatcher::parse("POST /v1/a%2Fb/c%20d?x=1+2&y=%41&flag&=skipped HTTP/1.1\r\n"
                                      "Host: h\r\nx-custom:   spaced value \t\r\n"
                                      "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
                                      "Authorization: Bearer a%41b\r\nContent-Length: 13\r\n\r\ntoken=t%2Bk+n",
                                      req));
    CHECK(req.method == "POST");
    CHECK(req.target == "/v1/a%2Fb/c%20d?x=1+2&y=%41&flag&=skipped");
    CHECK(req.path == "/v1/a/b/c d");  // '+' is a space only in a query or a form
    CHECK(req.version == "HTTP/1.1");
    CHECK(req.get_header_value("X-CUSTOM") == "spaced value");
    CHECK(req.has_header("host"));
    // A field value is what was sent: never percent-decoded (a bearer is compared as sent).
    CHECK(req.get_header_value("authorization") == "Bearer a%41b");
    CHECK(req.get_param_value("x") == "1 2");
    CHECK(req.get_param_value("y") == "A");
    CHECK(req.has_param("flag"));
    CHECK(req.get_param_value("flag").empty());
    CHECK(req.params.count("") == 0);
    CHECK(req.get_param_value("token") == "t+k n");  // from the form body
    CHECK(req.body == "token=t%2Bk+n");

    http_request bad;
    CHECK_FALSE(request_dispatcher::parse("GET / HTTP/2\r\n\r\n", bad));
    CHECK_FALSE(request_dispatcher::parse("GET  / HTTP/1.1\r\n\r\n", bad));
    CHECK_FALSE(request_dispatcher::parse("GET / HTTP/1.1\r\nNoColon\r\n\r\n", bad));
    CHECK_FALSE(request_dispatcher::parse("GET / HTTP/1.1\r\nName : v\r\n\r\n", bad));
    CHECK_FALSE(request_dispatcher::parse("GET / HTTP/1.1\r\nHost: h\r\n", bad));  // no end of head
    CHECK(percent_decode("%zz%4", false) == "%zz%4");
}

TEST_CASE("the dispatcher routes by method and whole-path pattern, HEAD by GET's route", "[dispatcher]") {
    request_dispatcher d;
    d.add(http_method::get, "/v1/items/([0-9]+)", [](const http_request& req, http_response& res) {
        res.set_content("item " + req.matches[1].str() + " for " + req.remote_addr, "text/plain");
    });
    d.add(http_method::post, "/v1/items/", [](const http_request& req, http_response& res) {
        res.status = 201;
        res.set_content(req.body, "application/json");
    });
    d.set_unrouted([](const http_request& req, http_response& res) {
        res.status = 404;
        res.set_content("unrouted " + req.method, "text/plain");
    });

    auto e = run(d, "GET /v1/items/42 HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(e.out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(body_of(e.out) == "item 42 for 192.0.2.7");
    CHECK(head_of(e.out).find("Content-Length: 21\r\n") != std::string::npos);
    CHECK_FALSE(e.client_closes);

    e = run(d, "HEAD /v1/items/42 HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(head_of(e.out).find("Content-Length: 21\r\n") != std::string::npos);
    CHECK(body_of(e.out).empty());

    e = run(d, "POST /v1/items/ HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
    CHECK(e.out.rfind("HTTP/1.1 201 Created\r\n", 0) == 0);
    CHECK(body_of(e.out) == "{}");

    CHECK(body_of(run(d, "GET /v1/items/42/more HTTP/1.1\r\n\r\n").out) == "unrouted GET");  // the whole path
    CHECK(body_of(run(d, "DELETE /v1/items/42 HTTP/1.1\r\n\r\n").out) == "unrouted DELETE");
    CHECK(body_of(run(d, "TRACE /v1/items/42 HTTP/1.1\r\n\r\n").out) == "unrouted TRACE");
    CHECK(body_of(run(d, "get /v1/items/42 HTTP/1.1\r\n\r\n").out) == "unrouted get");  // methods are case-sensitive
}

TEST_CASE("the dispatcher decides the framing headers, whatever a handler set", "[dispatcher]") {
    request_dispatcher d;
    d.set_default_headers({{"Cache-Control", "no-store"}, {"X-Default", "1"}});
    d.set_keep_alive(std::chrono::seconds(7), 99);
    d.add(http_method::get, "/lying", [](const http_request&, http_response& res) {
        res.set_header("Content-Length", "1000");
        res.set_header("Transfer-Encoding", "chunked");
        res.set_header("Connection", "keep-alive");
        res.set_header("X-Default", "mine");
        res.set_content("four", "text/plain");
    });
    d.add(http_method::get, "/inject", [](const http_request& req, http_response& res) {
        // Echoed input with CR LF would end the head or add a field: such a field is dropped.
        res.set_header("X-Echo", req.get_param_value("v"));
        res.set_header("X-Bad\r\nName", "v");
        res.set_header("X-Safe", "kept");
    });
    d.add(http_method::del, "/nothing", [](const http_request&, http_response& res) { res.status = 204; });

    auto e = run(d, "GET /lying HTTP/1.1\r\n\r\n");
    const std::string head = head_of(e.out);
    CHECK(head.find("Content-Length: 4\r\n") != std::string::npos);
    CHECK(head.find("1000") == std::string::npos);
    CHECK(head.find("Transfer-Encoding") == std::string::npos);
    CHECK(head.find("Connection") == std::string::npos);
    CHECK(head.find("Keep-Alive: timeout=7, max=99\r\n") != std::string::npos);
    CHECK(head.find("Cache-Control: no-store\r\n") != std::string::npos);
    CHECK(head.find("X-Default: mine\r\n") != std::string::npos);
    CHECK(head.find("X-Default: 1") == std::string::npos);
    CHECK(body_of(e.out) == "four");

    e = run(d, "GET /inject?v=a%0D%0ASet-Cookie:%20x=1 HTTP/1.1\r\n\r\n");
    CHECK(e.out.find("Set-Cookie") == std::string::npos);
    CHECK(e.out.find("X-Bad") == std::string::npos);
    CHECK(e.out.find("X-Echo") == std::string::npos);
    CHECK(e.out.find("X-Safe: kept\r\n") != std::string::npos);
    CHECK(e.out.find("Content-Length: 0\r\n") != std::string::npos);

    e = run(d, "DELETE /nothing HTTP/1.1\r\n\r\n");
    CHECK(e.out.rfind("HTTP/1.1 204 No Content\r\n", 0) == 0);
    CHECK(e.out.find("Content-Length") == std::string::npos);

    // Who closes: the client (Connection: close, or HTTP/1.0 without keep-alive), or the server (last).
    e = run(d, "GET /lying HTTP/1.1\r\nConnection: TE, Close\r\n\r\n");
    CHECK(e.client_closes);
    CHECK(head_of(e.out).find("Connection: close\r\n") != std::string::npos);
    e = run(d, "GET /lying HTTP/1.0\r\n\r\n");
    CHECK(e.client_closes);
    CHECK(head_of(e.out).find("Connection: close\r\n") != std::string::npos);
    e = run(d, "GET /lying HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK_FALSE(e.client_closes);
    CHECK(head_of(e.out).find("Keep-Alive: ") != std::string::npos);
    e = run(d, "GET /lying HTTP/1.1\r\n\r\n", true);
    CHECK_FALSE(e.client_closes);
    CHECK(head_of(e.out).find("Connection: close\r\n") != std::string::npos);
    CHECK(head_of(e.out).find("Keep-Alive") == std::string::npos);
}

TEST_CASE("the dispatcher answers a handler's exception and an unparsable request through the error handler",
          "[dispatcher]") {
    request_dispatcher d;
    int before = 0;
    d.set_before_routing([&before](const http_request&, http_response& res) {
        ++before;
        res.set_header("X-Request-Id", "r1");
    });
    d.add(http_method::get, "/throws", [](const http_request&, http_response& res) {
        res.set_content("half written", "text/plain");
        throw std::runtime_error("secret detail");
    });
    d.set_error_handler([](const http_request&, http_response& res) {
        res.set_content(R"({"status":)" + std::to_string(res.status) + "}", "application/json");
    });

    auto e = run(d, "GET /throws HTTP/1.1\r\n\r\n");
    CHECK(e.out.rfind("HTTP/1.1 500 Internal Server Error\r\n", 0) == 0);
    CHECK(body_of(e.out) == R"({"status":500})");
    CHECK(e.out.find("secret detail") == std::string::npos);
    CHECK(e.out.find("half written") == std::string::npos);
    CHECK(e.out.find("X-Request-Id: r1\r\n") != std::string::npos);
    CHECK(e.out.find("Content-Type: application/json\r\n") != std::string::npos);
    CHECK(e.out.find("Content-Type: text/plain") == std::string::npos);
    CHECK(before == 1);

    e = run(d, "GET / HTTP/1.1\r\nbroken\r\n\r\n");
    CHECK(e.out.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
    CHECK(body_of(e.out) == R"({"status":400})");
    CHECK(e.client_closes);
    CHECK(before == 1);  // never routed
}
