// Optional paging, search and sort for the list endpoints that the spec answers whole
// (users, groups, roles): ?limit=N&after=CURSOR&name_prefix=P&sort=id|name. Without any of
// them the response is what it always was, so qq and the SDK see no change. With them the
// body keeps its shape (an array, or the roles' object) holding one page, and the next page
// is named by a `Link: <path>; rel="next"` header (RFC 8288), absent on the last page.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../names.hpp"
#include "router.hpp"

namespace tokenauth::server {

/// What a list request asked for.
struct list_query {
    std::size_t limit = 0;            ///< 0: every match
    std::string after;                ///< the last item of the page before: its id, or its name with sort=name
    std::string name_prefix;          ///< as given ("" none)
    std::string prefix_key;           ///< names::key(name_prefix): case and Unicode variants match
    bool by_name = false;             ///< sort=name; the default is by id
    bool active = false;              ///< any of them given

    /// From the request's query; 400 for a bad limit, sort or after.
    static list_query from(const request_context& ctx);
    /// Whether a name is a match (its key begins with the prefix's key).
    bool matches(const std::string& name) const;
    /// The query of the page after `last` (its id and name), for the Link header.
    std::string next_query(std::uint64_t last_id, const std::string& last_name) const;
};

/// The page of items the query selects, in its order: items with id(item) and name(item),
/// filtered, sorted, after the cursor, at most limit. Sets the Link header when more follow.
template <class T, class Id, class Name>
std::vector<const T*> select_page(request_context& ctx, const std::string& path, const list_query& q,
                                  std::vector<const T*> items, Id id, Name name) {
    items.erase(std::remove_if(items.begin(), items.end(), [&](const T* t) { return !q.matches(name(*t)); }),
                items.end());
    if (!q.by_name) {
        std::sort(items.begin(), items.end(), [&](const T* a, const T* b) { return id(*a) < id(*b); });
    } else {
        std::vector<std::pair<std::string, const T*>> keyed;
        keyed.reserve(items.size());
        for (const T* t : items) keyed.emplace_back(names::key(name(*t)), t);
        std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        for (std::size_t i = 0; i < keyed.size(); ++i) items[i] = keyed[i].second;
    }
    std::size_t start = 0;
    if (!q.after.empty()) {
        const std::string after_key = q.by_name ? names::key(q.after) : std::string();
        const std::uint64_t after_id = q.by_name ? 0 : std::stoull(q.after);
        while (start < items.size() &&
               (q.by_name ? names::key(name(*items[start])) <= after_key : id(*items[start]) <= after_id))
            ++start;
    }
    std::vector<const T*> page(items.begin() + static_cast<std::ptrdiff_t>(start), items.end());
    if (q.limit != 0 && page.size() > q.limit) {
        page.resize(q.limit);
        ctx.res.set_header("Link", "<" + path + "?" + q.next_query(id(*page.back()), name(*page.back())) + ">; rel=\"next\"");
    }
    return page;
}

/// The JSON array of a list of directory rows (users or groups: an auth_id and a name each):
/// all of them without paging parameters, else the page the query selects.
template <class Map, class ToJson>
nlohmann::json directory_list(request_context& ctx, const std::string& path, const Map& rows, ToJson to_json) {
    nlohmann::json out = nlohmann::json::array();
    const list_query q = list_query::from(ctx);
    if (!q.active) {
        for (const auto& entry : rows) out.push_back(to_json(entry.second));
        return out;
    }
    using row = typename Map::mapped_type;
    std::vector<const row*> all;
    for (const auto& entry : rows) all.push_back(&entry.second);
    for (const row* r : select_page(ctx, path, q, std::move(all), [](const row& x) { return x.auth_id; },
                                    [](const row& x) -> const std::string& { return x.name; }))
        out.push_back(to_json(*r));
    return out;
}

}  // namespace tokenauth::server
