// The uniqueness keys of stored names (names.hpp), shared by both backends' migrations and
// loads: a key belongs to the oldest row that has it; a later row with the same key keeps its
// name but gets no key (it stays in place, found by its exact name, and is reported at every start).
#pragma once

#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "../names.hpp"

namespace tokenauth::server {

/// Keys for names listed oldest first: nullopt for a name whose key an earlier one has.
inline std::vector<std::optional<std::string>> assign_name_keys(const std::vector<std::string>& names_oldest_first) {
    std::vector<std::optional<std::string>> out;
    out.reserve(names_oldest_first.size());
    std::unordered_set<std::string> taken;
    for (const std::string& n : names_oldest_first) {
        std::string k = names::key(n);
        if (taken.insert(k).second) out.emplace_back(std::move(k));
        else out.emplace_back(std::nullopt);
    }
    return out;
}

/// The report for a stored name without a key; id may be empty.
inline std::string name_collision_note(const char* what, const std::string& name, const std::string& id) {
    return std::string(what) + " '" + name + "'" + (id.empty() ? "" : " (" + id + ")") +
           " has the same name as an older one once case and Unicode forms are folded; it stays, found by its "
           "exact name only, until it is renamed";
}

}  // namespace tokenauth::server
