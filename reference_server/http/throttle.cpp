#include "throttle.hpp"

#include <algorithm>

namespace tokenauth::server {
namespace {

std::int64_t ticks(steady_time t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

// ---------------------------------------------------------------------------------------
// failure_throttle

std::int64_t failure_throttle::blocked_for(const std::string& key, steady_time now) const {
    if (!enabled() || any_blocked_until_.load(std::memory_order_relaxed) <= ticks(now)) return 0;
    std::lock_guard lock(mu_);
    const auto it = entries_.find(key);
    if (it == entries_.end() || it->second.blocked_until <= now) return 0;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(it->second.blocked_until - now).count();
    return (left + 999) / 1000;
}

void failure_throttle::failure(const std::string& key, steady_time now) {
    if (!enabled()) return;
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
        if (entries_.size() >= policy_.max_keys) prune(now);
        if (entries_.size() >= policy_.max_keys) return;
        it = entries_.emplace(key, entry{}).first;
    }
    entry& e = it->second;
    if (e.blocked_until > now) return;  // attempts while blocked do not count
    if (e.failures > 0 && now - e.last_failure > policy_.window) e = entry{};  // a quiet window forgets
    e.last_failure = now;
    if (++e.failures < policy_.threshold) return;
    if (e.next_delay.count() == 0) e.next_delay = policy_.first_delay;
    e.blocked_until = now + e.next_delay;
    e.next_delay = std::min(e.next_delay * 2, policy_.max_delay);
    const std::int64_t until = ticks(e.blocked_until);
    std::int64_t seen = any_blocked_until_.load(std::memory_order_relaxed);
    while (seen < until && !any_blocked_until_.compare_exchange_weak(seen, until, std::memory_order_relaxed)) {
    }
}

void failure_throttle::success(const std::string& key) {
    if (!enabled()) return;
    std::lock_guard lock(mu_);
    entries_.erase(key);
}

std::size_t failure_throttle::tracked() const {
    std::lock_guard lock(mu_);
    return entries_.size();
}

void failure_throttle::prune(steady_time now) {
    for (auto it = entries_.begin(); it != entries_.end();) {
        const entry& e = it->second;
        if (e.blocked_until <= now && now - e.last_failure > policy_.window) it = entries_.erase(it);
        else ++it;
    }
}

// ---------------------------------------------------------------------------------------
// password_gate

bool password_gate::enter(std::chrono::milliseconds patience) {
    std::unique_lock lock(mu_);
    if (free_ == 0) {
        if (waiting_ >= max_waiting_) return false;
        ++waiting_;
        const bool got = cv_.wait_for(lock, patience, [&] { return free_ > 0; });
        --waiting_;
        if (!got) return false;
    }
    --free_;
    return true;
}

void password_gate::leave() {
    {
        std::lock_guard lock(mu_);
        ++free_;
    }
    cv_.notify_one();
}

// ---------------------------------------------------------------------------------------
// failure_log

void failure_log::emit(const char* event, nlohmann::json fields) {
    if (mirror_ != nullptr) {
        nlohmann::json copy = fields;
        copy["outcome"] = "failure";
        mirror_->write(event, std::move(copy));
    }
    log_.write(event, std::move(fields));
}

failure_log::failure_log(event_log& log, std::size_t full_lines, std::chrono::seconds interval,
                         std::size_t max_addresses)
    : log_(log), full_lines_(full_lines), interval_(interval), max_addresses_(max_addresses) {
    flusher_ = std::thread([this] {
        std::unique_lock lock(mu_);
        while (!stop_) {
            cv_.wait_for(lock, std::chrono::seconds(1));
            lock.unlock();
            flush(std::chrono::steady_clock::now());
            lock.lock();
        }
    });
}

failure_log::~failure_log() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    flusher_.join();
    flush(std::chrono::steady_clock::now(), true);
}

bool failure_log::admit(const char* event, const std::string& remote_addr, const std::string& reason) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    std::pair<std::string, std::string> key{event, remote_addr};
    auto it = tallies_.find(key);
    if (it == tallies_.end()) {
        if (tallies_.size() >= max_addresses_) key.second = "(other addresses)";
        it = tallies_.emplace(std::move(key), tally{}).first;
        it->second.interval_start = now;
    }
    tally& t = it->second;
    if (t.written >= full_lines_) {
        ++t.suppressed;
        ++t.reasons[reason];
        return false;
    }
    ++t.written;
    return true;
}

void failure_log::flush(steady_time now, bool everything) {
    std::vector<nlohmann::json> lines;
    std::vector<std::string> events;
    {
        std::lock_guard lock(mu_);
        for (auto it = tallies_.begin(); it != tallies_.end();) {
            tally& t = it->second;
            if (!everything && now - t.interval_start < interval_) {
                ++it;
                continue;
            }
            if (t.suppressed > 0) {
                nlohmann::json reasons = nlohmann::json::object();
                for (const auto& [r, n] : t.reasons) reasons[r] = n;
                lines.push_back({{"remote_addr", it->first.second},
                                 {"count", t.suppressed},
                                 {"logged_in_full", t.written},
                                 {"interval_seconds", interval_.count()},
                                 {"reasons", std::move(reasons)}});
                events.push_back(it->first.first + "_repeated");
            }
            it = tallies_.erase(it);
        }
    }
    for (std::size_t i = 0; i < lines.size(); ++i) emit(events[i].c_str(), std::move(lines[i]));
}

}  // namespace tokenauth::server
