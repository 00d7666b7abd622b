// tokenauth::detail::distributed_rwlock: the memory_token_store's reader-writer lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>

#include "config.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN
namespace detail {

/// A reader-writer lock whose readers each count on their own cache line (one of 64, chosen
/// per thread), so concurrent readers share no written memory. Writers exclude each other
/// with a mutex, raise a flag, and wait for every reader count to drain. Readers that see
/// the flag step back until it falls. Meets the SharedMutex requirements used here.
class distributed_rwlock {
public:
    static constexpr std::size_t slots = 64;

    void lock_shared() noexcept {
        std::atomic<std::uint32_t>& n = counters_[slot()].n;
        for (;;) {
            n.fetch_add(1, std::memory_order_seq_cst);
            if (!writer_.load(std::memory_order_seq_cst)) return;
            n.fetch_sub(1, std::memory_order_release);
            while (writer_.load(std::memory_order_acquire)) std::this_thread::yield();
        }
    }
    void unlock_shared() noexcept { counters_[slot()].n.fetch_sub(1, std::memory_order_release); }

    void lock() {
        writers_.lock();
        writer_.store(true, std::memory_order_seq_cst);
        for (const auto& c : counters_)
            while (c.n.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();
    }
    void unlock() noexcept {
        writer_.store(false, std::memory_order_release);
        writers_.unlock();
    }

private:
    static std::size_t slot() noexcept {
        static std::atomic<std::size_t> next{0};
        // Constant-initialised, so reading it is one thread-local load (a dynamically
        // initialised thread_local costs a call through its init wrapper, twice a lookup).
        static thread_local std::size_t mine = slots;
        if (mine == slots) mine = next.fetch_add(1, std::memory_order_relaxed) % slots;
        return mine;
    }
    struct alignas(64) counter {
        std::atomic<std::uint32_t> n{0};
    };
    counter counters_[slots];
    alignas(64) std::atomic<bool> writer_{false};
    std::mutex writers_;
};

}  // namespace detail
TOKENAUTH_ABI_END
}  // namespace tokenauth
