// Abuse controls that need no storage: failure throttles with doubling delays, a bound on
// concurrent password hashing, and an aggregating log for repeated failures. All state is
// per server process and bounded in size.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "log.hpp"

namespace tokenauth::server {

using steady_time = std::chrono::steady_clock::time_point;

/// Counts failures per key (a client address, or an address and a user name). After
/// `threshold` failures within `window`, the key is blocked for a delay that starts at
/// first_delay and doubles with each later failure, up to max_delay. Attempts while
/// blocked are not counted. A quiet window (no failure for `window`) forgets the key;
/// success() forgets it at once. Never sleeps: callers answer 429 with the seconds left.
class failure_throttle {
public:
    struct policy {
        std::size_t threshold = 5;  ///< 0: never blocks
        std::chrono::seconds window{300};
        std::chrono::seconds first_delay{1};
        std::chrono::seconds max_delay{900};
        std::size_t max_keys = 100000;  ///< beyond this, new keys are not tracked until old ones expire
    };

    explicit failure_throttle(policy p) : policy_(p) {}

    /// Seconds until key may try again (rounded up), or 0. Lock-free while nobody is blocked.
    std::int64_t blocked_for(const std::string& key, steady_time now) const;
    void failure(const std::string& key, steady_time now);
    void success(const std::string& key);
    std::size_t tracked() const;
    bool enabled() const noexcept { return policy_.threshold > 0; }

private:
    struct entry {
        std::size_t failures = 0;
        steady_time last_failure{};
        steady_time blocked_until{};
        std::chrono::seconds next_delay{0};
    };
    void prune(steady_time now);

    policy policy_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, entry> entries_;
    std::atomic<std::int64_t> any_blocked_until_{0};  ///< latest blocked_until, ns since steady epoch
};

/// At most `slots` password hashes (64 MiB of Argon2id memory each) at once, and at most
/// twice as many requests waiting for one (so a flood parks only a few workers).
class password_gate {
public:
    explicit password_gate(std::size_t slots) : free_(slots == 0 ? 1 : slots), max_waiting_(2 * free_) {}
    /// Takes a slot, waiting at most `patience`; false at once when too many wait already,
    /// or when none came free in time.
    bool enter(std::chrono::milliseconds patience);
    void leave();

    /// Holds a slot for a scope.
    class pass {
    public:
        explicit pass(password_gate& g) : gate_(&g) {}
        pass(const pass&) = delete;
        pass& operator=(const pass&) = delete;
        ~pass() { gate_->leave(); }

    private:
        password_gate* gate_;
    };

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::size_t free_;
    std::size_t max_waiting_;
    std::size_t waiting_ = 0;
};

/// Writes failure events so that a flood cannot grow the log: per client address, the
/// first `full_lines` failures of each interval are written in full; the rest are counted
/// by reason and summed up in one "<event>_repeated" line per address when the interval
/// ends (a background thread flushes, and the destructor flushes what is left).
class failure_log {
public:
    failure_log(event_log& log, std::size_t full_lines = 10, std::chrono::seconds interval = std::chrono::seconds(60),
                std::size_t max_addresses = 10000);
    ~failure_log();
    failure_log(const failure_log&) = delete;
    failure_log& operator=(const failure_log&) = delete;

    /// Logs (or only counts) one failure; make_fields() builds the line's other fields (never
    /// a secret), called only when the line is written in full.
    template <class MakeFields>
    void write(const char* event, const std::string& remote_addr, const std::string& reason, MakeFields&& make_fields) {
        if (!admit(event, remote_addr, reason)) return;
        nlohmann::json fields = make_fields();
        fields["remote_addr"] = remote_addr;
        fields["reason"] = reason;
        emit(event, std::move(fields));
    }
    /// Also writes every line (full ones and summaries) to sink; set before use.
    void mirror_to(line_sink* sink) noexcept { mirror_ = sink; }
    /// Writes the summaries of every interval that has ended by now.
    void flush(steady_time now, bool everything = false);

private:
    void emit(const char* event, nlohmann::json fields);
    /// Counts the failure; true when it is to be written in full.
    bool admit(const char* event, const std::string& remote_addr, const std::string& reason);

    struct tally {
        steady_time interval_start{};
        std::size_t written = 0;
        std::size_t suppressed = 0;
        std::map<std::string, std::size_t> reasons;
    };

    event_log& log_;
    line_sink* mirror_ = nullptr;
    std::size_t full_lines_;
    std::chrono::seconds interval_;
    std::size_t max_addresses_;
    std::mutex mu_;
    std::map<std::pair<std::string, std::string>, tally> tallies_;  ///< (event, address)
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread flusher_;
};

}  // namespace tokenauth::server
