// A thin RAII layer over libpq: connections, parameterised statements (text format), results
// and transactions. Internal to the PostgreSQL backend (pg_store.cpp).
#pragma once

#include <libpq-fe.h>
#include <poll.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

namespace tokenauth::server::pg {

/// A failed statement or connection; sqlstate is PostgreSQL's five-character code ("" when
/// the connection itself failed).
class error : public std::runtime_error {
public:
    error(const std::string& what, std::string sqlstate) : std::runtime_error(what), sqlstate_(std::move(sqlstate)) {}
    const std::string& sqlstate() const noexcept { return sqlstate_; }
    bool unique_violation() const noexcept { return sqlstate_ == "23505"; }
    bool foreign_key_violation() const noexcept { return sqlstate_ == "23503"; }
    bool connection_lost() const noexcept { return sqlstate_.empty() || sqlstate_.rfind("08", 0) == 0 || sqlstate_.rfind("57P", 0) == 0; }

private:
    std::string sqlstate_;
};

/// A statement parameter: text, or SQL NULL.
using param = std::optional<std::string>;
inline param text(const std::string& s) { return s; }
inline param number(std::int64_t v) { return std::to_string(v); }
inline param number(std::uint64_t v) { return std::to_string(static_cast<std::int64_t>(v)); }
inline param number(const std::optional<std::int64_t>& v) { return v ? param(std::to_string(*v)) : std::nullopt; }
inline param boolean(bool v) { return std::string(v ? "true" : "false"); }
/// A bytea parameter in hex form.
inline param bytes(const std::uint8_t* p, std::size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string out = "\\x";
    for (std::size_t i = 0; i < n; ++i) {
        out += digits[p[i] >> 4];
        out += digits[p[i] & 15];
    }
    return out;
}

class result {
public:
    explicit result(PGresult* r) noexcept : r_(r) {}
    result(result&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
    result(const result&) = delete;
    result& operator=(const result&) = delete;
    ~result() { PQclear(r_); }

    PGresult* get() const noexcept { return r_; }
    int rows() const noexcept { return PQntuples(r_); }
    bool null(int row, int col) const noexcept { return PQgetisnull(r_, row, col) != 0; }
    std::string str(int row, int col) const { return PQgetvalue(r_, row, col); }
    std::optional<std::string> opt_str(int row, int col) const {
        return null(row, col) ? std::nullopt : std::optional<std::string>(str(row, col));
    }
    std::int64_t int64(int row, int col) const { return std::stoll(PQgetvalue(r_, row, col)); }
    std::optional<std::int64_t> opt_int64(int row, int col) const {
        return null(row, col) ? std::nullopt : std::optional<std::int64_t>(int64(row, col));
    }
    bool boolean(int row, int col) const { return PQgetvalue(r_, row, col)[0] == 't'; }
    /// A bytea column (hex output) into exactly n bytes; throws when its size differs.
    void bytes(int row, int col, std::uint8_t* out, std::size_t n, const char* what) const {
        const char* v = PQgetvalue(r_, row, col);
        if (std::strncmp(v, "\\x", 2) != 0 || std::strlen(v) != 2 + 2 * n)
            throw std::runtime_error(std::string("corrupt database: ") + what);
        auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
        for (std::size_t i = 0; i < n; ++i)
            out[i] = static_cast<std::uint8_t>(nibble(v[2 + 2 * i]) << 4 | nibble(v[3 + 2 * i]));
    }
    /// Rows an INSERT, UPDATE or DELETE touched.
    std::int64_t affected() const { return std::atoll(PQcmdTuples(r_)); }

private:
    PGresult* r_;
};

class connection {
public:
    /// Connects (a libpq URI or key=value string). Throws error.
    explicit connection(const std::string& conninfo) : c_(PQconnectdb(conninfo.c_str())) {
        if (c_ == nullptr || PQstatus(c_) != CONNECTION_OK) {
            const std::string msg = c_ ? PQerrorMessage(c_) : "out of memory";
            PQfinish(c_);
            c_ = nullptr;
            throw error("cannot connect to PostgreSQL: " + trim(msg), "");
        }
        exec("SET client_min_messages = warning");
    }
    /// Uses a connection that another owner keeps open (and closes).
    struct borrowed {};
    connection(PGconn* c, borrowed) noexcept : c_(c), owned_(false) {}
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    ~connection() {
        if (owned_) PQfinish(c_);
    }

    PGconn* raw() const noexcept { return c_; }
    bool ok() const noexcept { return PQstatus(c_) == CONNECTION_OK; }

    /// Runs a statement with parameters ($1, $2, ...). Throws error.
    result exec(const std::string& sql, const std::vector<param>& params = {}) {
        const auto values = pointers(params);
        return checked(PQexecParams(c_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                                    nullptr, 0));
    }

    /// Runs a statement that is parsed and planned once per connection (the first call with
    /// this name prepares sql). Throws error.
    result exec_prepared(const char* name, const char* sql, const std::vector<param>& params) {
        if (prepared_.count(name) == 0) {
            checked(PQprepare(c_, name, sql, 0, nullptr));
            prepared_.insert(name);
        }
        const auto values = pointers(params);
        return checked(PQexecPrepared(c_, name, static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0));
    }

    /// False when the server has closed this idle connection (a restart, say), found without
    /// a round trip: a statement sent after alive() returned true was not sent to a
    /// connection already known dead, so when it fails the connection died under it.
    bool alive() {
        // A closing server sends an error message, then end of file: read until nothing is
        // pending (a few reads at most), letting libpq parse what came.
        for (int reads = 0; reads < 8; ++reads) {
            if (PQstatus(c_) != CONNECTION_OK) return false;
            pollfd p{PQsocket(c_), POLLIN, 0};
            if (::poll(&p, 1, 0) <= 0) return true;  // nothing pending: open as far as we can know
            if (PQconsumeInput(c_) == 0) return false;
            (void)PQisBusy(c_);
        }
        return PQstatus(c_) == CONNECTION_OK;
    }

    /// Runs several statements without parameters (a migration). Throws error.
    void exec_script(const std::string& sql) { checked(PQexec(c_, sql.c_str())); }

    /// One statement of a pipeline: prepared (name, sql, params) or, without params, text.
    struct piped {
        const char* name;
        const char* sql;
        const std::vector<param>* params;
    };
    /// What a pipeline did: each statement's result until the first that failed (failed, its
    /// error in failure); the ones after it did not run.
    struct pipelined {
        std::vector<std::optional<result>> results;
        std::size_t failed = SIZE_MAX;
        std::optional<error> failure;
    };
    /// Sends the statements at once in libpq's pipeline mode with one sync, then reads their
    /// results: one round trip for all. Throws error when the connection fails, after which
    /// it must not be used again.
    pipelined pipeline(const std::vector<piped>& statements) {
        for (const piped& s : statements)
            if (s.params != nullptr && prepared_.count(s.name) == 0) {
                checked(PQprepare(c_, s.name, s.sql, 0, nullptr));
                prepared_.insert(s.name);
            }
        const auto lost = [&] { return error("PostgreSQL: " + trim(PQerrorMessage(c_)), ""); };
        if (PQenterPipelineMode(c_) != 1) throw lost();
        for (const piped& s : statements) {
            const int sent = s.params != nullptr
                                 ? [&] {
                                       const auto values = pointers(*s.params);
                                       return PQsendQueryPrepared(c_, s.name, static_cast<int>(values.size()),
                                                                  values.data(), nullptr, nullptr, 0);
                                   }()
                                 : PQsendQueryParams(c_, s.sql, 0, nullptr, nullptr, nullptr, nullptr, 0);
            if (sent != 1) throw lost();
        }
        if (PQpipelineSync(c_) != 1) throw lost();
        pipelined out;
        out.results.resize(statements.size());
        for (std::size_t i = 0; i < statements.size(); ++i) {
            PGresult* raw = PQgetResult(c_);
            if (raw == nullptr) throw lost();
            result r(raw);
            const ExecStatusType st = PQresultStatus(raw);
            if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
                out.results[i].emplace(std::move(r));
            } else if (st == PGRES_FATAL_ERROR && out.failed == SIZE_MAX) {
                const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
                out.failed = i;
                out.failure.emplace("PostgreSQL: " + trim(PQresultErrorMessage(raw)), state ? state : "");
            }  // else PGRES_PIPELINE_ABORTED: after the failure, not run
            if (PGresult* extra = PQgetResult(c_); extra != nullptr) {  // each statement ends with a null
                PQclear(extra);
                throw lost();
            }
        }
        result sync(PQgetResult(c_));
        if (sync.get() == nullptr || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) throw lost();
        if (PQexitPipelineMode(c_) != 1) throw lost();
        return out;
    }

private:
    static std::string trim(std::string s) {
        while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
        return s;
    }
    static std::vector<const char*> pointers(const std::vector<param>& params) {
        std::vector<const char*> values;
        values.reserve(params.size());
        for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
        return values;
    }
    result checked(PGresult* raw) {
        result r(raw);
        const ExecStatusType st = PQresultStatus(r.get());
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
            throw error("PostgreSQL: " + trim(PQerrorMessage(c_)), state ? state : "");
        }
        return r;
    }
    PGconn* c_;
    bool owned_ = true;
    std::unordered_set<std::string> prepared_;
};

/// BEGIN on construction; ROLLBACK on destruction unless commit() ran.
class transaction {
public:
    explicit transaction(connection& c) : c_(c) { c_.exec("BEGIN"); }
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

}  // namespace tokenauth::server::pg
