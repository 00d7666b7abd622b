// The PostgreSQL backend: several servers share one database. Each server keeps its own
// in-memory token index and directory snapshot (validation never touches the database) and
// follows the others' writes through the change log: every write appends a row with a
// monotonic sequence in the same transaction and NOTIFYs. Following is the library's
// tokenauth::postgres::follower (the same code a replica in another process runs), extended
// with the directory: see pg_follower in pg_store.cpp. Writers take one advisory lock, so
// sequences are assigned in commit order and the per-user token limit holds across servers.
// A server that has not heard from the database for longer than max_staleness reports
// stale() (the API answers 503) until it has caught up again.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

#include "pg.hpp"

#include "published.hpp"

namespace tokenauth::server {

class sqlite_store;

class pg_store final : public published_store {
public:
    struct options {
        std::string conninfo;                        ///< libpq URI (postgresql://...)
        std::optional<std::string> admin_password;   ///< for the first start of an empty database
        std::string session_key_file;                ///< required: shared by every server
        std::chrono::milliseconds max_staleness{5000};
        bool follow = true;                          ///< false: no follower thread (the migration tool)
        /// Changes the log keeps: older ones are deleted (meta.pruned_through marks how far),
        /// and a follower that was further behind loads a snapshot instead.
        std::int64_t change_log_retention = 100000;
        /// Told (from the follower thread) what stopped it following, once per distinct
        /// message: a database out of reach, a change of a kind this server does not know.
        std::function<void(const std::string&)> on_follow_error;
        /// Told (from the thread that loaded it) that a snapshot was loaded again, at which change.
        std::function<void(std::int64_t)> on_snapshot;
    };

    /// Connects, migrates (under an advisory lock, so servers may start together), seeds an
    /// empty database, loads, and starts following. Throws std::runtime_error / pg::error.
    explicit pg_store(const options& opts);
    ~pg_store() override;

    bool stale() const noexcept override;
    const char* not_ready() const noexcept override;
    std::optional<follower_status> follower() const noexcept override;
    void refresh() override;
    std::vector<token_id> save_uses() override;

    created_token create_token(std::uint64_t user, std::uint64_t creator, timestamp now,
                               const token_fields& fields) override;
    std::optional<token_row> get_token(const token_id& id) override;
    std::unique_ptr<token_cursor> open_token_cursor(std::optional<std::uint64_t> user, std::int64_t after) override;
    std::vector<token_row> list_tokens(std::optional<std::uint64_t> user, std::int64_t after, std::size_t limit,
                                       bool& more) override;
    std::optional<token_row> modify_token(const token_id& id, const token_change& change) override;
    rotated_token rotate_token(const token_id& predecessor, std::uint64_t creator, const token_rotation& r) override;
    std::vector<token_id> disable_family(const token_id& member) override;
    std::vector<expiry_warning> claim_expiry_warnings(timestamp now, const std::vector<std::int64_t>& thresholds) override;
    bool delete_token(const token_id& id) override;
    void enqueue_webhook(const std::vector<std::string>& endpoints, const webhook_event& e) override;
    std::vector<webhook_delivery> claim_webhooks(timestamp now, timestamp lease_until, std::size_t max) override;
    void finish_webhook(std::int64_t row, const webhook_outcome& outcome) override;
    std::size_t prune_webhooks(timestamp before) override;

    user_row create_user(user_row u) override;
    user_row update_user(const user_row& u, bool password_changed) override;
    void delete_user(std::uint64_t id) override;
    user_row set_password(std::uint64_t id, const std::string& hash) override;
    group_row create_group(group_row g) override;
    group_row update_group(const group_row& g) override;
    void delete_group(std::uint64_t id) override;
    void add_group_member(std::uint64_t group, std::uint64_t member) override;
    void remove_group_member(std::uint64_t group, std::uint64_t member) override;

    void create_role(const tokenauth::role& r) override;
    void update_role(const std::string& name, const tokenauth::role& r) override;
    void delete_role(const std::string& name) override;
    void add_role_member(const std::string& role, std::uint64_t member) override;
    void remove_role_member(const std::string& role, std::uint64_t member) override;

    /// Copies a SQLite store (users, groups, roles, members, token hashes and metadata, the
    /// machine SID and the auth-id counter) into this database, which must hold nothing but
    /// what its first start seeded. Throws std::runtime_error.
    void import_from(sqlite_store& source);

private:
    /// What a directory write changed, as the change log names it: kind ("user", "group",
    /// "group_members", "role", "role_members") and the entity's id (auth id or role name).
    struct logged_change {
        const char* kind;
        std::string id;
    };
    /// Runs body(connection&) in one transaction under the writers' advisory lock, appends a
    /// change row for entity (read after body, which may set its id), NOTIFYs, commits, then
    /// applies every change not yet applied (its own included). Unique violations become
    /// conflict (with conflict_message), foreign-key violations not_found, a lost connection
    /// unavailable.
    template <class F>
    void write(F&& body, const logged_change& entity, const std::string& conflict_message = "");
    /// The same for a write of several tokens: body(connection&) returns the ids it changed,
    /// and each gets a token change row. A storage_error from body rolls back and passes.
    template <class F>
    void write_tokens(F&& body);
    void migrate(pg::connection& c);
    void seed(pg::connection& c, const options& opts);
    std::shared_ptr<directory> load_directory(pg::connection& c);
    // One entity of the change log read into d (its absence too): a principal by auth id, a
    // group's explicit members, a role (with its members) by name.
    void reload_principal(pg::connection& c, directory& d, std::uint64_t id);
    void reload_group_members(pg::connection& c, directory& d, std::uint64_t group);
    void reload_role(pg::connection& c, directory& d, const std::string& name);
    /// Applies the change log after what this server has applied, on the writer connection
    /// (db_mu_ held).
    void catch_up(pg::connection& c);
    /// Deletes the changes beyond the retention, advancing meta.pruned_through with them.
    void prune(pg::connection& c);
    /// After this server's own write logged as change_seq: apply() when that is the next
    /// change to apply, else catch up from the log.
    template <class Apply>
    void apply_own(pg::connection& c, std::int64_t change_seq, Apply&& apply);
    /// One prepared statement of its own transaction on the writer connection (db_mu_ held).
    /// The custom SQLSTATEs pass as pg::error; other failures become storage_error.
    pg::result call(const char* name, const char* sql, const std::vector<pg::param>& params);
    /// The same, committed with the token writes of other threads waiting at the time (group
    /// commit): one transaction in one round trip (pipeline mode), a savepoint each, so a
    /// write that fails (a 409) rolls back alone; `after` runs once the commit is durable, in commit order, before anyone is
    /// answered. Alone, it is call(). Takes db_mu_ itself.
    pg::result grouped_call(const char* name, const char* sql, const std::vector<pg::param>& params,
                            const std::function<void(const pg::result&)>& after);
    struct grouped_write;
    void commit_group(const std::vector<grouped_write*>& batch);  // db_mu_ held
    token_row read_token(const pg::result& r, int row) const;
    class cursor;  // pg_token_writes.cpp
    pg::connection& writer();  // caller holds db_mu_; reconnects a lost connection
    pg::connection& begin();   // caller holds db_mu_; BEGIN, reconnecting once if the connection was lost
    pg::result query(const std::string& sql, const std::vector<pg::param>& params);  // a read, retried once
    [[noreturn]] static void translate_failure(const std::string& conflict_message);  // rethrows as storage_error

    class pg_follower;

    std::string conninfo_;
    std::int64_t change_log_retention_;
    std::function<void(const std::string&)> on_follow_error_;
    std::function<void(std::int64_t)> on_snapshot_;
    std::mutex db_mu_;  // the writer connection
    std::mutex group_mu_;                  // guards group_
    std::vector<grouped_write*> group_;    // token writes waiting for the next group commit
    std::atomic<std::uint64_t> grouped_{0};  // writes committed with at least one other
    std::unique_ptr<pg::connection> db_;
    std::unique_ptr<pg_follower> follower_;  // last: its thread reads the members above
};

}  // namespace tokenauth::server
