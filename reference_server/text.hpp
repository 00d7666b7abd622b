// The server's small text helpers (ASCII): one copy for storage, api, http and the CLI. The
// library's own helpers are its internals (tokenauth::detail) and stay out of the server.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tokenauth::server::text {

/// s without leading and trailing spaces and tabs (HTTP's OWS).
constexpr std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

/// The parts of s between separators (an empty s is one empty part).
inline std::vector<std::string> split(std::string_view s, char separator) {
    std::vector<std::string> out;
    while (true) {
        const std::size_t at = s.find(separator);
        out.emplace_back(s.substr(0, at));
        if (at == std::string_view::npos) return out;
        s.remove_prefix(at + 1);
    }
}

constexpr char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string to_lower(std::string s) {
    for (char& c : s) c = lower(c);
    return s;
}

/// ASCII case-insensitive equality.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

/// An id as the API writes it: decimal digits, no sign, no spaces, no superfluous leading
/// zero, at most max; nullopt otherwise.
constexpr std::optional<std::uint64_t> parse_decimal(std::string_view s, std::uint64_t max) noexcept {
    if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (v > (max - d) / 10) return std::nullopt;
        v = v * 10 + d;
    }
    return v;
}

/// Percent-encodes everything but unreserved characters (and ':'), for paths and query
/// values (paging links, ids and names in paths).
inline std::string percent_encode(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.' || c == '~' || c == ':') {
            out += ch;
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

/// "365d", "12h", "30m", "45s" or plain seconds: at least 1 s, at most 100 years.
inline std::optional<std::int64_t> parse_duration_seconds(const std::string& text) {
    if (text.empty()) return std::nullopt;
    std::int64_t unit = 1;
    std::string digits = text;
    switch (text.back()) {
    case 'd': unit = 86400; break;
    case 'h': unit = 3600; break;
    case 'm': unit = 60; break;
    case 's': unit = 1; break;
    default: break;
    }
    if (unit != 1 || text.back() == 's') digits.pop_back();
    if (digits.empty() || digits.size() > 12 || digits.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    const std::int64_t n = std::stoll(digits) * unit;
    if (n <= 0 || n > std::int64_t{100} * 365 * 86400) return std::nullopt;
    return n;
}

}  // namespace tokenauth::server::text
