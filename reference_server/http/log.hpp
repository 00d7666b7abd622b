// One JSON object per line on stderr, one line per event. Never pass a secret or a
// password here: callers log ids and reasons only.
#pragma once

#include <nlohmann/json.hpp>
#include <sodium.h>
#include <tokenauth/time.hpp>

#include <cstdio>
#include <mutex>
#include <string>

namespace tokenauth::server {

/// The id of the request this thread is serving (X-Request-Id): set before routing, so it is on
/// every event line written while the request runs, in its response header and error body.
namespace request_id {
inline thread_local std::string current_id;

/// The client's X-Request-Id when it is 1 to 64 characters of [A-Za-z0-9._-], else a new one
/// (32 hex digits); becomes this thread's current id.
inline const std::string& begin(const std::string& offered) {
    bool ok = !offered.empty() && offered.size() <= 64;
    for (const char c : offered)
        ok = ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-');
    if (ok) {
        current_id = offered;
    } else {
        unsigned char bytes[16];
        randombytes_buf(bytes, sizeof bytes);
        char hex[33];
        sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
        current_id.assign(hex, 32);
    }
    return current_id;
}

/// This thread's current id ("" outside a request).
inline const std::string& current() noexcept { return current_id; }
}  // namespace request_id

/// Where event lines go.
class line_sink {
public:
    virtual ~line_sink() = default;
    virtual void write(const char* event, nlohmann::json fields) = 0;
};

class event_log final : public line_sink {
public:
    /// Writes {"ts": now, "event": name, ...fields} as one line.
    void write(const char* event, nlohmann::json fields = nlohmann::json::object()) override {
        fields["ts"] = format_rfc3339(system_clock().now());
        fields["event"] = event;
        if (const std::string& id = request_id::current(); !id.empty()) fields["request_id"] = id;
        const std::string line = fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        std::lock_guard lock(mu_);
        std::fwrite(line.data(), 1, line.size(), stderr);
        std::fflush(stderr);
    }

private:
    std::mutex mu_;
};

}  // namespace tokenauth::server
