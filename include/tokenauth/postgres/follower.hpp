// tokenauth::postgres::follower: follows a tokenauth-server PostgreSQL database's change log,
// the one piece of code that does so. tokenauth::postgres::replica (tokens for a validator in
// another process) extends it, and so does the reference server's own PostgreSQL backend,
// which adds the directory.
//
// How it follows: a snapshot first (one REPEATABLE READ transaction: the log's position, every
// token, and what the extension loads), then every change after that position, each with its
// token's current row. LISTEN tokenauth_changes wakes it (each notification names its change's
// sequence, so one already applied costs no read); the sequence is the truth, and it reads the
// log at least every poll interval when notifications stop. A read of the log is one statement,
// so the server's pruned mark and the changes come from one snapshot of the database; when its
// position is below that mark it loads a snapshot again. A change of a kind it does not know,
// or a schema newer than it knows, stops it: skipping a change could keep someone's access.
// stale() turns true when it has not caught up for max_staleness.
//
// It reads only the views the server's schema grants to the role tokenauth_replica.
//
// Needs libpq: link the CMake target tokenauth::postgres.
#pragma once

#include "../detail/config.hpp"

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
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "../store.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN
namespace postgres {

/// The newest server schema whose change log this library understands.
inline constexpr std::int64_t known_schema_version = 8;

struct follower_options {
    std::string conninfo;                            ///< libpq URI or key=value string
    std::chrono::milliseconds max_staleness{5000};   ///< stale() after this long without catching up
    std::chrono::milliseconds poll_interval{1000};   ///< the longest wait for a notification (and at most max_staleness / 4)
    std::chrono::milliseconds reconnect_delay{250};  ///< after a failure, before trying again
};

struct follower_stats {
    std::uint64_t snapshot_loads = 0;   ///< full loads (the first, and after falling below the pruned mark)
    std::uint64_t changes_applied = 0;  ///< change-log rows applied one by one
    std::uint64_t last_batch = 0;       ///< rows the last read of the log applied
};

namespace detail {

using pq_result = std::unique_ptr<PGresult, void (*)(PGresult*)>;

/// Runs sql with text parameters on c; the result, or std::runtime_error.
inline pq_result pq_exec(PGconn* c, const char* sql, const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p.c_str());
    pq_result r(PQexecParams(c, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0),
                PQclear);
    const ExecStatusType st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        throw std::runtime_error(std::string("tokenauth follower: ") + PQerrorMessage(c));
    return r;
}

/// One libpq connection, closed on destruction.
class pq_connection {
public:
    explicit pq_connection(const std::string& conninfo) : c_(PQconnectdb(conninfo.c_str())) {
        if (c_ == nullptr || PQstatus(c_) != CONNECTION_OK) {
            const std::string why = c_ != nullptr ? PQerrorMessage(c_) : "out of memory";
            PQfinish(c_);
            c_ = nullptr;
            throw std::runtime_error("tokenauth follower: cannot connect: " + why);
        }
    }
    ~pq_connection() { PQfinish(c_); }
    pq_connection(const pq_connection&) = delete;
    pq_connection& operator=(const pq_connection&) = delete;
    PGconn* raw() const noexcept { return c_; }
    bool ok() const noexcept { return PQstatus(c_) == CONNECTION_OK; }

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

/// A monotonic clock in ns. stale() reads it on every validation, so where Linux offers the
/// coarse clock (a few ns, millisecond resolution: ample for a bound of seconds) it is that one.
inline std::int64_t steady_ns() noexcept {
#ifdef CLOCK_MONOTONIC_COARSE
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
#else
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
#endif
}

}  // namespace detail

/// An access token's row as the server stores it (the view tokenauth_replica_tokens).
struct token_row_view {
    token_id id;
    secret_hash hash;
    hash_scheme scheme = hash_scheme::sha256_v2;
    std::uint64_t user_auth_id = 0;
    std::optional<std::int64_t> expiration;  ///< seconds since the epoch; none: never expires
    bool enabled = true;
    const char* privileges = nullptr;  ///< the scope as the server writes it; nullptr: unrestricted
    const char* allowed_cidrs = nullptr;  ///< network bounds (parse_network_bounds); nullptr: any address
};

/// The kinds of change the log holds besides tokens: the entity is a user's, group's or
/// role's (an auth id, or a role's name). A legacy 'directory' row names none.
enum class entity_kind { user, group, group_members, role, role_members, directory };

/// The change follower. Extensions override the hooks; they are called with the apply lock
/// held, from the follower's thread or from a thread that called catch_up().
class follower {
public:
    follower(const follower&) = delete;
    follower& operator=(const follower&) = delete;
    virtual ~follower() { stop(); }

    /// True when the follower has not caught up for max_staleness (or has never started).
    bool stale() const noexcept {
        return detail::steady_ns() - synced_at_.load(std::memory_order_acquire) >
               std::chrono::duration_cast<std::chrono::nanoseconds>(opts_.max_staleness).count();
    }
    /// Seconds since the last catch-up.
    double lag_seconds() const noexcept {
        return static_cast<double>(detail::steady_ns() - synced_at_.load(std::memory_order_acquire)) / 1e9;
    }
    /// The last change-log sequence applied: every write the server logged up to it is seen.
    std::int64_t applied_seq() const noexcept { return applied_seq_.load(std::memory_order_acquire); }
    follower_stats stats() const noexcept {
        return {snapshot_loads_.load(std::memory_order_relaxed), changes_applied_.load(std::memory_order_relaxed),
                last_batch_.load(std::memory_order_relaxed)};
    }
    /// What stopped the follower last ("" while it follows).
    std::string last_error() const {
        std::lock_guard lock(error_mu_);
        return last_error_;
    }
    /// The last failure was not reaching the database (rather than a change refused).
    bool unreachable() const noexcept { return unreachable_.load(std::memory_order_acquire); }

    /// Applies every change after applied_seq() (or loads a snapshot when those were pruned),
    /// reading on c, a connection the caller owns and is not in a transaction. Throws
    /// std::runtime_error. The read runs unlocked, so that a writer may meanwhile apply its
    /// own change (changes at or below applied_seq() are skipped).
    void catch_up(PGconn* c) {
        const detail::pq_result r = read_changes(c);
        std::lock_guard lock(apply_mu_);
        apply(c, r.get());
    }

    /// catch_up() for a caller that holds the apply lock.
    void catch_up_locked(PGconn* c) { apply(c, read_changes(c).get()); }

    /// The lock under which changes are applied: a writer that applies its own change holds it.
    std::unique_lock<std::mutex> lock_apply() { return std::unique_lock<std::mutex>(apply_mu_); }

    /// A writer's own change seq, applied by it under lock_apply(): the next one after applied_seq().
    void applied_own(std::int64_t seq) noexcept {
        applied_seq_.store(seq, std::memory_order_release);
        synced_at_.store(detail::steady_ns(), std::memory_order_release);
    }

protected:
    explicit follower(follower_options options) : opts_(std::move(options)) {}

    /// Connects, loads the first snapshot and, with run, starts following. The extension's
    /// constructor calls it last (the hooks are virtual). Throws std::runtime_error.
    void start(bool run = true) {
        auto c = std::make_unique<detail::pq_connection>(opts_.conninfo);
        detail::pq_exec(c->raw(), "LISTEN tokenauth_changes");
        {
            std::lock_guard lock(apply_mu_);
            load_snapshot(c->raw());
        }
        if (run) thread_ = std::thread([this, c = std::move(c)]() mutable { follow(std::move(c)); });
    }

    /// Stops following. The extension's destructor calls it first: the thread calls its hooks.
    void stop() noexcept {
        {
            std::lock_guard lock(stop_mu_);
            stop_ = true;
        }
        stop_cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    // The hooks (the apply lock held).
    /// In a snapshot's transaction, after its tokens were read: what else the extension loads.
    virtual void snapshot_begin(PGconn*) {}
    /// Each token of a snapshot.
    virtual void snapshot_token(const token_row_view& t) = 0;
    /// The snapshot is complete, as of change seq.
    virtual void snapshot_end(std::int64_t seq) = 0;
    /// A token created or changed (its row as it is now).
    virtual void token_changed(const token_row_view& t) = 0;
    /// A token deleted.
    virtual void token_deleted(const token_id& id) = 0;
    /// Another kind of change; entity is nullptr when the row names none.
    virtual void entity_changed(PGconn*, entity_kind, const char* /*entity*/) {}
    /// After a read of the log applied changes (including before a change it refused).
    virtual void batch_end(PGconn*) {}
    /// Every turn of the follower's loop, after a catch-up (the server prunes the log here).
    virtual void maintain(PGconn*) {}
    /// What stopped the follower, told once per distinct message.
    virtual void on_error(const std::string&) {}

private:
    static std::optional<entity_kind> parse_kind(std::string_view k) noexcept {
        if (k == "user") return entity_kind::user;
        if (k == "group") return entity_kind::group;
        if (k == "group_members") return entity_kind::group_members;
        if (k == "role") return entity_kind::role;
        if (k == "role_members") return entity_kind::role_members;
        if (k == "directory") return entity_kind::directory;
        return std::nullopt;
    }

    static void check_schema(const char* version_text) {
        const std::int64_t version = std::atoll(version_text);
        if (version > known_schema_version)
            throw std::runtime_error("the database's schema v" + std::to_string(version) +
                                     " is newer than this follower knows (v" + std::to_string(known_schema_version) + ")");
    }

    /// The token row whose columns start at first: id, secret_hash, hash_scheme, user_id,
    /// expiration_time, enabled, privileges, allowed_cidrs.
    static token_row_view token_of(PGresult* r, int row, int first) {
        token_row_view t;
        if (!detail::bytea_to(PQgetvalue(r, row, first), t.id.bytes, sizeof t.id.bytes) ||
            !detail::bytea_to(PQgetvalue(r, row, first + 1), t.hash.bytes, sizeof t.hash.bytes))
            throw std::runtime_error("a token row is corrupt");
        const long scheme = std::atol(PQgetvalue(r, row, first + 2));
        if (scheme != static_cast<long>(hash_scheme::blake2b_v1) && scheme != static_cast<long>(hash_scheme::sha256_v2))
            throw std::runtime_error("a token row has an unknown hash scheme");
        t.scheme = static_cast<hash_scheme>(scheme);
        t.user_auth_id = std::strtoull(PQgetvalue(r, row, first + 3), nullptr, 10);
        if (!PQgetisnull(r, row, first + 4)) t.expiration = std::atoll(PQgetvalue(r, row, first + 4));
        t.enabled = PQgetvalue(r, row, first + 5)[0] == 't';
        if (!PQgetisnull(r, row, first + 6)) t.privileges = PQgetvalue(r, row, first + 6);
        if (!PQgetisnull(r, row, first + 7)) t.allowed_cidrs = PQgetvalue(r, row, first + 7);
        return t;
    }

    /// The state (schema version, pruned mark) and every change after applied_seq(), each with
    /// its token's row: one statement, so one snapshot of the database. A row is always there
    /// (the state's), its change columns null when there is no change.
    detail::pq_result read_changes(PGconn* c) const {
        return detail::pq_exec(
            c,
            "SELECT s.schema_version, s.pruned_through, c.seq, c.kind, c.token_id, c.entity_id, t.id, t.secret_hash, "
            "t.hash_scheme, t.user_id, t.expiration_time, t.enabled, t.privileges, t.allowed_cidrs "
            "FROM tokenauth_replica_state s "
            "LEFT JOIN tokenauth_replica_changes c ON c.seq > $1 "
            "LEFT JOIN tokenauth_replica_tokens t ON t.id = c.token_id ORDER BY c.seq",
            {std::to_string(applied_seq())});
    }

    void load_snapshot(PGconn* c) {
        detail::pq_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        std::int64_t seq = 0;
        detail::pq_result rows(nullptr, PQclear);
        try {
            const auto state = detail::pq_exec(c, "SELECT schema_version FROM tokenauth_replica_state");
            if (PQntuples(state.get()) != 1) throw std::runtime_error("the database has no state row");
            check_schema(PQgetvalue(state.get(), 0, 0));
            seq = std::atoll(PQgetvalue(detail::pq_exec(c, "SELECT coalesce(max(seq), 0) FROM tokenauth_replica_changes").get(), 0, 0));
            rows = detail::pq_exec(c, "SELECT id, secret_hash, hash_scheme, user_id, expiration_time, enabled, privileges, "
                                      "allowed_cidrs FROM tokenauth_replica_tokens");
            snapshot_begin(c);
            detail::pq_exec(c, "COMMIT");
        } catch (...) {
            PQclear(PQexec(c, "ROLLBACK"));
            throw;
        }
        for (int i = 0; i < PQntuples(rows.get()); ++i) snapshot_token(token_of(rows.get(), i, 0));
        snapshot_end(seq);
        applied_seq_.store(seq, std::memory_order_release);
        snapshot_loads_.fetch_add(1, std::memory_order_relaxed);
        synced_at_.store(detail::steady_ns(), std::memory_order_release);
    }

    void apply(PGconn* c, PGresult* r) {
        if (PQntuples(r) < 1) throw std::runtime_error("the database has no state row");
        check_schema(PQgetvalue(r, 0, 0));
        // Changes after this position were pruned: they cannot be applied one by one.
        if (!PQgetisnull(r, 0, 1) && std::atoll(PQgetvalue(r, 0, 1)) > applied_seq()) return load_snapshot(c);
        std::uint64_t applied = 0;
        for (int i = 0; i < PQntuples(r) && !PQgetisnull(r, i, 2); ++i) {
            const std::int64_t seq = std::atoll(PQgetvalue(r, i, 2));
            if (seq <= applied_seq()) continue;  // applied by its own writer meanwhile
            const std::string_view kind = PQgetvalue(r, i, 3);
            if (kind == "token") {
                if (!PQgetisnull(r, i, 6)) {
                    token_changed(token_of(r, i, 6));  // the row as it is now
                } else if (token_id id; detail::bytea_to(PQgetvalue(r, i, 4), id.bytes, sizeof id.bytes)) {
                    token_deleted(id);
                }
            } else if (const auto k = parse_kind(kind)) {
                entity_changed(c, *k, PQgetisnull(r, i, 5) ? nullptr : PQgetvalue(r, i, 5));
            } else {
                if (applied > 0) batch_end(c);
                throw std::runtime_error("the change log holds a change of kind '" + std::string(kind.substr(0, 32)) +
                                         "', which this follower does not know: upgrade it");
            }
            applied_seq_.store(seq, std::memory_order_release);
            ++applied;
        }
        if (applied > 0) batch_end(c);
        changes_applied_.fetch_add(applied, std::memory_order_relaxed);
        last_batch_.store(applied, std::memory_order_relaxed);
        synced_at_.store(detail::steady_ns(), std::memory_order_release);
    }

    void set_error(const std::string& what) {
        {
            std::lock_guard lock(error_mu_);
            if (last_error_ == what) return;
            last_error_ = what;
        }
        if (!what.empty()) on_error(what);
    }

    /// Waits d, or less when stopped; true when stopped.
    bool wait(std::chrono::milliseconds d) {
        std::unique_lock lock(stop_mu_);
        return stop_cv_.wait_for(lock, d, [this] { return stop_; });
    }

    void follow(std::unique_ptr<detail::pq_connection> c) {
        bool read_log = true;
        for (;;) {
            {
                std::lock_guard lock(stop_mu_);
                if (stop_) return;
            }
            try {
                if (!c || !c->ok()) {
                    c.reset();
                    c = std::make_unique<detail::pq_connection>(opts_.conninfo);
                    detail::pq_exec(c->raw(), "LISTEN tokenauth_changes");
                    read_log = true;
                }
                // At once after (re)connecting, then on news of a change not yet applied, or
                // after a poll interval without news (a lost notification costs at most that).
                if (read_log) catch_up(c->raw());
                maintain(c->raw());
                set_error("");
                unreachable_.store(false, std::memory_order_release);
                read_log = true;
                pollfd p{PQsocket(c->raw()), POLLIN, 0};
                // Well within max_staleness, so that a quiet database never makes it look stale.
                const auto wait_ms = std::min<std::int64_t>(opts_.poll_interval.count(),
                                                            std::max<std::int64_t>(10, opts_.max_staleness.count() / 4));
                if (::poll(&p, 1, static_cast<int>(wait_ms)) > 0) {
                    if (PQconsumeInput(c->raw()) == 0) {
                        c.reset();
                        continue;
                    }
                    // Each notification names its change: one applied already (a writer's own)
                    // needs no read, only the proof that the database is there.
                    read_log = false;
                    while (PGnotify* n = PQnotifies(c->raw())) {
                        const std::int64_t seq = std::atoll(n->extra);
                        if (seq <= 0 || seq > applied_seq()) read_log = true;
                        PQfreemem(n);
                    }
                    if (!read_log) {
                        synced_at_.store(detail::steady_ns(), std::memory_order_release);
                    } else if (wait(std::chrono::milliseconds(1))) {
                        // Under a burst of writes, one read a millisecond serves the changes that
                        // arrive meanwhile (a revocation waits that much longer, at most).
                        return;
                    }
                }
            } catch (const std::exception& e) {
                // Not reached (no connection, or one that broke) or reached and refused to go on.
                unreachable_.store(!c || !c->ok(), std::memory_order_release);
                set_error(e.what());
                c.reset();
                if (wait(opts_.reconnect_delay)) return;
            }
        }
    }

    follower_options opts_;
    std::mutex apply_mu_;
    std::atomic<std::int64_t> applied_seq_{0};
    std::atomic<std::int64_t> synced_at_{0};
    std::atomic<std::uint64_t> snapshot_loads_{0};
    std::atomic<std::uint64_t> changes_applied_{0};
    std::atomic<std::uint64_t> last_batch_{0};
    std::atomic<bool> unreachable_{false};
    mutable std::mutex error_mu_;
    std::string last_error_;
    std::mutex stop_mu_;
    std::condition_variable stop_cv_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace postgres
TOKENAUTH_ABI_END
}  // namespace tokenauth
