// tokenauth::postgres::replica: the access tokens of a tokenauth-server PostgreSQL database,
// followed live, as a token_store for tokenauth::validator in another process.
//
// It is a tokenauth::postgres::follower (follower.hpp: the snapshot, the change log, the
// pruned mark, failing closed), the same follower the server itself runs, keeping the tokens
// in a memory_token_store. It reads only the views the server's schema grants to the role
// tokenauth_replica (no password hashes). stale(), and so the validator's errc::store_stale,
// turns true once it has not caught up for max_staleness, after a change of a kind it does not
// know, or with a schema newer than it knows.
//
// Access tokens by default. Sessions are an explicit opt-in (replica_options::accept_sessions,
// and a validator given the servers' session key and this replica as its session users):
// whoever holds that key can mint a session for any user, so a service given it must be
// trusted as much as the servers. Validations do not write last-used times back.
//
// Needs libpq: link the CMake target tokenauth::postgres (find_package(tokenauth CONFIG
// COMPONENTS postgres)) or pkg-config tokenauth-postgres.
#pragma once

#include "../detail/config.hpp"

#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "../privilege.hpp"
#include "../store.hpp"
#include "../validator.hpp"
#include "follower.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN
namespace postgres {

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

using replica_stats = follower_stats;

namespace detail {

struct token_id_hash {
    std::size_t operator()(const token_id& id) const noexcept { return static_cast<std::size_t>(id.hash()); }
};

}  // namespace detail

class replica final : public follower, public token_store, public session_user_source {
public:
    /// Connects, loads the first snapshot and starts following. Throws std::runtime_error
    /// when the database cannot be reached or its schema is not one this replica knows.
    explicit replica(const replica_options& options)
        : follower({options.conninfo, options.max_staleness, options.poll_interval, options.reconnect_delay}),
          accept_sessions_(options.accept_sessions) {
        try {
            start();
        } catch (const std::exception& e) {
            throw std::runtime_error(std::string("tokenauth replica: ") + e.what());
        }
    }

    ~replica() override { stop(); }

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
    bool stale() const noexcept override { return follower::stale(); }
    bool address_allowed(std::uint32_t network, const ip_address* client) const noexcept override {
        return tokens_.address_allowed(network, client);
    }

    /// A user's session state; false for an unknown user, or always without accept_sessions.
    bool session_user_of(std::uint64_t auth_id, session_user& out) const noexcept override {
        if (!accept_sessions_) return false;
        std::shared_lock lock(users_mu_);
        const auto it = users_.find(auth_id);
        if (it == users_.end()) return false;
        out = it->second;
        return true;
    }

    /// The privileges of a principal's scope index (every privilege for an unrestricted token).
    privilege_set scope(std::uint32_t index) const noexcept { return scopes_.scope(index); }
    /// The number of tokens held.
    std::size_t size() const noexcept { return tokens_.size(); }

private:
    token_record record_of(const token_row_view& t) {
        token_record rec;
        rec.id = t.id;
        rec.hash = t.hash;
        rec.scheme = t.scheme;
        rec.user_auth_id = t.user_auth_id;
        rec.expires_at = t.expiration ? *t.expiration : never_expires;
        rec.enabled = t.enabled;
        if (t.privileges != nullptr) {
            const auto names = parse_privilege_list(t.privileges);
            if (!names) throw std::runtime_error("a token's scope names an unknown privilege");
            privilege_set s;
            for (privilege p : *names) s.insert(p);
            rec.scope = scopes_.intern(s);
        }
        if (t.allowed_cidrs != nullptr) {
            network_bounds b;
            if (parse_network_bounds(t.allowed_cidrs, b) != errc::ok)
                throw std::runtime_error("a token's allowed_cidrs are corrupt");
            rec.network = tokens_.networks().intern(b);
        }
        return rec;
    }

    void snapshot_begin(PGconn* c) override {
        if (accept_sessions_) load_users(c, nullptr);
    }
    void snapshot_token(const token_row_view& t) override {
        tokens_.upsert(record_of(t));
        present_.insert(t.id);
    }
    void snapshot_end(std::int64_t) override {
        for (const token_id& id : known_)
            if (present_.count(id) == 0) tokens_.erase(id);
        known_ = std::move(present_);
        present_.clear();
    }
    void token_changed(const token_row_view& t) override {
        tokens_.upsert(record_of(t));
        known_.insert(t.id);
    }
    void token_deleted(const token_id& id) override {
        tokens_.erase(id);
        known_.erase(id);
    }
    void entity_changed(PGconn* c, entity_kind kind, const char* entity) override {
        // A user's sessions end with a new generation or its deletion (a legacy 'directory'
        // row names no user: everyone is read again). Groups and roles do not matter here,
        // and a deleted user's tokens have change rows of their own.
        if (!accept_sessions_) return;
        if (kind == entity_kind::user) load_users(c, entity);
        if (kind == entity_kind::directory) load_users(c, nullptr);
    }

    /// Reads users' session state: one user's (auth_id), or everyone's (nullptr).
    void load_users(PGconn* c, const char* auth_id) {
        const auto r = auth_id == nullptr
                           ? detail::pq_exec(c, "SELECT auth_id, generation, session_binding FROM tokenauth_replica_sessions")
                           : detail::pq_exec(c, "SELECT auth_id, generation, session_binding FROM tokenauth_replica_sessions "
                                                "WHERE auth_id = $1",
                                             {auth_id});
        std::unordered_map<std::uint64_t, session_user> read;
        for (int i = 0; i < PQntuples(r.get()); ++i) {
            session_user u;
            u.generation = std::strtoull(PQgetvalue(r.get(), i, 1), nullptr, 10);
            if (!detail::bytea_to(PQgetvalue(r.get(), i, 2), u.binding.bytes, sizeof u.binding.bytes))
                throw std::runtime_error("a user's session binding is corrupt");
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

    const bool accept_sessions_;
    scope_table scopes_;  // before tokens_: records name its entries
    memory_token_store tokens_;
    std::unordered_set<token_id, detail::token_id_hash> known_;  // ids held (the apply lock)
    std::unordered_set<token_id, detail::token_id_hash> present_;  // a snapshot's ids, while it loads
    mutable std::shared_mutex users_mu_;
    std::unordered_map<std::uint64_t, session_user> users_;  // with accept_sessions
};

}  // namespace postgres
TOKENAUTH_ABI_END
}  // namespace tokenauth
