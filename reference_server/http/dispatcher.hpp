// From one complete request's bytes to the response's bytes: parse, route, write.
//
// The transport frames each request (framing.hpp: limits, chunked bodies, smuggling shapes)
// and hands over its bytes; here they become an http_request, the first route whose method
// and pattern match runs, and its http_response is written with the framing headers the
// server decides itself (Content-Length, Connection or Keep-Alive), whatever a handler set.
// HEAD runs GET's route and sends the head only. Nothing here knows the API: routes and the
// answers for unrouted requests and errors are registered by the router and main().
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "message.hpp"
#include "method.hpp"

namespace tokenauth::server {

class request_dispatcher {
public:
    using handler = std::function<void(const http_request&, http_response&)>;
    /// Fills in the response to a request that could not be parsed (400) or whose handler
    /// threw (500); status is already set.
    using error_handler = std::function<void(const http_request&, http_response&)>;

    /// The two ends of the request's connection.
    struct endpoints {
        const std::string& peer_ip;
        int peer_port;
        const std::string& local_ip;
        int local_port;
    };

    /// Routes method on the paths pattern (an ECMAScript regex) matches whole, in the order
    /// added; the match's groups are in http_request::matches.
    void add(http_method method, const std::string& pattern, handler h);
    /// Runs on every parsed request before its route (the request id).
    void set_before_routing(handler h) { before_ = std::move(h); }
    /// Answers what no route takes: a method no route has, or a path no pattern matches.
    void set_unrouted(handler h) { unrouted_ = std::move(h); }
    void set_error_handler(error_handler h) { on_error_ = std::move(h); }
    /// Fields every response carries unless its handler set them.
    void set_default_headers(header_map headers) { defaults_ = std::move(headers); }
    /// What Keep-Alive advertises (the transport enforces both).
    void set_keep_alive(std::chrono::seconds timeout, std::size_t max_requests) {
        keep_alive_ = "timeout=" + std::to_string(timeout.count()) + ", max=" + std::to_string(max_requests);
    }

    /// Answers request (one complete request, as framed) and appends the response to out.
    /// last: the response closes the connection. client_closes is set when the request asked
    /// for that (Connection: close, or HTTP/1.0 without keep-alive). A body longer than one
    /// piece goes on in rest: out holds the head and the first chunk, and each call of rest
    /// appends the next chunk's framed bytes (append_chunk), the last one included.
    void handle(const std::string& request, std::string& out, const endpoints& ends, bool last, bool& client_closes,
                body_stream& rest) const;

    /// Parses one framed request's method, target, version, fields and body; false when the
    /// bytes are not a request (the framer lets none of those through).
    static bool parse(std::string_view bytes, http_request& req);
    /// Appends the response's head (and its body unless head_only) to out; with chunked, the
    /// head says so and the body is the first chunk (none when empty).
    void write(const http_response& res, bool head_only, bool closes, std::string& out, bool chunked = false) const;
    /// Appends data as one chunk of a chunked body (nothing for empty data).
    static void append_chunk(std::string& out, std::string_view data);
    /// Appends the last chunk, which ends a chunked body.
    static void append_last_chunk(std::string& out) { out.append("0\r\n\r\n"); }

private:
    struct route {
        std::regex pattern;
        http_method method;
        handler run;
    };
    void route_request(http_request& req, http_response& res) const;

    std::vector<route> routes_;
    handler before_, unrouted_;
    error_handler on_error_;
    header_map defaults_;
    std::string keep_alive_ = "timeout=5, max=100";
};

}  // namespace tokenauth::server
