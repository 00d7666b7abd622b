// The storage interface the handlers use: the seam where a backend plugs in (SQLite today,
// state.hpp). Reads come from an immutable directory snapshot and the in-memory token
// index; every write is one transaction, and its effect is visible to readers after its
// commit. Failures a client caused are storage_error; nothing here knows HTTP.
#pragma once

#include <tokenauth/identity.hpp>
#include <tokenauth/privilege.hpp>
#include <tokenauth/session.hpp>
#include <tokenauth/store.hpp>
#include <tokenauth/validator.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "persistent_map.hpp"
#include "secret_text.hpp"
#include "storage_error.hpp"

namespace tokenauth::server {

inline constexpr std::uint64_t admin_auth_id = 500;
inline constexpr std::uint64_t guest_auth_id = 501;
inline constexpr std::uint64_t users_group_id = 513;
inline constexpr std::uint64_t guests_group_id = 514;
inline constexpr int max_tokens_per_user = 2;

struct user_row {
    std::uint64_t auth_id = 0;
    std::string name;
    std::uint64_t primary_group = users_group_id;
    std::string uid;                            ///< "" for none
    std::optional<std::string> home_directory;  ///< null for none
    std::optional<std::string> password_hash;   ///< Argon2id string; none: cannot log in
    std::uint64_t generation = 0;               ///< session generation
    session_binding binding;                    ///< random, fixed at creation; sessions' MACs cover it
};

struct group_row {
    std::uint64_t auth_id = 0;
    std::string name;
    std::string gid;  ///< "" for none
};

struct token_row {
    token_id id;
    std::int64_t seq = 0;  ///< insertion order, the paging cursor
    std::uint64_t user = 0;
    std::uint64_t creator = 0;
    timestamp creation_time = 0;
    std::optional<timestamp> expiration_time;
    bool enabled = true;
    std::optional<tokenauth::privilege_set> privileges;  ///< the scope; none: unrestricted
    std::optional<timestamp> last_used_time;             ///< as last saved to the database
    std::optional<std::string> name;                     ///< a label for people; not in the index
    /// The networks it may be used from, canonical (tokenauth::parse_network_bounds); none: any.
    std::optional<std::string> allowed_cidrs;
    /// Set when the token was rotated: its successor and when. Such a row is a tombstone
    /// (kept token_tombstone_days for reuse detection), usable only during its grace.
    std::optional<token_id> rotated_to;
    std::optional<timestamp> rotated_time;
    token_id family;  ///< the id of the first token of its rotation chain (its own when none)
};

/// How long a rotated token's row is kept after its rotation.
inline constexpr timestamp token_tombstone_days = 30;
/// Tombstones rotated before this time are removed (at the next rotation).
inline constexpr timestamp tombstones_before(timestamp now) { return now - token_tombstone_days * 86'400'000'000'000; }

/// A rotation: the successor's expiry, and what becomes of the predecessor.
struct token_rotation {
    timestamp now = 0;
    std::optional<timestamp> expiration;   ///< the successor's (none: never)
    std::optional<timestamp> grace_until;  ///< the predecessor's new expiry; none: disabled at once
};


/// What a modification of a token changes; an empty outer optional leaves the field as it is.
struct token_change {
    std::optional<std::optional<timestamp>> expiration;  ///< inner null: never expires
    std::optional<bool> enabled;
    std::optional<std::optional<std::string>> name;  ///< inner null: no name
    std::optional<std::optional<std::string>> allowed_cidrs;  ///< canonical; inner null: any address
};

/// What a new token is given besides its user: expiry (none: never), scope (none: the user's
/// privileges), name and network bounds (canonical text; none: any address).
struct token_fields {
    std::optional<timestamp> expiration;
    std::optional<privilege_set> scope;
    std::optional<std::string> name;
    std::optional<std::string> allowed_cidrs;
};

enum class principal_type { user, group };

/// One resolved local principal.
struct resolved {
    principal_type type;
    std::uint64_t auth_id;
};

/// A picture of users, groups and roles, shared by readers and never changed once published.
/// Its maps are persistent (persistent_map.hpp): a copy shares them, and a change through the
/// mutators below copies only what it touches, so a write costs what it changes.
struct directory {
    std::uint64_t version = 0;  ///< increases with every published snapshot
    std::string machine_sid;
    persistent_map<user_row> users;
    persistent_map<group_row> groups;
    persistent_map<persistent_set> group_members;    ///< explicit members, by group
    persistent_map<persistent_set> member_groups;    ///< the same memberships, by member
    persistent_map<persistent_set> primary_members;  ///< users, by primary group
    std::vector<tokenauth::role> roles;              ///< sorted by name (few; copied whole)
    std::vector<std::optional<std::string>> role_stored_keys;  ///< each role's stored key, as roles
    /// names::key of each user's and group's name -> its auth id, and of each role's name ->
    /// its index in roles. A name stored before keys existed whose key an older row holds
    /// has none: it is found by its exact stored name instead (unkeyed_*), and reported at
    /// every start until it is renamed.
    persistent_name_index principal_keys;
    std::unordered_map<std::string, std::size_t> role_keys;
    std::map<std::string, std::uint64_t> unkeyed_principals;
    std::map<std::string, std::size_t> unkeyed_roles;
    /// Principals (users, or groups standing for their members) whose privileges the
    /// mutators may have changed since this was last cleared: the containment rule
    /// (authorization.cpp) checks only these.
    std::vector<std::uint64_t> touched;

    const user_row* user(std::uint64_t id) const { return users.find(id); }
    const group_row* group(std::uint64_t id) const { return groups.find(id); }
    /// The role whose name has the same key as name (names.hpp), or nullptr.
    const tokenauth::role* role(std::string_view name) const;
    /// The user or group whose name has the same key as name, if any.
    std::optional<std::uint64_t> principal_named(std::string_view name) const;
    std::string sid_of(std::uint64_t auth_id) const { return machine_sid + "-" + std::to_string(auth_id); }
    /// Groups of a user: the primary group, then explicit memberships.
    std::vector<std::uint64_t> groups_of(std::uint64_t user) const;
    /// Members of a group: users whose primary group it is, and explicit members.
    std::vector<std::uint64_t> members_of(std::uint64_t group) const;
    bool is_explicit_member(std::uint64_t group, std::uint64_t member) const;
    tokenauth::privilege_set privileges_of(std::uint64_t user) const;
    std::vector<std::string> roles_of(std::uint64_t user) const;
    /// Finds the one local principal an identity names; nullopt when none does (or the
    /// identity's fields disagree). `why` gets a description for the 404.
    std::optional<resolved> resolve(const api_identity& id, std::string& why) const;
    /// The full api_identity of a principal.
    api_identity identity_of(std::uint64_t auth_id) const;
    std::optional<principal_type> type_of(std::uint64_t auth_id) const;

    // --- changes, each costing what it changes (what storage applies after a commit, and
    // what the containment rule applies to a copy). A stored name key of nullopt means the
    // name has none (found by its exact name).
    /// Inserts or replaces a user (its name, primary group and all).
    void put_user(user_row u, const std::optional<std::string>& key);
    void put_group(group_row g, const std::optional<std::string>& key);
    /// Removes a user or group with its memberships (of groups and roles), as the database's
    /// cascades do.
    void erase_principal(std::uint64_t id);
    void add_group_member(std::uint64_t group, std::uint64_t member);
    void remove_group_member(std::uint64_t group, std::uint64_t member);
    /// Makes a group's explicit members exactly these.
    void set_group_members(std::uint64_t group, const std::vector<std::uint64_t>& members);
    /// Inserts or replaces (by its name before the change, `name`) a role, members included.
    void put_role(const std::string& name, tokenauth::role r, const std::optional<std::string>& key);
    void erase_role(const std::string& name);
    void add_role_member(const std::string& role, std::uint64_t member);
    void remove_role_member(const std::string& role, std::uint64_t member);

private:
    void forget_name(std::uint64_t id, const std::string& name);
    void index_principal_name(std::uint64_t id, const std::string& name, const std::optional<std::string>& key);
    void reindex_roles();
    tokenauth::role* role_exact(const std::string& name);
};

/// What the API reads of storage. Implementations are thread-safe.
class store_reader : public session_user_source {
public:
    ~store_reader() override = default;

    /// The current directory (users, groups, roles), shared by readers; never null.
    virtual std::shared_ptr<const directory> snapshot() const = 0;
    /// The in-memory token index the validator reads; never touches the database.
    virtual const tokenauth::token_store& tokens() const noexcept = 0;
    /// The session-signing key.
    virtual const tokenauth::session_key& key() const noexcept = 0;
    /// The scopes that token records and principals name by index.
    virtual const tokenauth::scope_table& scopes() const noexcept = 0;
    /// The token's last use known to this process (0: none since start).
    virtual timestamp last_used(const token_id& id) const noexcept = 0;
    /// Writes the uses recorded in memory since the last call in one transaction; returns
    /// the tokens used for the first time.
    virtual std::vector<token_id> save_uses() = 0;
    /// True when this server may have missed changes made elsewhere (a shared database it has
    /// not reached for too long): authenticated requests must not be served.
    virtual bool stale() const noexcept { return false; }
    /// Why this server should not take traffic now, as a fixed word for /readyz
    /// ("storage_unreachable", "stale"), or nullptr when it is ready. From cached state only:
    /// no database round trip.
    virtual const char* not_ready() const noexcept { return stale() ? "stale" : nullptr; }
    /// Applies at once what other servers sharing the store have written and this one has not
    /// seen yet (snapshot() then shows it). A request that found nothing in its snapshot asks
    /// this once before it answers 404, so a user created through one server can be named
    /// through another at once. A store no other server writes has nothing to catch up with.
    virtual void refresh() {}

    virtual std::optional<token_row> get_token(const token_id& id) = 0;
    /// Rows after the cursor, in creation order, at most limit (0 = all); more is set when
    /// more rows follow.
    virtual std::vector<token_row> list_tokens(std::optional<std::uint64_t> user, std::int64_t after,
                                               std::size_t limit, bool& more) = 0;
    /// Rows after the cursor (seq), in creation order, of one user or all, read from one
    /// snapshot of the store that the cursor pins while it lives (its own connection and read
    /// transaction): a list streamed to a slow client is one consistent picture, and writes
    /// go on meanwhile. Read by one thread at a time. Throws what reads throw.
    class token_cursor {
    public:
        virtual ~token_cursor() = default;
        /// The next row, or false after the last.
        virtual bool next(token_row& row) = 0;
    };
    virtual std::unique_ptr<token_cursor> open_token_cursor(std::optional<std::uint64_t> user, std::int64_t after) = 0;
};

/// A token just created: its row, and the bearer token (shown once, in the create response).
struct created_token {
    token_row row;
    secret_text bearer;
};

struct rotated_token {
    created_token successor;
    token_row predecessor;  ///< after the rotation
};

/// A warning that a token expires soon (threshold: the warning's bound, in seconds) or has
/// expired (threshold 0).
struct expiry_warning {
    token_id id;
    std::uint64_t user = 0;
    timestamp expiration = 0;
    std::int64_t threshold = 0;
};

/// The warning due for a token expiring at `expiration`, as of now: 0 once it has expired,
/// else the smallest of thresholds (seconds, ascending) it expires within; nullopt when it
/// expires beyond them all.
inline std::optional<std::int64_t> warning_threshold(timestamp now, timestamp expiration,
                                                     const std::vector<std::int64_t>& thresholds) {
    if (expiration <= now) return 0;
    for (const std::int64_t t : thresholds)
        if (expiration - now <= t * 1'000'000'000) return t;
    return std::nullopt;
}

/// Whether a warning is due for w (its expiration set) given the smallest threshold already
/// warned for; sets w.threshold when it is.
inline bool warning_due(expiry_warning& w, timestamp now, std::optional<std::int64_t> warned,
                        const std::vector<std::int64_t>& thresholds) {
    const auto threshold = warning_threshold(now, w.expiration, thresholds);
    if (!threshold || (warned && *warned <= *threshold)) return false;
    w.threshold = *threshold;
    return true;
}

/// A rotation's two rows, as both backends write them: the successor (same user, scope, name
/// and family; seq is the backend's to set) and the predecessor after it (a tombstone naming
/// the successor, disabled now or expiring when its grace ends).
/// A created token's row, as both backends return it.
inline token_row new_token_row(const token_id& id, std::int64_t seq, std::uint64_t user, std::uint64_t creator,
                               timestamp now, const token_fields& f) {
    token_row row;
    row.id = id;
    row.seq = seq;
    row.user = user;
    row.creator = creator;
    row.creation_time = now;
    row.expiration_time = f.expiration;
    row.privileges = f.scope;
    row.name = f.name;
    row.allowed_cidrs = f.allowed_cidrs;
    row.family = id;
    return row;
}

inline token_row successor_row(const token_row& old, const token_id& id, std::uint64_t creator, const token_rotation& r) {
    token_row row;
    row.id = id;
    row.user = old.user;
    row.creator = creator;
    row.creation_time = r.now;
    row.expiration_time = r.expiration;
    row.privileges = old.privileges;
    row.name = old.name;
    row.allowed_cidrs = old.allowed_cidrs;
    row.family = old.family;
    return row;
}
inline token_row retired_row(const token_row& old, const token_id& successor, const token_rotation& r) {
    token_row row = old;
    row.rotated_to = successor;
    row.rotated_time = r.now;
    if (r.grace_until) row.expiration_time = r.grace_until;
    else row.enabled = false;
    return row;
}

/// A webhook event for the outbox: the message id (the same for every receiver), its type,
/// the JSON body to send, and when it happened.
struct webhook_event {
    std::string id;
    std::string type;
    std::string payload;
    timestamp created = 0;
};

/// An outbox row claimed for delivery.
struct webhook_delivery {
    std::int64_t row = 0;
    std::string endpoint;  ///< the receiver's URL
    webhook_event event;
    std::int64_t attempts = 0;  ///< made before this one
};

/// What became of an attempt.
struct webhook_outcome {
    enum class state { delivered, retry, dead } next = state::retry;
    timestamp next_attempt = 0;  ///< with retry
    std::string error;           ///< why it failed (never the receiver's body)
};

/// The outbox's state column for what comes next.
inline const char* stored_state(webhook_outcome::state s) {
    return s == webhook_outcome::state::delivered ? "delivered" : s == webhook_outcome::state::dead ? "dead" : "pending";
}

/// Everything the API needs of storage: the reads, and the writes. Handlers reach the
/// writes only through request_context::write, which decides containment first.
class store : public store_reader {
public:
    // --- access tokens ---
    /// Creates a token for a user; returns its row and the bearer token (shown once).
    /// storage_error: not_found (no such user), limit_reached (two already).
    virtual created_token create_token(std::uint64_t user, std::uint64_t creator, timestamp now,
                                       const token_fields& fields) = 0;
    /// The row after the change, or nullopt when there is no such token.
    virtual std::optional<token_row> modify_token(const token_id& id, const token_change& change) = 0;
    /// Creates the successor of a token (same user, scope, name and bounds, no limit check) and
    /// retires the predecessor, in one transaction; tombstones older than
    /// token_tombstone_days go. storage_error: not_found, conflict (already rotated).
    virtual rotated_token rotate_token(const token_id& predecessor, std::uint64_t creator, const token_rotation& r) = 0;
    /// Disables every enabled token of the rotation family `member` belongs to (its
    /// predecessors and successors); returns their ids.
    virtual std::vector<token_id> disable_family(const token_id& member) = 0;
    /// The expiry warnings due now for enabled tokens (thresholds in seconds, ascending;
    /// expired ones within the largest threshold after their expiry), each recorded on its
    /// token so that it is given once: across restarts, and across servers sharing the store
    /// (each warning is claimed by one conditional write). A change of expiry clears it.
    virtual std::vector<expiry_warning> claim_expiry_warnings(timestamp now,
                                                              const std::vector<std::int64_t>& thresholds) = 0;
    virtual bool delete_token(const token_id& id) = 0;

    // --- the webhook outbox ---
    /// Adds one pending row per receiver for the event (due at once).
    virtual void enqueue_webhook(const std::vector<std::string>& endpoints, const webhook_event& e) = 0;
    /// Claims up to max rows due at now, oldest first, moving their next attempt to
    /// lease_until so that nobody else claims them meanwhile (servers sharing the store skip
    /// each other's rows); a server that stops mid-delivery leaves them due again then.
    virtual std::vector<webhook_delivery> claim_webhooks(timestamp now, timestamp lease_until, std::size_t max) = 0;
    /// Records an attempt's outcome (the attempt counted).
    virtual void finish_webhook(std::int64_t row, const webhook_outcome& outcome) = 0;
    /// Removes delivered and dead rows created before `before`; how many went.
    virtual std::size_t prune_webhooks(timestamp before) = 0;

    // --- users and groups (storage_error: conflict, not_found, in_use) ---
    virtual user_row create_user(user_row u) = 0;
    virtual user_row update_user(const user_row& u, bool password_changed) = 0;
    virtual void delete_user(std::uint64_t id) = 0;
    /// Sets the hash and ends the user's sessions; returns the changed user.
    virtual user_row set_password(std::uint64_t id, const std::string& hash) = 0;
    virtual group_row create_group(group_row g) = 0;
    virtual group_row update_group(const group_row& g) = 0;
    virtual void delete_group(std::uint64_t id) = 0;
    virtual void add_group_member(std::uint64_t group, std::uint64_t member) = 0;
    virtual void remove_group_member(std::uint64_t group, std::uint64_t member) = 0;

    // --- roles ---
    virtual void create_role(const tokenauth::role& r) = 0;
    virtual void update_role(const std::string& name, const tokenauth::role& r) = 0;
    virtual void delete_role(const std::string& name) = 0;
    virtual void add_role_member(const std::string& role, std::uint64_t member) = 0;
    virtual void remove_role_member(const std::string& role, std::uint64_t member) = 0;
};

/// Argon2id (crypto_pwhash_str, interactive limits). Throws std::runtime_error when out of
/// memory.
std::string hash_password(const std::string& password);
/// Constant-time check of a password against a crypto_pwhash_str string.
bool verify_password(const std::string& hash, const std::string& password);

}  // namespace tokenauth::server
