#include "listing.hpp"

#include "../names.hpp"
#include "../text.hpp"

namespace tokenauth::server {

list_query list_query::from(const request_context& ctx) {
    list_query q;
    q.limit = static_cast<std::size_t>(ctx.query_uint("limit", 0, 1, 1000));
    q.by_name = ctx.req.get_param_value("sort") == "name";
    if (ctx.req.has_param("sort") && !q.by_name && ctx.req.get_param_value("sort") != "id")
        throw bad_request("query parameter 'sort' must be id or name");
    q.after = ctx.req.get_param_value("after");
    if (!q.after.empty() && !q.by_name && !text::parse_decimal(q.after, UINT64_MAX))
        throw bad_request("query parameter 'after' must be an id (or, with sort=name, a name)");
    q.name_prefix = ctx.req.get_param_value("name_prefix");
    if (q.name_prefix.size() > 4 * 256) throw bad_request("query parameter 'name_prefix' is too long");
    q.prefix_key = q.name_prefix.empty() ? std::string() : names::key(q.name_prefix);
    q.active = ctx.req.has_param("limit") || ctx.req.has_param("after") || ctx.req.has_param("name_prefix") ||
               ctx.req.has_param("sort");
    return q;
}

bool list_query::matches(const std::string& name) const {
    return prefix_key.empty() || names::key(name).compare(0, prefix_key.size(), prefix_key) == 0;
}

std::string list_query::next_query(std::uint64_t last_id, const std::string& last_name) const {
    std::string out = "limit=" + std::to_string(limit) + "&after=" +
                      text::percent_encode(by_name ? last_name : std::to_string(last_id));
    if (!name_prefix.empty()) out += "&name_prefix=" + text::percent_encode(name_prefix);
    if (by_name) out += "&sort=name";
    return out;
}

}  // namespace tokenauth::server
