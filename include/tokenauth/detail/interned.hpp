// tokenauth internal: a table of distinct values, each named by a small index, that readers
// consult without a lock while a writer adds (scope_table, network_table).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <stdexcept>

#include "config.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN
namespace detail {

/// Index 0 is reserved (the "no restriction" value); values are only ever added. get() is
/// lock-free and safe from any thread while intern() runs; intern() serialises writers and
/// may throw std::bad_alloc or std::length_error. T needs operator<.
template <class T>
class interned_table {
public:
    interned_table() = default;
    interned_table(const interned_table&) = delete;
    interned_table& operator=(const interned_table&) = delete;
    ~interned_table() {
        for (auto& c : chunks_) delete[] c.load(std::memory_order_relaxed);
    }

    /// The index of v, adding it when new. Never returns 0. what names the table in the
    /// std::length_error thrown when it is full.
    std::uint32_t intern(const T& v, const char* what) {
        std::lock_guard lock(mu_);
        const auto it = index_.find(v);
        if (it != index_.end()) return it->second;
        const std::uint32_t i = next_;
        if (i / chunk_size >= chunk_count) throw std::length_error(what);
        T* chunk = chunks_[i / chunk_size].load(std::memory_order_relaxed);
        if (chunk == nullptr) {
            chunk = new T[chunk_size];
            chunks_[i / chunk_size].store(chunk, std::memory_order_release);
        }
        chunk[i % chunk_size] = v;
        index_.emplace(v, i);
        ++next_;
        return i;
    }

    /// The value of index i, or nullptr for 0 and for an index intern() never returned.
    const T* get(std::uint32_t i) const noexcept {
        if (i == 0 || i / chunk_size >= chunk_count) return nullptr;
        const T* chunk = chunks_[i / chunk_size].load(std::memory_order_acquire);
        return chunk == nullptr ? nullptr : &chunk[i % chunk_size];
    }

private:
    static constexpr std::size_t chunk_size = 1024;
    static constexpr std::size_t chunk_count = 4096;  // up to 4,194,303 distinct values
    std::array<std::atomic<T*>, chunk_count> chunks_{};
    std::mutex mu_;
    std::map<T, std::uint32_t> index_;
    std::uint32_t next_ = 1;
};

}  // namespace detail
TOKENAUTH_ABI_END
}  // namespace tokenauth
