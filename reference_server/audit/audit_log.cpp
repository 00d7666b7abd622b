#include "audit_log.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <tokenauth/time.hpp>

namespace tokenauth::server {

namespace {

const std::string genesis(64, '0');

std::string sha256_hex(const std::string& line) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(line.data()), line.size());
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    return hex;
}

std::string file_name(const std::string& dir, int n) {
    return dir + "/audit.log" + (n == 0 ? "" : "." + std::to_string(n));
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

/// The hash of the file's last line; false when the file is missing or empty.
bool last_line_hash(const std::string& path, std::string& hash, std::uint64_t& lines) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::string line, last;
    lines = 0;
    while (std::getline(in, line))
        if (!line.empty()) {
            last = std::move(line);
            ++lines;
        }
    if (lines == 0) return false;
    hash = sha256_hex(last);
    return true;
}

}  // namespace

audit_log::audit_log(const std::string& dir, std::string server_name, std::uint64_t max_bytes, event_log& op)
    : dir_(dir), server_(std::move(server_name)), max_bytes_(max_bytes), op_(op), head_(genesis) {
    std::uint64_t lines = 0;
    // The chain continues from the newest line on disk, in audit.log or the last rotated file.
    if (!last_line_hash(file_name(dir_, 0), head_, lines)) {
        std::uint64_t ignored = 0;
        if (!last_line_hash(file_name(dir_, 1), head_, ignored)) head_ = genesis;
        lines = 0;
    }
    lines_ = lines;
    open_current();
}

audit_log::~audit_log() {
    std::lock_guard lock(mu_);
    log_head("shutdown");
    if (file_ != nullptr) std::fclose(file_);
}

void audit_log::open_current() {
    const std::string path = file_name(dir_, 0);
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot open audit log " + path + ": " + std::strerror(errno));
    struct stat st {};
    ::fstat(fd, &st);
    size_ = static_cast<std::uint64_t>(st.st_size);
    file_ = ::fdopen(fd, "a");
    if (file_ == nullptr) {
        ::close(fd);
        throw std::runtime_error("cannot open audit log " + path);
    }
}

void audit_log::log_head(const char* why) {
    op_.write("audit_chain_head", {{"why", why}, {"server", server_}, {"file", file_name(dir_, 0)},
                                   {"lines", lines_}, {"head", head_}});
}

void audit_log::rotate() {
    log_head("rotation");
    std::fclose(file_);
    file_ = nullptr;
    ::unlink(file_name(dir_, kept_files).c_str());
    for (int n = kept_files - 1; n >= 0; --n)
        if (exists(file_name(dir_, n))) ::rename(file_name(dir_, n).c_str(), file_name(dir_, n + 1).c_str());
    lines_ = 0;
    open_current();
}

void audit_log::write(const char* event, nlohmann::json fields) {
    fields["ts"] = format_rfc3339(system_clock().now());
    fields["event"] = event;
    fields["server"] = server_;
    std::lock_guard lock(mu_);
    fields["prev"] = head_;
    const std::string line = fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (size_ > 0 && size_ + line.size() + 1 > max_bytes_) rotate();
    if (file_ == nullptr) return;
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fputc('\n', file_);
    std::fflush(file_);
    size_ += line.size() + 1;
    ++lines_;
    head_ = sha256_hex(line);
}

std::string audit_log::head() const {
    std::lock_guard lock(mu_);
    return head_;
}

int audit_log::verify(const std::string& dir, std::ostream& out) {
    int oldest = -1;
    for (int n = kept_files; n >= 0; --n)
        if (exists(file_name(dir, n))) {
            oldest = n;
            break;
        }
    if (oldest < 0) {
        out << "no audit log in " << dir << "\n";
        return 2;
    }
    std::string prev;  // empty: the first line, whose predecessor may be in a dropped file
    std::uint64_t total = 0;
    for (int n = oldest; n >= 0; --n) {
        const std::string path = file_name(dir, n);
        std::ifstream in(path, std::ios::binary);
        if (!in) continue;
        std::string line;
        std::uint64_t number = 0;
        while (std::getline(in, line)) {
            ++number;
            const auto broken = [&](const std::string& why) {
                out << "audit chain broken at " << path << ":" << number << ": " << why << "\n";
                return 1;
            };
            const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_discarded() || !j.is_object() || !j.contains("prev") || !j["prev"].is_string())
                return broken("not an audit line");
            const std::string claimed = j["prev"].get<std::string>();
            if (prev.empty()) {
                if (claimed != genesis)
                    out << "note: the chain begins in a file that was rotated away; checking from " << path << "\n";
            } else if (claimed != prev) {
                return broken("its prev does not match the line before it (edited, inserted or deleted lines)");
            }
            prev = sha256_hex(line);
            ++total;
        }
    }
    out << "audit chain intact: " << total << " lines; head " << (prev.empty() ? genesis : prev) << "\n"
        << "compare the head with the last audit_chain_head in the operational log to detect a cut tail\n";
    return 0;
}

}  // namespace tokenauth::server
