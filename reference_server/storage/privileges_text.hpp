// How storage keeps a role's privileges: their names, one per line (readable in a database
// dump, stable when privileges are added). Internal to storage.
#pragma once

#include <tokenauth/privilege.hpp>

#include <stdexcept>
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

/// The stored text back as a set (the same format qq's privileges files have, so the
/// library's parser reads it). A name this build does not know fails the load.
inline privilege_set privileges_from_text(const std::string& text) {
    const auto names = parse_privilege_list(text);
    if (!names) throw std::runtime_error(std::string("corrupt database: a role's privileges: ") + names.detail());
    privilege_set s;
    for (const privilege p : *names) s.insert(p);
    return s;
}

}  // namespace tokenauth::server
