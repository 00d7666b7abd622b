// Starts the real tokenauth-server binary on a free port with a temporary data directory,
// captures its log, and gives tests an HTTPS client. No mocks: the same binary users run.
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "postgres.hpp"

#ifndef TOKENAUTH_SERVER_BIN
#error "TOKENAUTH_SERVER_BIN must name the server binary"
#endif

namespace test_server {

inline const char* admin_password = "admin-password-for-tests";

/// The server binary under test: this build's, or TOKENAUTH_TEST_SERVER_BIN (to run the
/// suite against another build, such as the one before a fix, and watch a test fail).
inline std::string server_binary() {
    const char* other = std::getenv("TOKENAUTH_TEST_SERVER_BIN");
    return other != nullptr && *other != '\0' ? other : TOKENAUTH_SERVER_BIN;
}

/// A file's whole content ("" when it cannot be read).
inline std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

/// A command's standard output ("" when it cannot run).
inline std::string output_of(const std::string& cmd) {
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
        char buf[256];
        while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
        ::pclose(p);
    }
    return out;
}

/// A temporary directory removed on destruction.
struct temp_dir {
    std::string path;
    temp_dir() {
        char tmpl[] = "/tmp/tokenauth-test-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
        path = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

struct response {
    int status = 0;
    nlohmann::json body;
    std::string raw;
    httplib::Headers headers;
};

class server_process {
public:
    /// Starts the server on 127.0.0.1:0 with data_dir; extra flags are appended.
    explicit server_process(const std::string& data_dir, std::vector<std::string> extra = {},
                            const std::string& password = admin_password)
        : data_dir_(data_dir) {
        // A server that stops or closes a connection under a client's write must not kill
        // the test process: the write fails instead.
        ::signal(SIGPIPE, SIG_IGN);
        std::vector<std::string> args = {server_binary(), "--listen", "127.0.0.1:0", "--data-dir", data_dir};
        if (std::find(extra.begin(), extra.end(), "--threads") == extra.end()) {
            args.push_back("--threads");
            args.push_back("4");
        }
        for (auto& a : extra) args.push_back(std::move(a));
        const bool chose_database = std::find(args.begin(), args.end(), "--database") != args.end();
        if (!chose_database)
            for (auto& a : backend_flags(data_dir)) args.push_back(std::move(a));
        http_ = std::find(args.begin(), args.end(), "--http") != args.end();
        int fds[2];
        if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) {
            ::dup2(fds[1], 2);
            ::close(fds[0]);
            ::close(fds[1]);
            ::setenv("TOKENAUTH_ADMIN_PASSWORD", password.c_str(), 1);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(fds[1]);
        log_fd_ = fds[0];
        reader_ = std::thread([this, fd = fds[0]] {
            char buf[4096];
            for (;;) {
                pollfd p{fd, POLLIN, 0};
                if (::poll(&p, 1, -1) < 0) continue;  // EINTR
                {
                    std::lock_guard lock(mu_);
                    reading_ = true;  // from here until the append, log() waits
                }
                const ssize_t n = ::read(fd, buf, sizeof buf);
                std::lock_guard lock(mu_);
                if (n > 0) log_.append(buf, static_cast<std::size_t>(n));
                reading_ = false;
                cv_.notify_all();
                if (n <= 0) break;
            }
            std::lock_guard lock(mu_);
            log_fd_ = -1;
            ::close(fd);
            eof_ = true;
            cv_.notify_all();
        });
        std::unique_lock lock(mu_);
        const bool up = cv_.wait_for(lock, std::chrono::seconds(60), [&] {
            return eof_ || log_.find("\"event\":\"listening\"") != std::string::npos;
        });
        if (!up || eof_) {
            lock.unlock();
            stop();
            throw std::runtime_error("server did not start; log:\n" + log());
        }
        const auto line_start = log_.rfind('\n', log_.find("\"event\":\"listening\""));
        const auto line_end = log_.find('\n', log_.find("\"event\":\"listening\""));
        const auto line = log_.substr(line_start == std::string::npos ? 0 : line_start + 1,
                                      line_end - (line_start == std::string::npos ? 0 : line_start + 1));
        port_ = nlohmann::json::parse(line).at("port").get<int>();
    }

    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;
    ~server_process() { stop(); }

    int port() const { return port_; }
    pid_t pid() const { return pid_; }
    const std::string& data_dir() const { return data_dir_; }

    /// Everything the server wrote to stderr so far.
    /// Everything the server has written to stderr so far: what is still in the pipe, or
    /// between the reader's read and its append, is waited for (up to a second, for a server
    /// that never stops writing).
    std::string log() const {
        std::unique_lock lock(mu_);
        for (int i = 0; i < 1000; ++i) {
            int pending = 0;
            if (eof_ || (!reading_ && ::ioctl(log_fd_, FIONREAD, &pending) == 0 && pending == 0)) break;
            cv_.wait_for(lock, std::chrono::milliseconds(1));
        }
        return log_;
    }

    /// Sends sig to the server (SIGHUP: reload).
    void signal(int sig) const {
        if (pid_ > 0) ::kill(pid_, sig);
    }

    /// SIGKILL: the process ends at once, as in a crash.
    void kill_hard() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        if (reader_.joinable()) reader_.join();
    }

    /// SIGTERM, then wait for exit; returns the exit status (or -1 if already stopped).
    int stop() {
        if (pid_ <= 0) return -1;
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        if (reader_.joinable()) reader_.join();
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

    /// A client talking to this server (HTTPS without certificate verification, like qq).
    std::unique_ptr<httplib::Client> client() const {
        const std::string url = (http_ ? "http://127.0.0.1:" : "https://127.0.0.1:") + std::to_string(port_);
        auto c = std::make_unique<httplib::Client>(url);
        c->enable_server_certificate_verification(false);
        c->set_read_timeout(30, 0);
        return c;
    }

    /// One request with an optional bearer token and JSON body.
    response request(const std::string& method, const std::string& path, const std::string& bearer = "",
                     const std::optional<nlohmann::json>& body = std::nullopt) const {
        return request_text(method, path, bearer, body ? body->dump() : "");
    }

    /// The same with the body's exact text (which JSON values cannot always express).
    response request_text(const std::string& method, const std::string& path, const std::string& bearer,
                          const std::string& text, const httplib::Headers& extra = {}) const {
        auto c = client();
        httplib::Headers headers = extra;
        if (!bearer.empty()) headers.emplace("Authorization", "Bearer " + bearer);
        if (method != "GET" && method != "POST" && method != "PUT" && method != "PATCH" && method != "DELETE")
            throw std::invalid_argument("unknown method " + method);
        httplib::Result r = method == "GET"     ? c->Get(path, headers)
                            : method == "POST"  ? c->Post(path, headers, text, "application/json")
                            : method == "PUT"   ? c->Put(path, headers, text, "application/json")
                            : method == "PATCH" ? c->Patch(path, headers, text, "application/json")
                                                : c->Delete(path, headers, text, "application/json");
        if (!r) throw std::runtime_error("request failed: " + httplib::to_string(r.error()));
        response out;
        out.status = r->status;
        out.raw = r->body;
        out.headers = r->headers;
        if (!r->body.empty()) out.body = nlohmann::json::parse(r->body);  // throws on a non-JSON body
        return out;
    }

    /// Logs in and returns the session bearer token.
    std::string login(const std::string& user = "admin", const std::string& password = admin_password) const {
        const auto r = request("POST", "/v1/session/login", "", nlohmann::json{{"username", user}, {"password", password}});
        if (r.status != 200) throw std::runtime_error("login failed: " + r.raw);
        return r.body.at("bearer_token").get<std::string>();
    }

private:
    std::string data_dir_;
    pid_t pid_ = -1;
    int port_ = 0;
    bool http_ = false;
    std::thread reader_;
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    std::string log_;
    int log_fd_ = -1;       ///< the pipe's read end, while the reader has it open
    bool reading_ = false;  ///< the reader has data in hand that log_ does not hold yet
    bool eof_ = false;
};

}  // namespace test_server
