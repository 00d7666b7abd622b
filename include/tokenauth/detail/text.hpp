// tokenauth::detail: small ASCII text helpers shared by the parsers.
#pragma once

#include "config.hpp"

#include <string_view>

namespace tokenauth {
TOKENAUTH_ABI_BEGIN
namespace detail {

/// s without leading and trailing spaces and tabs.
constexpr std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

/// ASCII case-insensitive equality.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

}  // namespace detail
TOKENAUTH_ABI_END
}  // namespace tokenauth
