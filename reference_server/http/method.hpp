// The HTTP methods the server routes. HEAD is answered by GET's route, without the body;
// any other method (TRACE, CONNECT, an unknown token) is routed nowhere and answered 405
// where the path has routes, 404 where it has none.
#pragma once

#include <optional>
#include <string_view>

namespace tokenauth::server {

enum class http_method { get, post, put, patch, del, options };

inline constexpr http_method routed_methods[] = {http_method::get,   http_method::post, http_method::put,
                                                 http_method::patch, http_method::del,  http_method::options};

/// The method's token on the wire ("GET", ...).
constexpr const char* to_string(http_method m) noexcept {
    switch (m) {
    case http_method::get: return "GET";
    case http_method::post: return "POST";
    case http_method::put: return "PUT";
    case http_method::patch: return "PATCH";
    case http_method::del: return "DELETE";
    case http_method::options: return "OPTIONS";
    }
    return "";  // not an enumerator
}

/// The routed method a request line names (case-sensitive, as RFC 9110 says); none for
/// HEAD and for every method no route has.
inline std::optional<http_method> parse_method(std::string_view token) noexcept {
    for (http_method m : routed_methods)
        if (token == to_string(m)) return m;
    return std::nullopt;
}

}  // namespace tokenauth::server
