// A throwaway PostgreSQL 15 for the tests: initdb and pg_ctl from Debian's postgresql-15 in a
// temporary directory, listening only on a Unix socket in that directory (so parallel tests
// never race for a port). PostgreSQL refuses to run as root, so as root it runs as the
// postgres user (runuser), which is given the directory.
#pragma once

#include <libpq-fe.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

namespace test_server {

/// True, after printing the line ctest reads as a skip, when PostgreSQL 15 is not installed
/// (a test then returns at once).
inline bool skip_without_postgres() {
    if (::access("/usr/lib/postgresql/15/bin/initdb", X_OK) == 0 && (::geteuid() != 0 || ::getpwnam("postgres") != nullptr))
        return false;
    std::printf("SKIPPED: postgresql-15 missing; run ./scripts/deps.sh --test\n");
    return true;
}

class pg_instance {
public:
    static constexpr const char* bin = "/usr/lib/postgresql/15/bin/";

    pg_instance() {
        char tmpl[] = "/tmp/tokenauth-pg-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
        dir_ = tmpl;
        if (::geteuid() == 0) {
            const passwd* pw = ::getpwnam("postgres");
            if (pw == nullptr) throw std::runtime_error("no postgres user: install postgresql-15 (scripts/deps.sh --test)");
            if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown failed");
            as_postgres_ = "runuser -u postgres -- ";
        }
        run(std::string(bin) + "initdb -D " + dir_ + "/data -A trust -U tokenauth -E UTF8 --no-sync > " + dir_ +
            "/initdb.log 2>&1");
        start();
    }
    pg_instance(const pg_instance&) = delete;
    pg_instance& operator=(const pg_instance&) = delete;
    ~pg_instance() {
        stop();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    void start() {
        run(std::string(bin) + "pg_ctl -D " + dir_ + "/data -l " + dir_ +
            "/server.log -w -o \"-k " + dir_ + " -c listen_addresses='' -c fsync=off -c max_connections=200\" start > /dev/null");
        running_ = true;
    }
    void stop() {
        if (!running_) return;
        run(std::string(bin) + "pg_ctl -D " + dir_ + "/data -m fast -w stop > /dev/null", false);
        running_ = false;
    }

    /// A libpq URI for a database of this instance.
    std::string uri(const std::string& database = "postgres") const {
        return "postgresql:///" + database + "?host=" + dir_ + "&user=tokenauth";
    }

    /// Creates a fresh database and returns its URI.
    std::string create_database() {
        static std::atomic<int> next{0};
        const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(next++);
        PGconn* c = PQconnectdb(uri().c_str());
        if (PQstatus(c) != CONNECTION_OK) {
            const std::string msg = PQerrorMessage(c);
            PQfinish(c);
            throw std::runtime_error("cannot connect to the test PostgreSQL: " + msg);
        }
        PGresult* r = PQexec(c, ("CREATE DATABASE " + name).c_str());
        const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        PQfinish(c);
        if (!ok) throw std::runtime_error("CREATE DATABASE failed");
        return uri(name);
    }

    /// The instance shared by every test of this process (started on first use).
    static pg_instance& shared() {
        static pg_instance instance;
        return instance;
    }

private:
    void run(const std::string& cmd, bool check = true) const {
        const int rc = std::system((as_postgres_ + cmd).c_str());
        if (check && rc != 0) throw std::runtime_error("failed (" + std::to_string(rc) + "): " + cmd);
    }

    std::string dir_;
    std::string as_postgres_;
    bool running_ = false;
};

/// With TOKENAUTH_TEST_BACKEND=postgresql the server tests run against PostgreSQL: each data
/// dir gets its own database (the same one when a test restarts a server on that dir) and a
/// session key file in it. Returns the flags to add (none for SQLite).
inline std::vector<std::string> backend_flags(const std::string& data_dir) {
    const char* backend = std::getenv("TOKENAUTH_TEST_BACKEND");
    if (backend == nullptr || std::string(backend) != "postgresql") return {};
    static std::mutex mu;
    static std::map<std::string, std::string> databases;
    std::lock_guard lock(mu);
    auto it = databases.find(data_dir);
    if (it == databases.end()) it = databases.emplace(data_dir, pg_instance::shared().create_database()).first;
    return {"--database", it->second, "--session-key-file", data_dir + "/session.key"};
}

}  // namespace test_server
