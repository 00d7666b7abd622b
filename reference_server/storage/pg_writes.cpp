// The PostgreSQL backend's writes of users, groups and roles (each one transaction under the
// writers' lock that logs its change), the connection they share with the token writes
// (pg_token_writes.cpp), and --migrate-from's import.
#include "../names.hpp"
#include "../text.hpp"
#include "name_keys.hpp"
#include "pg_follower.hpp"
#include "pg_internal.hpp"
#include "pg_store.hpp"
#include "privileges_text.hpp"
#include "sqlite_store.hpp"

namespace tokenauth::server {

using namespace pg_internal;

pg::connection& pg_store::writer() {
    if (!db_ || !db_->alive()) {
        try {
            db_ = std::make_unique<pg::connection>(conninfo_);
        } catch (const pg::error&) {
            throw storage_error(storage_error::kind::unavailable, "the database cannot be reached; try again shortly");
        }
    }
    return *db_;
}

pg::connection& pg_store::begin() {
    // A connection the database closed (a restart) is only noticed when used: BEGIN changes
    // nothing, so it is safe to reconnect and try once more.
    for (int attempt = 0;; ++attempt) {
        pg::connection& c = writer();
        try {
            // One round trip: the transaction and the writers' lock (commit order = change order).
            c.exec_script("BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(writer_lock) + ")");
            return c;
        } catch (const pg::error& e) {
            if (!e.connection_lost() && c.ok()) throw;
            db_.reset();
            if (attempt == 1) throw storage_error(storage_error::kind::unavailable, "the database cannot be reached; try again shortly");
        }
    }
}

pg::result pg_store::query(const std::string& sql, const std::vector<pg::param>& params) {
    for (int attempt = 0;; ++attempt) {
        pg::connection& c = writer();
        try {
            return c.exec(sql, params);
        } catch (const pg::error& e) {
            if (!e.connection_lost() && c.ok()) throw;
            db_.reset();
            if (attempt == 1) throw storage_error(storage_error::kind::unavailable, "the database cannot be reached; try again shortly");
        }
    }
}

pg::result pg_store::call(const char* name, const char* sql, const std::vector<pg::param>& params) {
    // writer() has just seen the connection alive, so a failure from here on happened with
    // the statement on its way: its outcome is unknown and it is not retried (503).
    pg::connection& c = writer();
    try {
        return c.exec_prepared(name, sql, params);
    } catch (const pg::error& e) {
        if (e.sqlstate() == TOKENAUTH_PG_NO_SUCH_USER || e.sqlstate() == TOKENAUTH_PG_TOKEN_LIMIT) throw;
        translate_failure("");
    }
}

template <class F>
void pg_store::write(F&& body, const logged_change& entity, const std::string& conflict_message) {
    std::lock_guard lock(db_mu_);
    pg::connection& c = begin();
    try {
        body(c);
        // After body: it may have chosen the entity's id (a new user's auth id).
        c.exec("WITH logged AS (INSERT INTO changes (kind, entity_id) VALUES ($1, $2) RETURNING seq) "
               "SELECT pg_notify($3, seq::text) FROM logged",
               {pg::text(entity.kind), pg::text(entity.id), pg::text(channel)});
        c.exec("COMMIT");
    } catch (...) {
        try {
            if (c.ok()) c.exec("ROLLBACK");
        } catch (...) {
        }
        translate_failure(conflict_message);
    }
    catch_up(c);  // this write and any other server's before it, so the caller reads its own write
}

void pg_store::translate_failure(const std::string& conflict_message) {
    try {
        throw;
    } catch (const pg::error& e) {
        if (e.unique_violation() && !conflict_message.empty())
            throw storage_error(storage_error::kind::conflict, conflict_message);
        if (e.foreign_key_violation())
            throw storage_error(storage_error::kind::not_found, "the user, group or role named in the request no longer exists");
        if (e.connection_lost())
            throw storage_error(storage_error::kind::unavailable, "the database cannot be reached; try again shortly");
        throw;
    }
}

// --- users, groups, roles ---

user_row pg_store::create_user(user_row u) {
    logged_change entity{"user", ""};
    write(
        [&](pg::connection& c) {
            u.auth_id = next_auth_id(c);
            entity.id = std::to_string(u.auth_id);
            u.binding = session_binding::generate();
            c.exec("INSERT INTO principals (auth_id, kind, name, primary_group, uid, home_directory, password_hash, "
                   "session_binding, name_key) VALUES ($1, 'user', $2, $3, $4, $5, $6, $7, $8)",
                   {pg::number(u.auth_id), pg::text(u.name), pg::number(u.primary_group), pg::text(u.uid), u.home_directory,
                    u.password_hash, pg::bytes(u.binding.bytes, sizeof u.binding.bytes), names::key(u.name)});
        },
        entity, name_taken(u.name));
    return u;
}

user_row pg_store::update_user(const user_row& u, bool password_changed) {
    write(
        [&](pg::connection& c) {
            c.exec("UPDATE principals SET " PG_SET_NAME_AND_KEY ", primary_group = $3, uid = $4, home_directory = $5, "
                   "password_hash = $6, generation = generation + $7 WHERE auth_id = $8 AND kind = 'user'",
                   {pg::text(u.name), names::key(u.name), pg::number(u.primary_group), pg::text(u.uid), u.home_directory,
                    u.password_hash, pg::number(std::int64_t{password_changed ? 1 : 0}), pg::number(u.auth_id)});
        },
        {"user", std::to_string(u.auth_id)}, name_taken(u.name));
    const auto d = snapshot();
    const user_row* now = d->user(u.auth_id);
    if (now == nullptr) throw storage_error(storage_error::kind::not_found, "no user with id " + std::to_string(u.auth_id));
    return *now;
}

void pg_store::delete_user(std::uint64_t id) {
    std::vector<token_id> doomed;
    write(
        [&](pg::connection& c) {
            const auto r = c.exec("SELECT id FROM access_tokens WHERE user_id = $1", {pg::number(id)});
            for (int i = 0; i < r.rows(); ++i) {
                token_id tid;
                r.bytes(i, 0, tid.bytes, sizeof tid.bytes, "an access token id");
                doomed.push_back(tid);
                // Each token's removal is a change of its own, so every server drops it.
                c.exec("INSERT INTO changes (kind, token_id) VALUES ('token', $1)", {id_param(tid)});
            }
            c.exec("DELETE FROM principals WHERE auth_id = $1 AND kind = 'user'", {pg::number(id)});
        },
        {"user", std::to_string(id)});
    for (const auto& tid : doomed) index_erase(tid);
}

user_row pg_store::set_password(std::uint64_t id, const std::string& hash) {
    write(
        [&](pg::connection& c) {
            c.exec("UPDATE principals SET password_hash = $1, generation = generation + 1 WHERE auth_id = $2 AND kind = 'user'",
                   {pg::text(hash), pg::number(id)});
        },
        {"user", std::to_string(id)});
    const auto d = snapshot();
    const user_row* u = d->user(id);
    if (u == nullptr) throw storage_error(storage_error::kind::not_found, "no user with id " + std::to_string(id));
    return *u;
}

group_row pg_store::create_group(group_row g) {
    logged_change entity{"group", ""};
    write(
        [&](pg::connection& c) {
            g.auth_id = next_auth_id(c);
            entity.id = std::to_string(g.auth_id);
            c.exec("INSERT INTO principals (auth_id, kind, name, gid, name_key) VALUES ($1, 'group', $2, $3, $4)",
                   {pg::number(g.auth_id), pg::text(g.name), pg::text(g.gid), names::key(g.name)});
        },
        entity, name_taken(g.name));
    return g;
}

group_row pg_store::update_group(const group_row& g) {
    write(
        [&](pg::connection& c) {
            c.exec("UPDATE principals SET " PG_SET_NAME_AND_KEY ", gid = $3 WHERE auth_id = $4 AND kind = 'group'",
                   {pg::text(g.name), names::key(g.name), pg::text(g.gid), pg::number(g.auth_id)});
        },
        {"group", std::to_string(g.auth_id)}, name_taken(g.name));
    return g;
}

void pg_store::delete_group(std::uint64_t id) {
    write(
        [&](pg::connection& c) {
            const auto primaries =
                c.exec("SELECT count(*) FROM principals WHERE kind = 'user' AND primary_group = $1", {pg::number(id)}).int64(0, 0);
            if (primaries > 0)
                throw storage_error(storage_error::kind::in_use, "the group is the primary group of " +
                                                                     std::to_string(primaries) +
                                                                     " user(s); change their primary group first");
            c.exec("DELETE FROM principals WHERE auth_id = $1 AND kind = 'group'", {pg::number(id)});
        },
        {"group", std::to_string(id)});
}

void pg_store::add_group_member(std::uint64_t group, std::uint64_t member) {
    write(
        [&](pg::connection& c) {
            c.exec("INSERT INTO group_members (group_id, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                   {pg::number(group), pg::number(member)});
        },
        {"group_members", std::to_string(group)});
}

void pg_store::remove_group_member(std::uint64_t group, std::uint64_t member) {
    write(
        [&](pg::connection& c) {
            c.exec("DELETE FROM group_members WHERE group_id = $1 AND member_id = $2", {pg::number(group), pg::number(member)});
        },
        {"group_members", std::to_string(group)});
}

void pg_store::create_role(const tokenauth::role& r) {
    write(
        [&](pg::connection& c) {
            c.exec("INSERT INTO roles (name, description, privileges, name_key) VALUES ($1, $2, $3, $4)",
                   {pg::text(r.name), pg::text(r.description), pg::text(privileges_to_text(r.privileges)), names::key(r.name)});
        },
        {"role", r.name}, role_taken(r.name));
}

void pg_store::update_role(const std::string& name, const tokenauth::role& r) {
    write(
        [&](pg::connection& c) {
            c.exec("UPDATE roles SET " PG_SET_NAME_AND_KEY ", description = $3, privileges = $4 WHERE name = $5",
                   {pg::text(r.name), names::key(r.name), pg::text(r.description), pg::text(privileges_to_text(r.privileges)),
                    pg::text(name)});
            // The new name is a change too: a follower reads both (the old one is gone).
            if (r.name != name) c.exec("INSERT INTO changes (kind, entity_id) VALUES ('role', $1)", {pg::text(r.name)});
        },
        {"role", name}, role_taken(r.name));
}

void pg_store::delete_role(const std::string& name) {
    write([&](pg::connection& c) { c.exec("DELETE FROM roles WHERE name = $1", {pg::text(name)}); },
          {"role", name});
}

void pg_store::add_role_member(const std::string& role, std::uint64_t member) {
    write(
        [&](pg::connection& c) {
            c.exec("INSERT INTO role_members (role, auth_id) SELECT name, $2 FROM roles WHERE name = $1 "
                   "ON CONFLICT DO NOTHING",
                   {pg::text(role), pg::number(member)});
        },
        {"role_members", role});
}

void pg_store::remove_role_member(const std::string& role, std::uint64_t member) {
    write(
        [&](pg::connection& c) {
            c.exec("DELETE FROM role_members WHERE role = $1 AND auth_id = $2", {pg::text(role), pg::number(member)});
        },
        {"role_members", role});
}

// --- migration from SQLite ---

void pg_store::import_from(sqlite_store& source) {
    const auto d = source.snapshot();
    std::lock_guard lock(db_mu_);
    pg::connection& c = writer();
    {
        const auto r = c.exec("SELECT (SELECT count(*) FROM principals WHERE auth_id NOT IN ($1, $2, $3, $4)) + "
                              "(SELECT count(*) FROM access_tokens) + (SELECT count(*) FROM roles WHERE name NOT IN "
                              "('Administrators', 'Observers'))",
                              {pg::number(admin_auth_id), pg::number(guest_auth_id), pg::number(users_group_id),
                               pg::number(guests_group_id)});
        if (r.int64(0, 0) != 0) throw std::runtime_error("the PostgreSQL database is not empty; migrate into a new one");
    }
    pg::transaction t(c);
    c.exec("SELECT pg_advisory_xact_lock($1)", {pg::number(writer_lock)});
    // The seeded rows are replaced by the source's, so ids, SIDs, hashes and bindings carry over.
    c.exec("DELETE FROM role_members");
    c.exec("DELETE FROM roles");
    c.exec("DELETE FROM group_members");
    c.exec("DELETE FROM principals");
    c.exec("UPDATE meta SET value = $1 WHERE key = 'machine_sid'", {pg::text(d->machine_sid)});
    c.exec("UPDATE meta SET value = $1 WHERE key = 'next_auth_id'", {pg::number(source.next_auth_id_value())});
    // Keys as the source holds them (an unkeyed name stays unkeyed).
    auto key_of = [&](const std::string& name, std::uint64_t id) -> pg::param {
        const std::string key = names::key(name);
        return d->principal_keys.find(key) == id ? pg::param(key) : std::nullopt;
    };
    for (const auto& [id, g] : d->groups)
        c.exec("INSERT INTO principals (auth_id, kind, name, gid, name_key) VALUES ($1, 'group', $2, $3, $4)",
               {pg::number(id), pg::text(g.name), pg::text(g.gid), key_of(g.name, id)});
    for (const auto& [id, u] : d->users)
        c.exec("INSERT INTO principals (auth_id, kind, name, primary_group, uid, home_directory, password_hash, generation, "
               "session_binding, name_key) VALUES ($1, 'user', $2, $3, $4, $5, $6, $7, $8, $9)",
               {pg::number(id), pg::text(u.name), pg::number(u.primary_group), pg::text(u.uid), u.home_directory,
                u.password_hash, pg::number(u.generation), pg::bytes(u.binding.bytes, sizeof u.binding.bytes),
                key_of(u.name, id)});
    for (const auto& [g, members] : d->group_members)
        members.for_each([&](std::uint64_t m) {
            c.exec("INSERT INTO group_members (group_id, member_id) VALUES ($1, $2)", {pg::number(g), pg::number(m)});
        });
    for (std::size_t i = 0; i < d->roles.size(); ++i) {
        const tokenauth::role& role = d->roles[i];
        c.exec("INSERT INTO roles (name, description, privileges, name_key) VALUES ($1, $2, $3, $4)",
               {pg::text(role.name), pg::text(role.description), pg::text(privileges_to_text(role.privileges)),
                d->role_stored_keys[i]});
        for (std::uint64_t m : role.members)
            c.exec("INSERT INTO role_members (role, auth_id) VALUES ($1, $2)", {pg::text(role.name), pg::number(m)});
    }
    bool more = false;
    for (const token_row& row : source.list_tokens(std::nullopt, 0, 0, more)) {
        token_record rec;
        if (!source.tokens().find(row.id, rec)) continue;
        c.exec("INSERT INTO access_tokens (id, secret_hash, user_id, creator_id, creation_time, expiration_time, enabled, "
               "privileges, last_used_time, hash_scheme, name, rotated_to, rotated_time, family, allowed_cidrs) "
               "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
               {id_param(row.id), pg::bytes(rec.hash.bytes, sizeof rec.hash.bytes), pg::number(row.user),
                pg::number(row.creator), pg::number(row.creation_time), pg::number(row.expiration_time),
                pg::boolean(row.enabled), row.privileges ? pg::text(privileges_to_text(*row.privileges)) : std::nullopt,
                pg::number(row.last_used_time), pg::number(static_cast<std::int64_t>(rec.scheme)), row.name,
                row.rotated_to ? id_param(*row.rotated_to) : std::nullopt, pg::number(row.rotated_time),
                row.family == row.id ? std::nullopt : id_param(row.family), row.allowed_cidrs});
    }
    c.exec(TOKENAUTH_PG_RECOUNT_LIVE_TOKENS);
    c.exec("INSERT INTO changes (kind) VALUES ('directory')");
    t.commit();
}

}  // namespace tokenauth::server
