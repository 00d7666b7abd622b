// The PostgreSQL backend (see pg_state.hpp for the design): connecting, loading the directory
// and the tokens, and following the change log. The schema is in pg_schema.cpp, the writes in
// pg_writes.cpp.
#include "pg_state.hpp"

#include <poll.h>
#include <tokenauth/postgres/replica.hpp>

#include "../names.hpp"
#include "../text.hpp"
#include "name_keys.hpp"
#include "pg_internal.hpp"
#include "privileges_text.hpp"

namespace tokenauth::server {

using namespace pg_internal;

pg_state::pg_state(const options& opts)
    : conninfo_(opts.conninfo),
      max_staleness_(opts.max_staleness),
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
    {
        std::lock_guard lock(apply_mu_);
        // The sequence first: changes after it are applied on top of what is loaded now.
        const auto r = db_->exec("SELECT coalesce(max(seq), 0) FROM changes");
        applied_seq_ = r.int64(0, 0);
        publish_directory(load_directory(*db_));
        load_tokens(*db_);
        synced_at_.store(steady_ns(), std::memory_order_release);
    }
    if (opts.follow) follower_ = std::thread([this] { follow(); });
}

pg_state::~pg_state() {
    {
        std::lock_guard lock(stop_mu_);
        stop_ = true;
    }
    stop_cv_.notify_all();
    if (follower_.joinable()) follower_.join();
}

bool pg_state::stale() const noexcept {
    return steady_ns() - synced_at_.load(std::memory_order_acquire) >
           std::chrono::duration_cast<std::chrono::nanoseconds>(max_staleness_).count();
}

const char* pg_state::not_ready() const noexcept {
    if (!stale()) return nullptr;
    return unreachable_.load(std::memory_order_acquire) ? "storage_unreachable" : "stale";
}

std::optional<published_store::follower_status> pg_state::follower() const noexcept {
    follower_status f;
    f.lag_seconds = static_cast<double>(steady_ns() - synced_at_.load(std::memory_order_acquire)) / 1e9;
    f.last_changes = static_cast<std::uint64_t>(last_changes_.load(std::memory_order_relaxed));
    return f;
}

std::shared_ptr<directory> pg_state::load_directory(pg::connection& c) {
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

void pg_state::load_tokens(pg::connection& c) {
    const auto r =
        c.exec("SELECT id, secret_hash, user_id, expiration_time, enabled, privileges, hash_scheme FROM access_tokens");
    for (int i = 0; i < r.rows(); ++i) {
        token_id id;
        secret_hash hash;
        r.bytes(i, 0, id.bytes, sizeof id.bytes, "an access token id");
        r.bytes(i, 1, hash.bytes, sizeof hash.bytes, "an access token hash");
        index_load(record_of(id, hash, scheme_of(r.int64(i, 6)), static_cast<std::uint64_t>(r.int64(i, 2)),
                                 r.opt_int64(i, 3), r.boolean(i, 4), r.opt_str(i, 5)));
    }
    index_loaded();
}

pg::result pg_state::read_changes(pg::connection& c, std::int64_t after) {
    // Each change with its token's current row (none when deleted), and the pruned mark as of
    // the same statement, in one round trip. (The log always keeps its last change, so when
    // changes after `after` were pruned, a later one is here to carry the mark.)
    return c.exec_prepared("read_changes",
                           "SELECT c.seq, c.kind, c.token_id, t.secret_hash, t.user_id, t.expiration_time, t.enabled, "
                           "t.privileges, t.hash_scheme, (SELECT value::bigint FROM meta WHERE key = 'pruned_through') "
                           "FROM changes c LEFT JOIN access_tokens t ON t.id = c.token_id WHERE c.seq > $1 ORDER BY c.seq",
                           {pg::number(after)});
}

void pg_state::load_snapshot(pg::connection& c) {
    // The position first: a change committed while loading is applied again later, which
    // changes nothing (each change row is applied from the current row).
    const std::int64_t seq = c.exec("SELECT coalesce(max(seq), 0) FROM changes").int64(0, 0);
    publish_directory(load_directory(c));
    const auto r =
        c.exec("SELECT id, secret_hash, user_id, expiration_time, enabled, privileges, hash_scheme FROM access_tokens");
    std::vector<token_record> rows;
    rows.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
        token_id id;
        secret_hash hash;
        r.bytes(i, 0, id.bytes, sizeof id.bytes, "an access token id");
        r.bytes(i, 1, hash.bytes, sizeof hash.bytes, "an access token hash");
        rows.push_back(record_of(id, hash, scheme_of(r.int64(i, 6)), static_cast<std::uint64_t>(r.int64(i, 2)),
                                 r.opt_int64(i, 3), r.boolean(i, 4), r.opt_str(i, 5)));
    }
    index_replace(rows);
    applied_seq_ = seq;
    if (on_snapshot_) on_snapshot_(seq);
}

void pg_state::prune(pg::connection& c) {
    // One statement: the rows and the mark go together, so a reader sees both or neither.
    c.exec("WITH gone AS (DELETE FROM changes WHERE seq <= (SELECT max(seq) FROM changes) - $1 RETURNING seq) "
           "UPDATE meta SET value = greatest(value::bigint, (SELECT max(seq) FROM gone))::text "
           "WHERE key = 'pruned_through' AND EXISTS (SELECT 1 FROM gone)",
           {pg::number(change_log_retention_)});
}

void pg_state::catch_up(pg::connection& c) {
    // The round trip outside the lock, so this server's own writes can apply themselves
    // meanwhile; rows they applied are skipped below, and every later row was read after
    // their commits (a change is logged only once every earlier one has committed or
    // rolled back: the writers' lock).
    const pg::result r = read_changes(c, applied_seq_.load(std::memory_order_acquire));
    std::lock_guard lock(apply_mu_);
    apply_changes(c, r);
}

void pg_state::refresh() {
    std::lock_guard lock(db_mu_);
    for (int attempt = 0;; ++attempt) {
        pg::connection& c = writer();
        try {
            catch_up(c);
            break;
        } catch (const pg::error& e) {
            if (!e.connection_lost() && c.ok()) throw;
            db_.reset();
            if (attempt == 1) throw storage_error(storage_error::kind::unavailable, "the database cannot be reached; try again shortly");
        }
    }
}

void pg_state::apply_changes(pg::connection& c, const pg::result& r) {
    // Changes after this server's position were pruned: they cannot be applied one by one.
    if (r.rows() > 0 && r.int64(0, 9) > applied_seq_) return load_snapshot(c);
    bool directory_changed = false;
    std::int64_t applied = 0;
    for (int i = 0; i < r.rows(); ++i) {
        if (r.int64(i, 0) <= applied_seq_) continue;  // applied by its own writer meanwhile
        ++applied;
        const auto kind = parse_change_kind(r.str(i, 1));
        if (!kind) {
            // A newer server's kind of change: skipping it could keep a removed user's access,
            // so this server stops here; with nothing applied it turns stale (503) until it is
            // upgraded.
            if (directory_changed) publish_directory(load_directory(c));
            throw std::runtime_error("the change log holds a change of kind '" + r.str(i, 1).substr(0, 32) +
                                     "', which this server does not know: upgrade it");
        }
        if (*kind != change_kind::token) {
            directory_changed = true;  // (the directory is reloaded whole: see docs/postgresql.md)
        } else if (!r.null(i, 2)) {
            token_id id;
            r.bytes(i, 2, id.bytes, sizeof id.bytes, "a change's token id");
            if (r.null(i, 3)) {
                index_erase(id);
            } else {
                secret_hash hash;
                r.bytes(i, 3, hash.bytes, sizeof hash.bytes, "an access token hash");
                index_put(record_of(id, hash, scheme_of(r.int64(i, 8)), static_cast<std::uint64_t>(r.int64(i, 4)),
                                         r.opt_int64(i, 5), r.boolean(i, 6), r.opt_str(i, 7)));
            }
        }
        applied_seq_ = r.int64(i, 0);
    }
    // (A deleted user's tokens have change rows of their own: delete_user writes them.)
    if (directory_changed) publish_directory(load_directory(c));
    last_changes_.store(applied, std::memory_order_relaxed);
    synced_at_.store(steady_ns(), std::memory_order_release);
}

void pg_state::follow() {
    // Every server prunes the log it follows (deleting is idempotent; the mark only grows).
    constexpr std::int64_t prune_every = 2'000'000'000;  // ns
    std::int64_t next_prune = 0;
    std::unique_ptr<pg::connection> c;
    bool read_log = true;
    std::string last_error;  // reported once until another one, or a success, comes
    for (;;) {
        {
            std::unique_lock lock(stop_mu_);
            if (stop_) return;
        }
        try {
            if (!c || !c->ok()) {
                c.reset();
                c = std::make_unique<pg::connection>(conninfo_);
                c->exec(std::string("LISTEN ") + channel);
                read_log = true;
            }
            // At once after (re)connecting, then on news of a change not yet applied, or
            // after a second without news (a lost notification costs at most that).
            if (read_log) catch_up(*c);
            if (const auto now = steady_ns(); now >= next_prune) {
                prune(*c);
                next_prune = now + prune_every;
            }
            last_error.clear();
            unreachable_.store(false, std::memory_order_release);
            read_log = true;
            pollfd p{PQsocket(c->raw()), POLLIN, 0};
            // A second at most, and well within --max-staleness, so that a quiet database never
            // makes a healthy server look stale.
            const auto wait = std::min<std::int64_t>(1000, std::max<std::int64_t>(10, max_staleness_.count() / 4));
            if (::poll(&p, 1, static_cast<int>(wait)) > 0) {
                if (PQconsumeInput(c->raw()) == 0) {
                    c.reset();
                    continue;
                }
                // Each notification names its change: those this server applied already
                // (its own writes) need no read, only the proof that the database is there.
                read_log = false;
                while (PGnotify* n = PQnotifies(c->raw())) {
                    const std::int64_t seq = std::atoll(n->extra);
                    if (seq <= 0 || seq > applied_seq_.load(std::memory_order_acquire)) read_log = true;
                    PQfreemem(n);
                }
                if (!read_log) {
                    synced_at_.store(steady_ns(), std::memory_order_release);
                } else {
                    // Under a burst of writes, one read a millisecond serves the changes that
                    // arrive meanwhile (a revocation waits that much longer, at most); a
                    // stop ends the wait at once.
                    std::unique_lock lock(stop_mu_);
                    stop_cv_.wait_for(lock, std::chrono::milliseconds(1), [this] { return stop_; });
                }
            }
        } catch (const std::exception& e) {
            // Not reached (no connection, or one that broke) or reached and refused to go on.
            unreachable_.store(!c || !c->ok(), std::memory_order_release);
            if (on_follow_error_ && last_error != e.what()) on_follow_error_(e.what());
            last_error = e.what();
            c.reset();
            std::unique_lock lock(stop_mu_);
            stop_cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stop_; });
        }
    }
}

}  // namespace tokenauth::server
