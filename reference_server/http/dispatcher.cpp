#include "dispatcher.hpp"

#include <cstdio>

#include <algorithm>
#include <optional>

namespace tokenauth::server {

namespace {

bool ows(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && ows(s.back())) s.remove_suffix(1);
    return s;
}

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

/// Whether a comma-separated field (Connection) lists token, in any case.
bool lists_token(const header_map& headers, const char* name, std::string_view token) {
    const auto [from, to] = headers.equal_range(name);
    for (auto it = from; it != to; ++it) {
        std::string_view rest = it->second;
        while (!rest.empty()) {
            const std::size_t comma = rest.find(',');
            if (iequals(trim(rest.substr(0, comma)), token)) return true;
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
    }
    return false;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

/// Fields the dispatcher writes itself: a handler's copy would contradict the framing.
bool framing_field(const std::string& name) noexcept {
    return iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") || iequals(name, "Connection") ||
           iequals(name, "Keep-Alive");
}

void append_field(std::string& out, const std::string& name, const std::string& value) {
    out.append(name).append(": ").append(value).append("\r\n");
}

}  // namespace

void request_dispatcher::add(http_method method, const std::string& pattern, handler h) {
    routes_.push_back({std::regex(pattern, std::regex::ECMAScript | std::regex::optimize), method, std::move(h)});
}

bool request_dispatcher::parse(std::string_view bytes, http_request& req) {
    const std::size_t line_end = bytes.find("\r\n");
    if (line_end == std::string_view::npos) return false;
    const std::string_view line = bytes.substr(0, line_end);
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || sp1 == 0 || sp2 == sp1 + 1 || line.find(' ', sp2 + 1) != std::string_view::npos)
        return false;
    req.method.assign(line.substr(0, sp1));
    req.target.assign(line.substr(sp1 + 1, sp2 - sp1 - 1));
    req.version.assign(line.substr(sp2 + 1));
    if (req.version != "HTTP/1.1" && req.version != "HTTP/1.0") return false;

    std::size_t pos = line_end + 2;
    for (;;) {
        const std::size_t end = bytes.find("\r\n", pos);
        if (end == std::string_view::npos) return false;
        const std::string_view field = bytes.substr(pos, end - pos);
        pos = end + 2;
        if (field.empty()) break;
        const std::size_t colon = field.find(':');
        if (colon == 0 || colon == std::string_view::npos || ows(field[colon - 1])) return false;
        req.headers.emplace(std::string(field.substr(0, colon)), std::string(trim(field.substr(colon + 1))));
    }
    req.body.assign(bytes.substr(pos));

    const std::string_view target = req.target;
    const std::size_t q = target.find('?');
    req.path = percent_decode(target.substr(0, q), false);
    if (q != std::string_view::npos) parse_form(target.substr(q + 1), req.params);
    if (starts_with_ci(req.get_header_value("Content-Type"), "application/x-www-form-urlencoded"))
        parse_form(req.body, req.params);
    return true;
}

void request_dispatcher::route_request(http_request& req, http_response& res) const {
    // HEAD is GET without the body.
    const auto method = req.method == "HEAD" ? std::optional<http_method>(http_method::get) : parse_method(req.method);
    if (method) {
        for (const route& r : routes_) {
            if (r.method != *method || !std::regex_match(req.path, req.matches, r.pattern)) continue;
            r.run(req, res);
            return;
        }
    }
    if (unrouted_) unrouted_(req, res);
    else res.status = 404;
}

void request_dispatcher::handle(const std::string& request, std::string& out, const endpoints& ends, bool last,
                                bool& client_closes, body_stream& rest) const {
    http_request req;
    http_response res;
    if (!parse(request, req)) {
        res.status = 400;
        client_closes = true;
        if (on_error_) on_error_(req, res);
        return write(res, false, true, out);
    }
    req.remote_addr = ends.peer_ip;
    req.remote_port = ends.peer_port;
    req.local_addr = ends.local_ip;
    req.local_port = ends.local_port;
    client_closes = lists_token(req.headers, "Connection", "close") ||
                    (req.version == "HTTP/1.0" && !lists_token(req.headers, "Connection", "keep-alive"));
    header_map before_handler;  // what the answer to an exception keeps (the request id)
    try {
        if (before_) before_(req, res);
        before_handler = res.headers;
        route_request(req, res);
    } catch (...) {
        res.status = 500;
        res.body.clear();
        res.headers = std::move(before_handler);
        if (on_error_) on_error_(req, res);
    }
    const bool head_only = req.method == "HEAD";
    if (res.stream && !head_only) {
        // The first piece decides: a body that ends in it goes with a length, as any other.
        // HTTP/1.0 has no chunks: its client gets the body whole.
        const bool whole = req.version == "HTTP/1.0";
        bool more = true;
        try {
            while (more && (whole || res.body.size() < stream_piece_bytes)) more = res.stream(res.body);
        } catch (...) {
            res = http_response{};
            res.status = 500;
            res.headers = std::move(before_handler);
            if (on_error_) on_error_(req, res);
            more = false;
        }
        if (more) {
            write(res, false, last || client_closes, out, true);
            rest = [produce = std::move(res.stream)](std::string& chunk) {
                std::string piece;
                piece.reserve(stream_piece_bytes + stream_piece_bytes / 4);
                bool going = true;
                while (going && piece.size() < stream_piece_bytes) going = produce(piece);
                append_chunk(chunk, piece);
                if (!going) append_last_chunk(chunk);
                return going;
            };
            return;
        }
    }
    // HEAD of a streamed body: the head GET would have for a long one (its length is unknown).
    write(res, head_only, last || client_closes, out, head_only && res.stream);
}

void request_dispatcher::append_chunk(std::string& out, std::string_view data) {
    if (data.empty()) return;
    char size[20];
    const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    out.append(size, static_cast<std::size_t>(n)).append(data).append("\r\n");
}

void request_dispatcher::write(const http_response& res, bool head_only, bool closes, std::string& out,
                               bool chunked) const {
    out.append("HTTP/1.1 ").append(std::to_string(res.status)).append(" ").append(reason_phrase(res.status)).append("\r\n");
    for (const auto& [name, value] : res.headers)
        if (!framing_field(name)) append_field(out, name, value);
    for (const auto& [name, value] : defaults_)
        if (!res.has_header(name)) append_field(out, name, value);
    if (!res.body.empty() && !res.has_header("Content-Type")) append_field(out, "Content-Type", "text/plain");
    // No body, and no length, in the statuses that cannot have one.
    const bool bodiless = (res.status >= 100 && res.status < 200) || res.status == 204 || res.status == 304;
    if (chunked) append_field(out, "Transfer-Encoding", "chunked");
    else if (!bodiless) append_field(out, "Content-Length", std::to_string(res.body.size()));
    if (closes) append_field(out, "Connection", "close");
    else append_field(out, "Keep-Alive", keep_alive_);
    out.append("\r\n");
    if (head_only || bodiless) return;
    if (chunked) append_chunk(out, res.body);
    else out.append(res.body);
}

}  // namespace tokenauth::server
