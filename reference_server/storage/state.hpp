// The server's state: SQLite is the source of truth; the directory snapshot (users, groups,
// roles) and the token index are derived from it, rebuilt or updated only after a commit.
// One class, defined by concern: state.cpp (opening; what readers see), schema.cpp
// (migrations), seed.cpp (first start), directory.cpp (the snapshot's read side),
// token_writes.cpp, directory_writes.cpp, passwords.cpp. Errors are storage_error.
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
#include <vector>

#include "sqlite.hpp"
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
};

enum class principal_type { user, group };

/// One resolved local principal.
struct resolved {
    principal_type type;
    std::uint64_t auth_id;
};

/// An immutable picture of users, groups and roles, shared by readers.
struct directory {
    std::uint64_t version = 0;  ///< increases with every rebuilt snapshot
    std::string machine_sid;
    std::map<std::uint64_t, user_row> users;
    std::map<std::uint64_t, group_row> groups;
    std::map<std::uint64_t, std::vector<std::uint64_t>> group_members;  ///< explicit members
    std::vector<tokenauth::role> roles;                                 ///< sorted by name

    const user_row* user(std::uint64_t id) const;
    const group_row* group(std::uint64_t id) const;
    const tokenauth::role* role(const std::string& name) const;
    std::string sid_of(std::uint64_t auth_id) const { return machine_sid + "-" + std::to_string(auth_id); }
    /// Groups of a user: the primary group, then explicit memberships.
    std::vector<std::uint64_t> groups_of(std::uint64_t user) const;
    /// Members of a group: users whose primary group it is, and explicit members.
    std::vector<std::uint64_t> members_of(std::uint64_t group) const;
    tokenauth::privilege_set privileges_of(std::uint64_t user) const;
    std::vector<std::string> roles_of(std::uint64_t user) const;
    /// Finds the one local principal an identity names; nullopt when none does (or the
    /// identity's fields disagree). `why` gets a description for the 404.
    std::optional<resolved> resolve(const api_identity& id, std::string& why) const;
    /// The full api_identity of a principal.
    api_identity identity_of(std::uint64_t auth_id) const;
    std::optional<principal_type> type_of(std::uint64_t auth_id) const;
};

/// Opens the data directory's database, seeds it on first start, and serves all reads and
/// writes. Thread-safe.
class state final : public session_user_source {
public:
    struct options {
        std::string data_dir;
        std::optional<std::string> admin_password;  ///< TOKENAUTH_ADMIN_PASSWORD
    };

    /// Opens or creates the state. Throws std::runtime_error / db_error on failure. When it
    /// generates the admin password it stores it in generated_admin_password (printed once).
    explicit state(const options& opts);
    ~state() override;

    std::optional<std::string> generated_admin_password;

    /// The current directory. Each thread keeps its own reference to the current version,
    /// so taking a snapshot touches no memory that other threads write (one shared
    /// reference count would bounce between cores on every request).
    std::shared_ptr<const directory> snapshot() const;
    const tokenauth::memory_token_store& tokens() const noexcept { return tokens_; }
    const tokenauth::session_key& key() const noexcept { return key_; }
    bool session_user_of(std::uint64_t auth_id, session_user& out) const noexcept override;

    // --- access tokens ---
    /// Creates a token for a user; returns its row and the bearer token (shown once).
    std::pair<token_row, std::string> create_token(std::uint64_t user, std::uint64_t creator,
                                                   std::optional<timestamp> expiration, timestamp now);
    std::optional<token_row> get_token(const token_id& id);
    /// Rows after the cursor, in creation order, at most limit (0 = all); more is set when
    /// more rows follow.
    std::vector<token_row> list_tokens(std::optional<std::uint64_t> user, std::int64_t after, std::size_t limit,
                                       bool& more);
    std::optional<token_row> modify_token(const token_id& id, const std::optional<std::optional<timestamp>>& expiration,
                                          std::optional<bool> enabled);
    bool delete_token(const token_id& id);

    // --- users and groups ---
    user_row create_user(user_row u);
    user_row update_user(const user_row& u, bool password_changed);
    void delete_user(std::uint64_t id);
    /// Sets the hash and ends the user's sessions; returns the changed user.
    user_row set_password(std::uint64_t id, const std::string& hash);
    group_row create_group(group_row g);
    group_row update_group(const group_row& g);
    void delete_group(std::uint64_t id);
    void add_group_member(std::uint64_t group, std::uint64_t member);
    void remove_group_member(std::uint64_t group, std::uint64_t member);

    // --- roles ---
    void create_role(const tokenauth::role& r);
    void update_role(const std::string& name, const tokenauth::role& r);
    void delete_role(const std::string& name);
    void add_role_member(const std::string& role, std::uint64_t member);
    void remove_role_member(const std::string& role, std::uint64_t member);

private:
    /// Runs body(connection&) in one write transaction under the writer lock, commits, then
    /// rebuilds the directory snapshot. A UNIQUE violation becomes storage_error::conflict
    /// with conflict_message; a foreign-key violation storage_error::not_found.
    template <class F>
    std::shared_ptr<const directory> write_directory(F&& body, const std::string& conflict_message = "");
    void migrate();
    void seed(const options& opts);
    void reload_directory();                               // caller holds db_mu_
    std::shared_ptr<directory> load_directory();           // reads; caller holds db_mu_
    void publish_directory(std::shared_ptr<directory> d) noexcept;
    void load_tokens();
    token_row read_token(statement& s) const;

    mutable std::mutex db_mu_;  // one connection, one writer
    std::unique_ptr<connection> db_;
    mutable std::shared_mutex snap_mu_;
    std::shared_ptr<const directory> snap_;
    std::atomic<std::uint64_t> snap_version_{0};  ///< bumped with every new snap_
    tokenauth::memory_token_store tokens_;
    tokenauth::session_key key_;
};

/// Argon2id (crypto_pwhash_str, interactive limits). Throws std::runtime_error when out of
/// memory.
std::string hash_password(const std::string& password);
/// Constant-time check of a password against a crypto_pwhash_str string.
bool verify_password(const std::string& hash, const std::string& password);

}  // namespace tokenauth::server
