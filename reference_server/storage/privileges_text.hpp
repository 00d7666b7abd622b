// How storage keeps a role's privileges: their names, one per line (readable in a database
// dump, stable when privileges are added). Internal to storage.
#pragma once

#include <tokenauth/privilege.hpp>

#include <string>
#include <string_view>

namespace tokenauth::server {

inline std::string privileges_to_text(const privilege_set& s) {
    std::string out;
    for (privilege p : s.to_vector()) {
        out += to_string(p);
        out += '\n';
    }
    return out;
}

inline privilege_set privileges_from_text(const std::string& text) {
    privilege_set s;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        if (const auto p = parse_privilege(std::string_view(text).substr(start, end - start))) s.insert(*p);
        start = end + 1;
    }
    return s;
}

}  // namespace tokenauth::server
