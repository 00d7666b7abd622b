// What the PostgreSQL backend's files share (pg_store.cpp: loading and following the change
// log; pg_schema.cpp: migrations and the first start; pg_writes.cpp: every write): the lock
// numbers, the notification channel, the SQLSTATEs of the token functions, the change kinds
// and small helpers. Internal to the backend.
#pragma once

#include <tokenauth/token.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "pg.hpp"

namespace tokenauth::server::pg_internal {

// The writers' lock is also named inside the token functions of migration v2, so its
// number is spelled once, here, for both.
#define TOKENAUTH_PG_WRITER_LOCK 128021892001378  // 0x746f6b656e62, "tokenb"
#define TOKENAUTH_PG_STR2(x) #x
#define TOKENAUTH_PG_STR(x) TOKENAUTH_PG_STR2(x)
inline constexpr std::int64_t migration_lock = 0x746f6b656e61;  // "tokena": migrations and seeding
inline constexpr std::int64_t writer_lock = TOKENAUTH_PG_WRITER_LOCK;  // every write: commit order = change order
#define TOKENAUTH_PG_CHANNEL "tokenauth_changes"
inline constexpr const char* channel = TOKENAUTH_PG_CHANNEL;
// SQLSTATEs the token functions raise (class "TA": ours).
#define TOKENAUTH_PG_NO_SUCH_USER "TA404"
#define TOKENAUTH_PG_TOKEN_LIMIT "TA409"
// Sets every user's token count from its tokens (migration v2, which has no tombstones).
#define TOKENAUTH_PG_RECOUNT_TOKENS \
    "UPDATE principals p SET tokens_held = (SELECT count(*) FROM access_tokens t WHERE t.user_id = p.auth_id)"
// The same from schema v7 on, tombstones not counted (after --migrate-from).
#define TOKENAUTH_PG_RECOUNT_LIVE_TOKENS                                                               \
    "UPDATE principals p SET tokens_held = (SELECT count(*) FROM access_tokens t WHERE t.user_id = " \
    "p.auth_id AND t.rotated_to IS NULL)"

/// The kinds of change this server knows, as the change log spells them. A follower that
/// meets another kind (a newer server's) stops there and fails closed rather than skip it.
enum class change_kind { token, directory, user, group, group_members, role, role_members };
inline constexpr std::pair<change_kind, std::string_view> change_kinds[] = {
    {change_kind::token, "token"},         {change_kind::directory, "directory"},
    {change_kind::user, "user"},           {change_kind::group, "group"},
    {change_kind::group_members, "group_members"}, {change_kind::role, "role"},
    {change_kind::role_members, "role_members"},
};

inline std::optional<change_kind> parse_change_kind(std::string_view text) {
    for (const auto& [k, name] : change_kinds)
        if (name == text) return k;
    return std::nullopt;
}

#define PG_TOKEN_COLUMNS                                                                                    \
    "id, seq, user_id, creator_id, creation_time, expiration_time, enabled, privileges, last_used_time, name, " \
    "rotated_to, rotated_time, coalesce(family, id), allowed_cidrs"

inline pg::param id_param(const token_id& id) { return pg::bytes(id.bytes, sizeof id.bytes); }

inline std::uint64_t next_auth_id(pg::connection& c) {
    const auto r = c.exec("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'next_auth_id' "
                          "RETURNING value::bigint - 1");
    if (r.rows() != 1) throw std::runtime_error("database has no auth id counter");
    return static_cast<std::uint64_t>(r.int64(0, 0));
}

// A rename takes the new name's key; an unchanged name keeps the key it has. $1: the name,
// $2: its key.
#define PG_SET_NAME_AND_KEY "name_key = CASE WHEN name = $1 THEN name_key ELSE $2 END, name = $1"
inline std::string name_taken(const std::string& name) { return "a user or group named '" + name + "' already exists"; }
inline std::string role_taken(const std::string& name) { return "a role named '" + name + "' already exists"; }

}  // namespace tokenauth::server::pg_internal
