// The server's state: SQLite is the source of truth; the directory snapshot (users, groups,
// roles) and the token index are derived from it, rebuilt or updated only after a commit.
// One class, defined by concern: state.cpp (opening; what readers see), schema.cpp
// (migrations), seed.cpp (first start), directory.cpp (the snapshot's read side),
// token_writes.cpp, directory_writes.cpp, passwords.cpp. Errors are storage_error.
#pragma once

#include <map>
#include <mutex>
#include <shared_mutex>

#include "published.hpp"
#include "sqlite.hpp"

namespace tokenauth::server {

/// Opens the data directory's database, seeds it on first start, and serves all reads and
/// writes. Thread-safe.
class sqlite_store final : public published_store {
public:
    struct options {
        std::string data_dir;
        std::optional<std::string> admin_password;  ///< TOKENAUTH_ADMIN_PASSWORD
        std::string session_key_file;               ///< "": <data_dir>/session.key
        std::string database_path;                  ///< "": <data_dir>/tokenauth.db
    };

    /// Opens or creates the state. Throws std::runtime_error / db_error on failure. When it
    /// generates the admin password, take_generated_admin_password() gives it (printed once).
    explicit sqlite_store(const options& opts);
    ~sqlite_store() override;

    std::vector<token_id> save_uses() override;
    /// The auth id the next user or group will get (for the migration to PostgreSQL).
    std::uint64_t next_auth_id_value();

    // --- access tokens ---
    /// Creates a token for a user; returns its row and the bearer token (shown once).
    created_token create_token(std::uint64_t user, std::uint64_t creator, timestamp now,
                               const token_fields& fields) override;
    std::optional<token_row> get_token(const token_id& id) override;
    /// Rows after the cursor, in creation order, at most limit (0 = all); more is set when
    /// more rows follow.
    std::vector<token_row> list_tokens(std::optional<std::uint64_t> user, std::int64_t after, std::size_t limit,
                                       bool& more) override;
    std::unique_ptr<token_cursor> open_token_cursor(std::optional<std::uint64_t> user, std::int64_t after) override;
    std::optional<token_row> modify_token(const token_id& id, const token_change& change) override;
    rotated_token rotate_token(const token_id& predecessor, std::uint64_t creator, const token_rotation& r) override;
    std::vector<token_id> disable_family(const token_id& member) override;
    std::vector<expiry_warning> claim_expiry_warnings(timestamp now, const std::vector<std::int64_t>& thresholds) override;
    bool delete_token(const token_id& id) override;
    void enqueue_webhook(const std::vector<std::string>& endpoints, const webhook_event& e) override;
    std::vector<webhook_delivery> claim_webhooks(timestamp now, timestamp lease_until, std::size_t max) override;
    void finish_webhook(std::int64_t row, const webhook_outcome& outcome) override;
    std::size_t prune_webhooks(timestamp before) override;

    // --- users and groups ---
    user_row create_user(user_row u) override;
    user_row update_user(const user_row& u, bool password_changed) override;
    void delete_user(std::uint64_t id) override;
    /// Sets the hash and ends the user's sessions; returns the changed user.
    user_row set_password(std::uint64_t id, const std::string& hash) override;
    group_row create_group(group_row g) override;
    group_row update_group(const group_row& g) override;
    void delete_group(std::uint64_t id) override;
    void add_group_member(std::uint64_t group, std::uint64_t member) override;
    void remove_group_member(std::uint64_t group, std::uint64_t member) override;

    // --- roles ---
    void create_role(const tokenauth::role& r) override;
    void update_role(const std::string& name, const tokenauth::role& r) override;
    void delete_role(const std::string& name) override;
    void add_role_member(const std::string& role, std::uint64_t member) override;
    void remove_role_member(const std::string& role, std::uint64_t member) override;

private:
    /// Runs body(connection&, directory&) in one write transaction under the writer lock:
    /// it writes, then reads back into the copy of the directory what it changed (the
    /// reload_* functions); after the commit the copy is published. A UNIQUE violation
    /// becomes storage_error::conflict with conflict_message; a foreign-key violation
    /// storage_error::not_found.
    template <class F>
    std::shared_ptr<const directory> write_directory(F&& body, const std::string& conflict_message = "");
    /// Reads one principal (or its absence) into d; caller holds db_mu_.
    void reload_principal(directory& d, std::uint64_t id);
    /// Reads one role by name (its members too), or its absence, into d; caller holds db_mu_.
    void reload_role(directory& d, const std::string& name);
    void migrate();
    void seed(const options& opts);
    void reload_directory();                               // caller holds db_mu_
    std::shared_ptr<directory> load_directory();           // reads; caller holds db_mu_
    void load_tokens();
    void load_session_key(const std::string& path);
    token_row read_token(statement& s) const;

    class cursor;               // token_writes.cpp
    std::string db_path_;       // for the cursors' own connections
    mutable std::mutex db_mu_;  // one connection, one writer
    std::unique_ptr<connection> db_;
};

}  // namespace tokenauth::server
