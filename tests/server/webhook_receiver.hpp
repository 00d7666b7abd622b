// A webhook receiver on loopback (cpp-httplib) and what a receiver checks of a delivery, for
// the webhook tests (SQLite and PostgreSQL).
#pragma once

#include <catch2/catch.hpp>
#include <httplib.h>
#include <sodium.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace test_server::webhooks {

using namespace std::chrono_literals;


struct delivery {
    std::string id, timestamp, signature, body;
};

/// A webhook receiver on 127.0.0.1: records every POST to /hook and answers `status` (after
/// `delay_ms`, with the body `answer`; with a 3xx, a Location naming /elsewhere, whose hits
/// are counted). Over TLS when given a certificate and key.
class receiver {
public:
    explicit receiver(int port = 0, const std::string& cert = "", const std::string& key = "")
        : server_(cert.empty() ? std::make_unique<httplib::Server>()
                               : std::unique_ptr<httplib::Server>(std::make_unique<httplib::SSLServer>(cert.c_str(), key.c_str()))),
          tls_(!cert.empty()) {
        server_->Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
            {
                std::lock_guard lock(mu_);
                got_.push_back({req.get_header_value("webhook-id"), req.get_header_value("webhook-timestamp"),
                                req.get_header_value("webhook-signature"), req.body});
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms.load()));
            res.status = status.load();
            if (res.status >= 300 && res.status < 400) res.set_header("Location", "/elsewhere");
            res.set_content(answer, "text/plain");
        });
        server_->Post("/elsewhere", [this](const httplib::Request&, httplib::Response& res) {
            ++elsewhere;
            res.status = 204;
        });
        port_ = port == 0 ? server_->bind_to_any_port("127.0.0.1") : (server_->bind_to_port("127.0.0.1", port) ? port : -1);
        REQUIRE(port_ > 0);
        thread_ = std::thread([this] { server_->listen_after_bind(); });
    }
    ~receiver() {
        server_->stop();
        thread_.join();
    }
    std::string url() const { return (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_) + "/hook"; }
    int port() const { return port_; }
    std::vector<delivery> got() const {
        std::lock_guard lock(mu_);
        return got_;
    }
    /// Waits (at most 20 s) until n requests came; returns them.
    std::vector<delivery> wait_for(std::size_t n) const {
        for (int i = 0; i < 200 && got().size() < n; ++i) std::this_thread::sleep_for(100ms);
        return got();
    }
    std::atomic<int> status{204};
    std::atomic<int> delay_ms{0};
    std::atomic<int> elsewhere{0};
    std::string answer = "receiver-body-never-logged";

private:
    std::unique_ptr<httplib::Server> server_;
    bool tls_;
    int port_ = 0;
    std::thread thread_;
    mutable std::mutex mu_;
    std::vector<delivery> got_;
};

inline std::string b64(const std::string& raw) {
    std::string out(sodium_base64_ENCODED_LEN(raw.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    out.resize(std::strlen(out.c_str()));
    return out;
}

/// A secret file (0600) with these keys, one whsec_ line each.
inline std::string secret_file(const std::string& dir, const std::vector<std::string>& keys, mode_t mode = 0600) {
    const std::string path = dir + "/webhook-" + std::to_string(keys.size()) + "-" + std::to_string(mode) + ".secret";
    std::ofstream(path) << [&] {
        std::string s;
        for (const auto& k : keys) s += "whsec_" + b64(k) + "\n";
        return s;
    }();
    ::chmod(path.c_str(), mode);
    return path;
}

inline std::string random_key() {
    std::string k(32, '\0');
    randombytes_buf(k.data(), k.size());
    return k;
}

/// What a receiver checks: one of the v1 signatures is HMAC-SHA256(key, id.timestamp.body),
/// and the timestamp is within 5 minutes of now.
inline bool verifies(const delivery& d, const std::string& key) {
    const long long ts = std::stoll(d.timestamp);
    const long long now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (ts < now - 300 || ts > now + 300) return false;
    const std::string text = d.id + "." + d.timestamp + "." + d.body;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    crypto_auth_hmacsha256_final(&st, mac);
    const std::string expected = "v1," + b64(std::string(reinterpret_cast<char*>(mac), sizeof mac));
    std::size_t at = 0;
    while (at <= d.signature.size()) {
        std::size_t end = d.signature.find(' ', at);
        if (end == std::string::npos) end = d.signature.size();
        const std::string one = d.signature.substr(at, end - at);
        if (one.size() == expected.size() && sodium_memcmp(one.data(), expected.data(), one.size()) == 0) return true;
        at = end + 1;
    }
    return false;
}

}  // namespace test_server::webhooks
