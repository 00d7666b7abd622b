// An HTTP request as the handlers read it and the response they write: the server's own
// types, parsed and serialised by dispatcher.cpp (no HTTP library in between).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <regex>
#include <string>
#include <string_view>

namespace tokenauth::server {

/// ASCII case-insensitive order: field names compare as RFC 9110 says.
struct field_name_less {
    bool operator()(const std::string& a, const std::string& b) const noexcept;
};

using header_map = std::multimap<std::string, std::string, field_name_less>;
using param_map = std::multimap<std::string, std::string>;

struct http_request {
    std::string method;   ///< as sent (case-sensitive: "get" is not GET)
    std::string target;   ///< as sent: path and query
    std::string path;     ///< the target's path, percent-decoded
    std::string version;  ///< "HTTP/1.1" or "HTTP/1.0"
    header_map headers;
    /// The query's parameters, then those of an application/x-www-form-urlencoded body
    /// (percent-decoded, '+' as space), in order.
    param_map params;
    std::string body;
    std::smatch matches;  ///< the route's groups, over path

    std::string remote_addr;
    int remote_port = -1;
    std::string local_addr;
    int local_port = -1;

    bool has_header(const std::string& name) const { return headers.count(name) != 0; }
    /// The first value of the field, or "".
    std::string get_header_value(const std::string& name) const;
    bool has_param(const std::string& name) const { return params.count(name) != 0; }
    /// The first value of the parameter, or "".
    std::string get_param_value(const std::string& name) const;
};

/// Produces a large body piece by piece: each call appends the next piece (about
/// stream_piece_bytes) to out and returns false once it has appended the last one. It runs on
/// a worker, one call at a time, the next only after the client has taken the piece before
/// (backpressure); what it reads must stay valid while it lives (a pinned snapshot). A throw
/// ends the response incomplete: the connection closes without the last chunk.
using body_stream = std::function<bool(std::string& out)>;
inline constexpr std::size_t stream_piece_bytes = 64 * 1024;

struct http_response {
    int status = 200;
    header_map headers;
    std::string body;
    /// When set, the body continues with what this produces after `body`. A body that ends
    /// within its first piece is sent with Content-Length like any other; a longer one is
    /// sent chunked (HTTP/1.1), or produced whole for an HTTP/1.0 client.
    body_stream stream;

    bool has_header(const std::string& name) const { return headers.count(name) != 0; }
    std::string get_header_value(const std::string& name) const;
    /// Adds a field. A name or value holding CR, LF or NUL is dropped: no input echoed into a
    /// header can add a field or end the head.
    void set_header(const std::string& name, const std::string& value);
    void set_content(std::string body, const std::string& content_type);
};

/// Percent-decodes s; with plus_as_space, '+' is a space (form encoding). A '%' not followed
/// by two hex digits stays as it is.
std::string percent_decode(std::string_view s, bool plus_as_space);
/// Adds the parameters of a query or form body ("a=1&b=2") to params; a field without '='
/// has an empty value; fields with an empty name are ignored.
void parse_form(std::string_view text, param_map& params);
/// The reason phrase of a status ("Not Found"); "Unknown" for a status it does not name.
const char* reason_phrase(int status) noexcept;

}  // namespace tokenauth::server
