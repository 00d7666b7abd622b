// What every storage backend keeps in memory and publishes to readers: the directory
// snapshot, the token index, the scopes, the session key. The backends (state.hpp: SQLite;
// pg_store.hpp: PostgreSQL) derive from it and differ only in how they write and load.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>

#include "store.hpp"
#include "token_census.hpp"

namespace tokenauth::server {

class published_store : public store {
public:
    /// The current directory. Each thread keeps its own reference to the current version,
    /// so taking a snapshot touches no memory that other threads write (one shared
    /// reference count would bounce between cores on every request).
    std::shared_ptr<const directory> snapshot() const override;
    const tokenauth::memory_token_store& tokens() const noexcept override { return tokens_; }
    const tokenauth::session_key& key() const noexcept override { return key_; }
    const tokenauth::scope_table& scopes() const noexcept override { return scopes_; }
    timestamp last_used(const token_id& id) const noexcept override { return tokens_.last_used(id); }
    bool session_user_of(std::uint64_t auth_id, session_user& out) const noexcept override;

    /// The admin password the first start generated, once (to print it); none after that,
    /// and none when it was given or the store already existed.
    std::optional<secret_text> take_generated_admin_password() noexcept {
        return std::exchange(generated_admin_password_, std::nullopt);
    }
    /// Stored names that have no uniqueness key (name_keys.hpp), as of the last directory
    /// load; logged at start.
    std::vector<std::string> name_collisions() const;

    /// The tokens by state and by time to expiry, as of now (token_census.hpp).
    token_census::counts token_counts() const { return census_.read(system_clock().now()); }
    /// A follower of a shared database: how long since it last knew itself caught up, how
    /// many changes its last read of the change log applied, and its totals.
    struct follower_status {
        double lag_seconds = 0;
        std::uint64_t last_changes = 0;
        std::uint64_t snapshot_loads = 0;   ///< the first load, and one per fall below the pruned mark
        std::uint64_t changes_applied = 0;  ///< change-log rows applied one by one
        std::uint64_t writes_grouped = 0;   ///< this server's token writes committed with others (group commit)
    };
    /// None for a store no other server writes.
    virtual std::optional<follower_status> follower() const noexcept { return std::nullopt; }

protected:
    std::optional<secret_text> generated_admin_password_;  ///< set by a first start's seeding
    void publish_directory(std::shared_ptr<directory> d) noexcept;
    /// The record the index keeps for a stored token row.
    token_record record_of(const token_id& id, const secret_hash& hash, hash_scheme scheme, std::uint64_t user,
                           std::optional<timestamp> expiration, bool enabled,
                           const std::optional<std::string>& privileges_text,
                           const std::optional<std::string>& allowed_cidrs);
    /// The index's network entry for stored bounds (0 for none); interns them when new, so
    /// call it before the commit. Throws std::runtime_error for corrupt text.
    std::uint32_t network_of(const std::optional<std::string>& allowed_cidrs);
    /// A stored scheme number as a hash_scheme; throws std::runtime_error for any other.
    static hash_scheme scheme_of(std::int64_t stored);

    /// What the index has for the database since the last batch: last uses, and the
    /// current-scheme hashes of legacy records whose tokens validated.
    struct pending_batch {
        std::vector<std::pair<token_id, timestamp>> uses;
        std::vector<std::pair<token_id, secret_hash>> upgrades;
        bool empty() const noexcept { return uses.empty() && upgrades.empty(); }
    };
    pending_batch take_pending();
    /// After the batch's commit: the index takes the upgraded hashes.
    void applied(const pending_batch& batch) noexcept;

    // The token index changes only through these three, which keep the census with it.
    /// Inserts or replaces a record (throws std::bad_alloc only when the shard was not
    /// reserved: memory_token_store::reserve_for).
    void index_put(const token_record& r);
    void index_erase(const token_id& id) noexcept;
    /// The first load into an empty index: index_load for each stored token, then
    /// index_loaded() once.
    void index_load(const token_record& r);
    void index_loaded();
    /// Makes the index hold exactly these records (a snapshot loaded again): the others leave.
    void index_replace(const std::vector<token_record>& records);
    /// The index takes a stored row's expiration and state (after a modify's commit), and
    /// its network entry when given (from network_of, before the commit).
    void apply_token_state(const token_row& row, std::optional<std::uint32_t> network = std::nullopt) noexcept;

    tokenauth::scope_table scopes_;  // before tokens_: records name its entries
    tokenauth::memory_token_store tokens_;
    tokenauth::session_key key_;

    /// A copy of the current directory for a change (sharing all it does not change); give
    /// it to publish_directory when the change is committed.
    std::shared_ptr<directory> next_directory() const;

private:
    /// Moves one token's census entry from before (when it was indexed) to after (when it
    /// is); a census that cannot allocate stays as it was (the metric is off by one, the
    /// index is right).
    void recount(const std::optional<token_record>& before, const std::optional<token_record>& after) noexcept;

    mutable token_census census_;
    mutable std::shared_mutex snap_mu_;
    std::shared_ptr<const directory> snap_;
    std::atomic<std::uint64_t> snap_version_{0};  ///< bumped with every new snap_
};

/// Reads a session key file (64 hex digits and a newline); false when it does not exist.
/// Throws std::runtime_error when it cannot be read or is malformed.
bool read_session_key_file(const std::string& path, session_key& key);
/// Creates a session key file (0600, exclusive, synced). Throws std::runtime_error.
void write_session_key_file(const std::string& path, const session_key& key);

/// What a first start writes, whatever the backend.
struct first_start {
    std::string admin_hash;  ///< Argon2id of the admin password
    std::optional<secret_text> generated_password;
    std::string machine_sid;
    session_binding admin_binding, guest_binding;
};
/// The admin password (given, or generated and reported), a machine SID and bindings.
first_start prepare_first_start(const std::optional<std::string>& admin_password);

}  // namespace tokenauth::server
