// A very small RAII wrapper over the SQLite C API: a connection, prepared statements (cached
// per connection), and transactions. Every value reaches SQL through a bound parameter.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tokenauth::server {

/// A failure of SQLite itself (I/O, corruption, constraint): a 500 for the client.
class db_error : public std::runtime_error {
public:
    db_error(const std::string& what, int code) : std::runtime_error(what), code_(code) {}
    int code() const noexcept { return code_; }
    bool is_constraint() const noexcept { return (code_ & 0xFF) == SQLITE_CONSTRAINT; }

private:
    int code_;
};

class statement {
public:
    statement(sqlite3* db, sqlite3_stmt* s) noexcept : db_(db), s_(s) {}
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;

    /// Clears bindings and state; called before each use of a cached statement.
    statement& reset() noexcept {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
        return *this;
    }
    statement& bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(s_, i, v)); }
    statement& bind(int i, int v) { return check(sqlite3_bind_int64(s_, i, v)); }
    statement& bind(int i, std::uint64_t v) { return check(sqlite3_bind_int64(s_, i, static_cast<std::int64_t>(v))); }
    statement& bind(int i, bool v) { return check(sqlite3_bind_int(s_, i, v ? 1 : 0)); }
    statement& bind(int i, std::string_view v) {
        return check(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    }
    statement& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
    statement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
    statement& bind_blob(int i, const void* p, std::size_t n) {
        return check(sqlite3_bind_blob(s_, i, p, static_cast<int>(n), SQLITE_TRANSIENT));
    }
    statement& bind_null(int i) { return check(sqlite3_bind_null(s_, i)); }
    template <class T>
    statement& bind(int i, const std::optional<T>& v) {
        return v ? bind(i, *v) : bind_null(i);
    }

    /// Steps once: true when a row is available.
    bool step() {
        const int rc = sqlite3_step(s_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        const std::string msg = sqlite3_errmsg(db_);
        const int code = sqlite3_extended_errcode(db_);
        sqlite3_reset(s_);
        throw db_error("sqlite: " + msg, code);
    }
    /// Runs a statement that returns no rows.
    void run() {
        while (step()) {
        }
    }

    bool is_null(int col) const noexcept { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
    std::int64_t int64(int col) const noexcept { return sqlite3_column_int64(s_, col); }
    std::string text(int col) const {
        const auto* p = sqlite3_column_text(s_, col);
        return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, col)))
                 : std::string();
    }
    std::optional<std::string> opt_text(int col) const {
        return is_null(col) ? std::nullopt : std::optional<std::string>(text(col));
    }
    std::optional<std::int64_t> opt_int64(int col) const {
        return is_null(col) ? std::nullopt : std::optional<std::int64_t>(int64(col));
    }
    /// A BLOB column of exactly N bytes into out (token ids, hashes, keys); a stored value of
    /// another size is a corrupt database: std::runtime_error naming `what`.
    template <std::size_t N>
    void blob_into(int col, std::uint8_t (&out)[N], const char* what) const {
        const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(s_, col));
        if (p == nullptr || sqlite3_column_bytes(s_, col) != static_cast<int>(N))
            throw std::runtime_error(std::string("corrupt database: ") + what + " has the wrong size");
        for (std::size_t i = 0; i < N; ++i) out[i] = p[i];
    }
    std::vector<std::uint8_t> blob(int col) const {
        const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(s_, col));
        return p ? std::vector<std::uint8_t>(p, p + sqlite3_column_bytes(s_, col)) : std::vector<std::uint8_t>();
    }

    ~statement() { sqlite3_finalize(s_); }

private:
    statement& check(int rc) {
        if (rc != SQLITE_OK) throw db_error(std::string("sqlite bind: ") + sqlite3_errstr(rc), rc);
        return *this;
    }
    sqlite3* db_;
    sqlite3_stmt* s_;
};

class connection {
public:
    /// Opens (creating if needed) the database file. Throws db_error.
    explicit connection(const std::string& path) {
        const int rc = sqlite3_open_v2(path.c_str(), &db_,
                                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
        if (rc != SQLITE_OK) {
            const std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
            sqlite3_close(db_);
            throw db_error("cannot open " + path + ": " + msg, rc);
        }
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, 5000);
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() {
        cache_.clear();
        sqlite3_close(db_);
    }

    /// Runs SQL text with no parameters (schema, pragmas). Throws db_error.
    void exec(const char* sql) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
            const std::string msg = err ? err : "unknown";
            sqlite3_free(err);
            throw db_error("sqlite: " + msg, sqlite3_extended_errcode(db_));
        }
    }

    /// A cached prepared statement for this SQL text, reset and ready to bind.
    statement& prepare(const std::string& sql) {
        auto it = cache_.find(sql);
        if (it == cache_.end()) {
            sqlite3_stmt* s = nullptr;
            const int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
            if (rc != SQLITE_OK) throw db_error("sqlite prepare: " + std::string(sqlite3_errmsg(db_)), rc);
            it = cache_.emplace(sql, std::make_unique<statement>(db_, s)).first;
        }
        return it->second->reset();
    }

    /// Resets every cached statement, ending the reads still open on their tables.
    void reset_all() {
        for (auto& entry : cache_) entry.second->reset();
    }

    std::int64_t changes() const noexcept { return sqlite3_changes64(db_); }
    std::int64_t last_insert_rowid() const noexcept { return sqlite3_last_insert_rowid(db_); }

private:
    sqlite3* db_ = nullptr;
    std::map<std::string, std::unique_ptr<statement>> cache_;
};

/// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() ran.
class transaction {
public:
    explicit transaction(connection& c) : c_(c) { c_.exec("BEGIN IMMEDIATE"); }
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;
    void commit() {
        c_.exec("COMMIT");
        done_ = true;
    }
    ~transaction() {
        if (!done_) {
            try {
                c_.exec("ROLLBACK");
            } catch (...) {
            }
        }
    }

private:
    connection& c_;
    bool done_ = false;
};

}  // namespace tokenauth::server
