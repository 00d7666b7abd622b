// Property: the request framer decides the same whether the bytes arrive at once or in
// pieces (as a slow or pipelining client sends them): same verdict, same length, same
// request; a request it hands on is framed again to exactly itself (the router can never
// read a different request than the framer delimited); errors are only the statuses the
// framer documents. Every request the framer hands on parses, and its response (which echoes
// the decoded path into a field) has one head whose Content-Length is the body that follows.
#include "http/dispatcher.hpp"
#include "http/framing.hpp"

#include <string>
#include <string_view>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using tokenauth::server::request_framer;
    tokenauth::server::framing_limits limits;
    limits.max_head_bytes = 2048;  // small limits so that the fuzzer reaches them
    limits.max_header_lines = 16;
    limits.max_header_line = 256;
    limits.max_request_line = 512;
    limits.max_body = 1024;
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    request_framer whole(limits);
    const auto verdict = whole.feed(input);

    // The same bytes in pieces whose sizes the first byte chooses.
    request_framer pieces(limits);
    const std::size_t step = size == 0 ? 1 : 1 + data[0] % 13;
    auto piecewise = request_framer::state::need_more;
    for (std::size_t end = 0; end < size && piecewise == request_framer::state::need_more;) {
        end = std::min(size, end + step);
        piecewise = pieces.feed(input.substr(0, end));
    }
    if (size == 0) piecewise = pieces.feed(input);
    FUZZ_CHECK(piecewise == verdict);

    if (verdict == request_framer::state::complete) {
        FUZZ_CHECK(whole.consumed() == pieces.consumed());
        FUZZ_CHECK(whole.consumed() <= size);
        const std::string request = whole.take_request();
        FUZZ_CHECK(request == pieces.take_request());
        FUZZ_CHECK(!request.empty());
        request_framer again(limits);
        FUZZ_CHECK(again.feed(request) == request_framer::state::complete);
        FUZZ_CHECK(again.consumed() == request.size());
        FUZZ_CHECK(again.take_request() == request);

        tokenauth::server::http_request req;
        FUZZ_CHECK(tokenauth::server::request_dispatcher::parse(request, req));
        FUZZ_CHECK(!req.method.empty() && !req.target.empty());
        static const tokenauth::server::request_dispatcher echo = [] {
            tokenauth::server::request_dispatcher d;
            d.set_unrouted([](const auto& r, auto& res) {
                res.set_header("X-Path", r.path);
                res.set_content(r.body, "text/plain");
            });
            return d;
        }();
        const std::string ip = "127.0.0.1";
        std::string out;
        bool closes = false;
        tokenauth::server::body_stream rest;  // the echo route answers whole: never set
        echo.handle(request, out, {ip, 1, ip, 2}, false, closes, rest);
        FUZZ_CHECK(!rest);
        const std::size_t head_end = out.find("\r\n\r\n");
        FUZZ_CHECK(out.rfind("HTTP/1.1 ", 0) == 0 && head_end != std::string::npos);
        const std::string head = out.substr(0, head_end + 2);
        const std::string body = out.substr(head_end + 4);
        FUZZ_CHECK(body == (req.method == "HEAD" ? std::string() : req.body));
        FUZZ_CHECK(head.find("\r\nContent-Length: " + std::to_string(req.body.size()) + "\r\n") != std::string::npos);
        std::size_t lines = 0;  // every CR and LF in the head is a line end
        for (std::size_t i = 0; i < head.size(); ++i) {
            if (head[i] == '\n') FUZZ_CHECK(i > 0 && head[i - 1] == '\r');
            if (head[i] == '\r') FUZZ_CHECK(i + 1 < head.size() && head[i + 1] == '\n');
            lines += head[i] == '\n';
        }
        FUZZ_CHECK(lines <= 6);  // status, X-Path, Content-Type, Content-Length, Connection/Keep-Alive
    } else if (verdict == request_framer::state::error) {
        const int s = whole.error().status;
        FUZZ_CHECK(s == 400 || s == 413 || s == 414 || s == 417 || s == 431 || s == 501 || s == 505);
        FUZZ_CHECK(whole.error().status == pieces.error().status);
        FUZZ_CHECK(!whole.error().description.empty());
    }
    return 0;
}
