// tokenauth::postgres::replica: the access tokens of a tokenauth-server PostgreSQL database,
// followed live, as a token_store for tokenauth::validator in another process.
//
// It loads a snapshot (one REPEATABLE READ transaction: the log's position and every token),
// then follows the server's change log: LISTEN tokenauth_changes wakes it, the sequence is the
// truth, and it reads the log at least every poll_interval when notifications stop. It reads
// only the views the server's schema v6 grants to the role tokenauth_replica (no password
// hashes, no session bindings). It fails closed: stale() (and so the validator's
// errc::store_stale) once it has not caught up for max_staleness, a change of a kind it does
// not know, or a schema newer than it knows. When its position falls below what the server
// pruned from the log, it loads a snapshot again.
//
// Access tokens by default. Sessions are an explicit opt-in (replica_options::accept_sessions,
// and a validator given the servers' session key and this replica as its session users):
// whoever holds that key can mint a session for any user, so a service given it must be
// trusted as much as the servers. Validations do not write last-used times back.
//
// Needs libpq: link the CMake target tokenauth::postgres (find_package(tokenauth CONFIG
// COMPONENTS postgres)) or pkg-config tokenauth-postgres.
#pragma once

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "../privilege.hpp"
#include "../store.hpp"
#include "../validator.hpp"

namespace tokenauth::postgres {

/// The newest server schema whose change log this replica understands.
inline constexpr std::int64_t known_schema_version = 6;

struct replica_options {
    std::string conninfo;                              ///< libpq URI or key=value string
    std::chrono::milliseconds max_staleness{5000};     ///< stale() after this long without catching up
    std::chrono::milliseconds poll_interval{1000};     ///< the longest wait for a notification (and at most max_staleness / 4)
    std::chrono::milliseconds reconnect_delay{250};    ///< after a failure, before trying again
    /// Also follow users' session state (generation, binding), so that a validator given the
    /// servers' session key and this replica as its session_user_source accepts sessions.
    /// Whoever holds that key can mint a session for any user: opt in only where it is kept
    /// as safe as on the servers.
    bool accept_sessions = false;
};

struct replica_stats {
    std::uint64_t snapshot_loads = 0;   ///< full loads (the first, and after falling below the pruned mark)
    std::uint64_t changes_applied = 0;  ///< change-log rows applied one by one
};

namespace detail {

/// One libpq connection, closed on destruction.
class pq_connection {
public:
    explicit pq_connection(const std::string& conninfo) : c_(PQconnectdb(conninfo.c_str())) {
        if (PQstatus(c_) != CONNECTION_OK) {
            const std::string why = PQerrorMessage(c_);
            PQfinish(c_);
            c_ = nullptr;
            throw std::runtime_error("tokenauth replica: cannot connect: " + why);
        }
    }
    ~pq_connection() {
        if (c_ != nullptr) PQfinish(c_);
    }
    pq_connection(const pq_connection&) = delete;
    pq_connection& operator=(const pq_connection&) = delete;
    PGconn* raw() const noexcept { return c_; }

    /// Runs sql with text parameters; the result, or std::runtime_error.
    std::unique_ptr<PGresult, void (*)(PGresult*)> exec(const char* sql, const std::vector<std::string>& params = {}) {
        std::vector<const char*> values;
        for (const auto& p : params) values.push_back(p.c_str());
        PGresult* r = PQexecParams(c_, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0);
        std::unique_ptr<PGresult, void (*)(PGresult*)> out(r, PQclear);
        const ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            throw std::runtime_error(std::string("tokenauth replica: ") + PQerrorMessage(c_));
        return out;
    }

private:
    PGconn* c_;
};

/// A bytea column in text form ("\x..." hex) into exactly n bytes; false when it is not.
inline bool bytea_to(const char* text, std::uint8_t* out, std::size_t n) noexcept {
    if (std::strlen(text) != 2 + 2 * n || text[0] != '\\' || text[1] != 'x') return false;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < n; ++i) {
        const int hi = nibble(text[2 + 2 * i]), lo = nibble(text[3 + 2 * i]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    return true;
}

struct token_id_hash {
    std::size_t operator()(const token_id& id) const noexcept { return static_cast<std::size_t>(id.hash()); }
};

}  // namespace detail

class replica final : public token_store, public session_user_source {
public:
    /// Connects, loads the first snapshot and starts following. Throws std::runtime_error
    /// when the database cannot be reached or its schema is not one this replica knows.
    explicit replica(replica_options options) : opts_(std::move(options)) {
        auto c = std::make_unique<detail::pq_connection>(opts_.conninfo);
        c->exec("LISTEN tokenauth_changes");
        load_snapshot(*c);
        follower_ = std::thread([this, c = std::move(c)]() mutable { follow(std::move(c)); });
    }

    ~replica() override {
        {
            std::lock_guard lock(stop_mu_);
            stop_ = true;
        }
        stop_cv_.notify_all();
        if (follower_.joinable()) follower_.join();
    }

    replica(const replica&) = delete;
    replica& operator=(const replica&) = delete;

    bool find(const token_id& id, token_record& out) const noexcept override { return tokens_.find(id, out); }
    lookup_result verify(const access_token& t, token_record& out) const noexcept override {
        return tokens_.verify(t, out);
    }
    /// verify() alone: a replica keeps no last-used times.
    lookup_result verify_use(const access_token& t, token_record& out, timestamp) const noexcept override {
        return tokens_.verify(t, out);
    }
    bool stale() const noexcept override {
        return steady_ns() - synced_at_.load(std::memory_order_acquire) >
               std::chrono::duration_cast<std::chrono::nanoseconds>(opts_.max_staleness).count();
    }

    /// A user's session state; false for an unknown user, or always without accept_sessions.
    bool session_user_of(std::uint64_t auth_id, session_user& out) const noexcept override {
        if (!opts_.accept_sessions) return false;
        std::shared_lock lock(users_mu_);
        const auto it = users_.find(auth_id);
        if (it == users_.end()) return false;
        out = it->second;
        return true;
    }

    /// The last change-log sequence applied: every write the server logged up to it is seen.
    std::int64_t applied_seq() const noexcept { return applied_seq_.load(std::memory_order_acquire); }
    replica_stats stats() const noexcept {
        return {snapshot_loads_.load(std::memory_order_relaxed), changes_applied_.load(std::memory_order_relaxed)};
    }
    /// The privileges of a principal's scope index (every privilege for an unrestricted token).
    privilege_set scope(std::uint32_t index) const noexcept { return scopes_.scope(index); }
    /// The number of tokens held.
    std::size_t size() const noexcept { return tokens_.size(); }
    /// What stopped the follower last ("" while it follows).
    std::string last_error() const {
        std::lock_guard lock(error_mu_);
        return last_error_;
    }

private:
    /// A monotonic clock in ns. stale() reads it on every validation, so where Linux offers
    /// the coarse clock (a few ns, millisecond resolution: ample for a bound of seconds) it is
    /// that one.
    static std::int64_t steady_ns() noexcept {
#ifdef CLOCK_MONOTONIC_COARSE
        timespec ts{};
        ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
#else
        return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
#endif
    }

    /// The server's schema version and pruned mark; throws when the schema is newer.
    std::int64_t check_state(detail::pq_connection& c) {
        const auto r = c.exec("SELECT schema_version, pruned_through FROM tokenauth_replica_state");
        if (PQntuples(r.get()) != 1) throw std::runtime_error("tokenauth replica: no state row");
        const std::int64_t version = std::atoll(PQgetvalue(r.get(), 0, 0));
        if (version > known_schema_version)
            throw std::runtime_error("tokenauth replica: the database's schema v" + std::to_string(version) +
                                     " is newer than this replica knows (v" + std::to_string(known_schema_version) + ")");
        return std::atoll(PQgetvalue(r.get(), 0, 1));
    }

    /// The record of a token row (columns from `first`: id, secret_hash, hash_scheme, user_id,
    /// expiration_time, enabled, privileges).
    token_record record_of(PGresult* r, int row, int first) {
        token_record rec;
        if (!detail::bytea_to(PQgetvalue(r, row, first), rec.id.bytes, sizeof rec.id.bytes) ||
            !detail::bytea_to(PQgetvalue(r, row, first + 1), rec.hash.bytes, sizeof rec.hash.bytes))
            throw std::runtime_error("tokenauth replica: a token row is corrupt");
        const long scheme = std::atol(PQgetvalue(r, row, first + 2));
        if (scheme != static_cast<long>(hash_scheme::blake2b_v1) && scheme != static_cast<long>(hash_scheme::sha256_v2))
            throw std::runtime_error("tokenauth replica: a token row has an unknown hash scheme");
        rec.scheme = static_cast<hash_scheme>(scheme);
        rec.user_auth_id = std::strtoull(PQgetvalue(r, row, first + 3), nullptr, 10);
        rec.expires_at = PQgetisnull(r, row, first + 4) ? never_expires : std::atoll(PQgetvalue(r, row, first + 4));
        rec.enabled = PQgetvalue(r, row, first + 5)[0] == 't';
        if (!PQgetisnull(r, row, first + 6)) {
            const auto names = parse_privilege_list(PQgetvalue(r, row, first + 6));
            if (!names) throw std::runtime_error("tokenauth replica: a token's scope names an unknown privilege");
            privilege_set s;
            for (privilege p : *names) s.insert(p);
            rec.scope = scopes_.intern(s);
        }
        return rec;
    }

    void load_snapshot(detail::pq_connection& c) {
        c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        try {
            check_state(c);
            const auto pos = c.exec("SELECT coalesce(max(seq), 0) FROM tokenauth_replica_changes");
            const auto rows = c.exec("SELECT id, secret_hash, hash_scheme, user_id, expiration_time, enabled, privileges "
                                     "FROM tokenauth_replica_tokens");
            if (opts_.accept_sessions) load_users(c, nullptr);
            c.exec("COMMIT");
            std::unordered_set<token_id, detail::token_id_hash> present;
            for (int i = 0; i < PQntuples(rows.get()); ++i) {
                const token_record rec = record_of(rows.get(), i, 0);
                tokens_.upsert(rec);
                present.insert(rec.id);
            }
            for (const token_id& id : known_)
                if (present.count(id) == 0) tokens_.erase(id);
            known_ = std::move(present);
            applied_seq_.store(std::atoll(PQgetvalue(pos.get(), 0, 0)), std::memory_order_release);
        } catch (...) {
            PQclear(PQexec(c.raw(), "ROLLBACK"));
            throw;
        }
        snapshot_loads_.fetch_add(1, std::memory_order_relaxed);
        synced_at_.store(steady_ns(), std::memory_order_release);
    }

    /// Reads users' session state: one user's (auth_id), or everyone's (nullptr).
    void load_users(detail::pq_connection& c, const char* auth_id) {
        const auto r = auth_id == nullptr
                           ? c.exec("SELECT auth_id, generation, session_binding FROM tokenauth_replica_sessions")
                           : c.exec("SELECT auth_id, generation, session_binding FROM tokenauth_replica_sessions "
                                    "WHERE auth_id = $1",
                                    {auth_id});
        std::unordered_map<std::uint64_t, session_user> read;
        for (int i = 0; i < PQntuples(r.get()); ++i) {
            session_user u;
            u.generation = std::strtoull(PQgetvalue(r.get(), i, 1), nullptr, 10);
            if (!detail::bytea_to(PQgetvalue(r.get(), i, 2), u.binding.bytes, sizeof u.binding.bytes))
                throw std::runtime_error("tokenauth replica: a user's session binding is corrupt");
            read.emplace(std::strtoull(PQgetvalue(r.get(), i, 0), nullptr, 10), u);
        }
        std::unique_lock lock(users_mu_);
        if (auth_id == nullptr) {
            users_ = std::move(read);
        } else if (read.empty()) {
            users_.erase(std::strtoull(auth_id, nullptr, 10));  // deleted
        } else {
            users_.insert_or_assign(read.begin()->first, read.begin()->second);
        }
    }

    /// Applies every change after applied_seq(), or loads a snapshot when those were pruned.
    void catch_up(detail::pq_connection& c) {
        // The pruned mark and the changes from one snapshot of the database: a server pruning
        // in between could otherwise delete changes this read then never sees.
        c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        std::unique_ptr<PGresult, void (*)(PGresult*)> r(nullptr, PQclear);
        try {
            if (check_state(c) > applied_seq()) {
                c.exec("COMMIT");
                return load_snapshot(c);
            }
            r = c.exec("SELECT c.seq, c.kind, c.token_id, t.id, t.secret_hash, t.hash_scheme, t.user_id, "
                       "t.expiration_time, t.enabled, t.privileges, c.entity_id FROM tokenauth_replica_changes c "
                       "LEFT JOIN tokenauth_replica_tokens t ON t.id = c.token_id WHERE c.seq > $1 ORDER BY c.seq",
                       {std::to_string(applied_seq())});
            c.exec("COMMIT");
        } catch (...) {
            PQclear(PQexec(c.raw(), "ROLLBACK"));
            throw;
        }
        for (int i = 0; i < PQntuples(r.get()); ++i) {
            const std::string_view kind = PQgetvalue(r.get(), i, 1);
            if (kind == "token") {
                if (!PQgetisnull(r.get(), i, 3)) {  // the token's row as it is now
                    const token_record rec = record_of(r.get(), i, 3);
                    tokens_.upsert(rec);
                    known_.insert(rec.id);
                } else if (token_id id; detail::bytea_to(PQgetvalue(r.get(), i, 2), id.bytes, sizeof id.bytes)) {
                    tokens_.erase(id);  // deleted
                    known_.erase(id);
                }
            } else if (kind == "user" || kind == "directory") {
                // A user's sessions end with a new generation or its deletion (a legacy
                // 'directory' row names no user: everyone is read again).
                if (opts_.accept_sessions)
                    load_users(c, kind == "user" && !PQgetisnull(r.get(), i, 10) ? PQgetvalue(r.get(), i, 10) : nullptr);
            } else if (kind != "group" && kind != "group_members" && kind != "role" && kind != "role_members") {
                // A newer server's kind: skipping it could keep someone's access.
                throw std::runtime_error("tokenauth replica: the change log holds a change of kind '" +
                                         std::string(kind.substr(0, 32)) + "', which this replica does not know");
            }  // (users, groups and roles: a deleted user's tokens have change rows of their own)
            applied_seq_.store(std::atoll(PQgetvalue(r.get(), i, 0)), std::memory_order_release);
            changes_applied_.fetch_add(1, std::memory_order_relaxed);
        }
        synced_at_.store(steady_ns(), std::memory_order_release);
    }

    void set_error(const std::string& what) {
        std::lock_guard lock(error_mu_);
        last_error_ = what;
    }

    bool wait(std::chrono::milliseconds d) {
        std::unique_lock lock(stop_mu_);
        return stop_cv_.wait_for(lock, d, [this] { return stop_; });
    }

    void follow(std::unique_ptr<detail::pq_connection> c) {
        for (;;) {
            {
                std::lock_guard lock(stop_mu_);
                if (stop_) return;
            }
            try {
                if (!c || PQstatus(c->raw()) != CONNECTION_OK) {
                    c = std::make_unique<detail::pq_connection>(opts_.conninfo);
                    c->exec("LISTEN tokenauth_changes");
                }
                catch_up(*c);
                set_error("");
                pollfd p{PQsocket(c->raw()), POLLIN, 0};
                // Well within max_staleness, so that a quiet database never makes it look stale.
                const auto wait = std::min<std::int64_t>(opts_.poll_interval.count(),
                                                         std::max<std::int64_t>(10, opts_.max_staleness.count() / 4));
                const int waited = ::poll(&p, 1, static_cast<int>(wait));
                if (waited > 0 && PQconsumeInput(c->raw()) == 0) c.reset();
                if (c)
                    while (PGnotify* n = PQnotifies(c->raw())) PQfreemem(n);
            } catch (const std::exception& e) {
                set_error(e.what());
                c.reset();
                if (wait(opts_.reconnect_delay)) return;
            }
        }
    }

    replica_options opts_;
    scope_table scopes_;  // before tokens_: records name its entries
    memory_token_store tokens_;
    std::unordered_set<token_id, detail::token_id_hash> known_;  // the follower's: ids held
    mutable std::shared_mutex users_mu_;
    std::unordered_map<std::uint64_t, session_user> users_;  // with accept_sessions
    std::atomic<std::int64_t> applied_seq_{0};
    std::atomic<std::int64_t> synced_at_{0};
    std::atomic<std::uint64_t> snapshot_loads_{0};
    std::atomic<std::uint64_t> changes_applied_{0};
    mutable std::mutex error_mu_;
    std::string last_error_;
    std::mutex stop_mu_;
    std::condition_variable stop_cv_;
    bool stop_ = false;
    std::thread follower_;
};

}  // namespace tokenauth::postgres
