// The PostgreSQL backend (see pg_store.hpp for the design): connecting, loading the
// directory, and the server's side of following the change log (pg_follower.hpp). The schema
// is in pg_schema.cpp, the writes in pg_writes.cpp.
#include "pg_store.hpp"

#include "../names.hpp"
#include "../text.hpp"
#include "name_keys.hpp"
#include "pg_follower.hpp"
#include "pg_internal.hpp"
#include "privileges_text.hpp"

namespace tokenauth::server {

using namespace pg_internal;

pg_store::pg_store(const options& opts)
    : conninfo_(opts.conninfo),
      change_log_retention_(std::max<std::int64_t>(1, opts.change_log_retention)),
      on_follow_error_(opts.on_follow_error),
      on_snapshot_(opts.on_snapshot) {
    ensure_sodium_init();
    if (opts.session_key_file.empty())
        throw std::runtime_error("a PostgreSQL database needs --session-key-file: every server shares one key file");
    if (!read_session_key_file(opts.session_key_file, key_)) {
        key_ = session_key::generate();
        write_session_key_file(opts.session_key_file, key_);
    }
    db_ = std::make_unique<pg::connection>(conninfo_);
    migrate(*db_);
    seed(*db_, opts);
    follower_ = std::make_unique<pg_follower>(*this, opts);
}

pg_store::~pg_store() { follower_.reset(); }

bool pg_store::stale() const noexcept { return follower_->stale(); }

const char* pg_store::not_ready() const noexcept {
    if (!stale()) return nullptr;
    return follower_->unreachable() ? "storage_unreachable" : "stale";
}

std::optional<published_store::follower_status> pg_store::follower() const noexcept {
    const auto stats = follower_->stats();
    follower_status f;
    f.lag_seconds = follower_->lag_seconds();
    f.last_changes = stats.last_batch;
    f.snapshot_loads = stats.snapshot_loads;
    f.changes_applied = stats.changes_applied;
    return f;
}

std::shared_ptr<directory> pg_store::load_directory(pg::connection& c) {
    auto d = std::make_shared<directory>();
    if (const auto r = c.exec("SELECT value FROM meta WHERE key = 'machine_sid'"); r.rows() == 1) d->machine_sid = r.str(0, 0);
    const auto p = c.exec("SELECT auth_id, kind, name, primary_group, uid, home_directory, password_hash, generation, gid, "
                          "session_binding, name_key FROM principals");
    for (int i = 0; i < p.rows(); ++i) {
        const auto id = static_cast<std::uint64_t>(p.int64(i, 0));
        index_name(*d, id, p.str(i, 2), p.opt_str(i, 10));
        if (p.str(i, 1) == "user") {
            user_row u;
            u.auth_id = id;
            u.name = p.str(i, 2);
            u.primary_group = static_cast<std::uint64_t>(p.int64(i, 3));
            u.uid = p.str(i, 4);
            u.home_directory = p.opt_str(i, 5);
            u.password_hash = p.opt_str(i, 6);
            u.generation = static_cast<std::uint64_t>(p.int64(i, 7));
            p.bytes(i, 9, u.binding.bytes, sizeof u.binding.bytes, "a user's session binding");
            d->users.emplace(id, std::move(u));
        } else {
            d->groups.emplace(id, group_row{id, p.str(i, 2), p.str(i, 8)});
        }
    }
    const auto m = c.exec("SELECT group_id, member_id FROM group_members ORDER BY group_id, member_id");
    for (int i = 0; i < m.rows(); ++i)
        d->group_members[static_cast<std::uint64_t>(m.int64(i, 0))].push_back(static_cast<std::uint64_t>(m.int64(i, 1)));
    const auto r = c.exec("SELECT name, description, privileges, name_key FROM roles ORDER BY lower(name)");
    std::map<std::string, std::optional<std::string>> role_keys;
    for (int i = 0; i < r.rows(); ++i) {
        d->roles.push_back({r.str(i, 0), r.str(i, 1), privileges_from_text(r.str(i, 2)), {}});
        role_keys.emplace(r.str(i, 0), r.opt_str(i, 3));
    }
    index_role_names(*d, role_keys);
    const auto rm = c.exec("SELECT role, auth_id FROM role_members");
    for (int i = 0; i < rm.rows(); ++i)
        for (auto& role : d->roles)
            if (role.name == rm.str(i, 0)) role.add_member(static_cast<std::uint64_t>(rm.int64(i, 1)));
    return d;
}

void pg_store::prune(pg::connection& c) {
    // One statement: the rows and the mark go together, so a reader sees both or neither.
    c.exec("WITH gone AS (DELETE FROM changes WHERE seq <= (SELECT max(seq) FROM changes) - $1 RETURNING seq) "
           "UPDATE meta SET value = greatest(value::bigint, (SELECT max(seq) FROM gone))::text "
           "WHERE key = 'pruned_through' AND EXISTS (SELECT 1 FROM gone)",
           {pg::number(change_log_retention_)});
}

void pg_store::catch_up(pg::connection& c) { follower_->catch_up(c.raw()); }

void pg_store::refresh() {
    std::lock_guard lock(db_mu_);
    for (int attempt = 0;; ++attempt) {
        pg::connection& c = writer();
        try {
            catch_up(c);
            break;
        } catch (const std::exception&) {
            if (c.ok()) throw;  // reached, and refused: not worth a retry
            db_.reset();
            if (attempt == 1) throw storage_error(storage_error::kind::unavailable, "the database cannot be reached; try again shortly");
        }
    }
}

}  // namespace tokenauth::server
