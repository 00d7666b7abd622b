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
    f.writes_grouped = grouped_.load(std::memory_order_relaxed);
    return f;
}

namespace {
constexpr const char* principal_columns =
    "SELECT auth_id, kind, name, primary_group, uid, home_directory, password_hash, generation, gid, session_binding, "
    "name_key FROM principals";

/// Puts the principal on row i into the directory.
void put_principal(directory& d, const pg::result& p, int i) {
    const auto id = static_cast<std::uint64_t>(p.int64(i, 0));
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
        d.put_user(std::move(u), p.opt_str(i, 10));
    } else {
        d.put_group(group_row{id, p.str(i, 2), p.str(i, 8)}, p.opt_str(i, 10));
    }
}
}  // namespace

std::shared_ptr<directory> pg_store::load_directory(pg::connection& c) {
    auto d = std::make_shared<directory>();
    if (const auto r = c.exec("SELECT value FROM meta WHERE key = 'machine_sid'"); r.rows() == 1) d->machine_sid = r.str(0, 0);
    const auto p = c.exec(principal_columns);
    for (int i = 0; i < p.rows(); ++i) put_principal(*d, p, i);
    const auto m = c.exec("SELECT group_id, member_id FROM group_members");
    for (int i = 0; i < m.rows(); ++i)
        d->add_group_member(static_cast<std::uint64_t>(m.int64(i, 0)), static_cast<std::uint64_t>(m.int64(i, 1)));
    const auto r = c.exec("SELECT name, description, privileges, name_key FROM roles");
    for (int i = 0; i < r.rows(); ++i)
        d->put_role(r.str(i, 0), {r.str(i, 0), r.str(i, 1), privileges_from_text(r.str(i, 2)), {}}, r.opt_str(i, 3));
    const auto rm = c.exec("SELECT role, auth_id FROM role_members");
    for (int i = 0; i < rm.rows(); ++i) d->add_role_member(rm.str(i, 0), static_cast<std::uint64_t>(rm.int64(i, 1)));
    return d;
}

void pg_store::reload_principal(pg::connection& c, directory& d, std::uint64_t id) {
    const auto p = c.exec(std::string(principal_columns) + " WHERE auth_id = $1", {pg::number(id)});
    if (p.rows() == 1) put_principal(d, p, 0);
    else d.erase_principal(id);
}

void pg_store::reload_group_members(pg::connection& c, directory& d, std::uint64_t group) {
    const auto m = c.exec("SELECT member_id FROM group_members WHERE group_id = $1", {pg::number(group)});
    std::vector<std::uint64_t> members;
    members.reserve(static_cast<std::size_t>(m.rows()));
    for (int i = 0; i < m.rows(); ++i) members.push_back(static_cast<std::uint64_t>(m.int64(i, 0)));
    d.set_group_members(group, members);
}

void pg_store::reload_role(pg::connection& c, directory& d, const std::string& name) {
    const auto r = c.exec("SELECT name, description, privileges, name_key FROM roles WHERE name = $1", {pg::text(name)});
    if (r.rows() != 1) {
        d.erase_role(name);
        return;
    }
    tokenauth::role role{r.str(0, 0), r.str(0, 1), privileges_from_text(r.str(0, 2)), {}};
    const auto m = c.exec("SELECT auth_id FROM role_members WHERE role = $1 ORDER BY auth_id", {pg::text(name)});
    for (int i = 0; i < m.rows(); ++i) role.members.push_back(static_cast<std::uint64_t>(m.int64(i, 0)));
    d.put_role(name, std::move(role), r.opt_str(0, 3));
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
