// The audit trail: security events as JSON lines in <data-dir>/audit.log, apart from the
// operational log. Each line carries "prev", the SHA-256 of the line before it (the first
// line ever: 64 zeros), so an edit or a deletion inside the files breaks the chain; the
// chain head goes to the operational log at each rotation and at shutdown, so a cut tail
// shows too. Files rotate by size (audit.log -> audit.log.1 -> ... -> audit.log.9; the
// oldest is dropped) and the chain runs on across them. Never pass a secret or password.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <ostream>
#include <string>

#include "../http/log.hpp"

namespace tokenauth::server {

class audit_log final : public line_sink {
public:
    static constexpr int kept_files = 9;  ///< rotated files kept beside audit.log

    /// Opens (or creates, 0600) dir/audit.log and continues the chain of what is there.
    /// max_bytes: rotate before a line would make the file larger. Throws std::runtime_error.
    audit_log(const std::string& dir, std::string server_name, std::uint64_t max_bytes, event_log& op);
    ~audit_log();
    audit_log(const audit_log&) = delete;
    audit_log& operator=(const audit_log&) = delete;

    /// Appends {"ts", "server", "event", "prev", ...fields} as one line.
    void write(const char* event, nlohmann::json fields) override;
    /// The SHA-256 (hex) of the last line written, or 64 zeros before the first.
    std::string head() const;
    /// The size of the current file (audit.log).
    std::uint64_t bytes() const {
        std::lock_guard lock(mu_);
        return size_;
    }

    /// Checks the chain over dir's audit files, oldest first. Prints what it found to out;
    /// returns 0 when intact, 1 when broken (naming the first broken line), 2 when there is
    /// nothing to check.
    static int verify(const std::string& dir, std::ostream& out);

private:
    void open_current();
    void rotate();
    void log_head(const char* why);

    std::string dir_;
    std::string server_;
    std::uint64_t max_bytes_;
    event_log& op_;
    mutable std::mutex mu_;
    std::FILE* file_ = nullptr;
    std::uint64_t size_ = 0;
    std::uint64_t lines_ = 0;  ///< lines in the current file
    std::string head_;
};

}  // namespace tokenauth::server
