// One JSON object per line on stderr, one line per event. Never pass a secret or a
// password here: callers log ids and reasons only.
#pragma once

#include <nlohmann/json.hpp>
#include <tokenauth/time.hpp>

#include <cstdio>
#include <mutex>
#include <string>

namespace tokenauth::server {

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
        const std::string line = fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        std::lock_guard lock(mu_);
        std::fwrite(line.data(), 1, line.size(), stderr);
        std::fflush(stderr);
    }

private:
    std::mutex mu_;
};

}  // namespace tokenauth::server
