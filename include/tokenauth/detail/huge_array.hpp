// tokenauth::detail::huge_array: the memory_token_store's tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

#include "config.hpp"

#if TOKENAUTH_HAVE_MMAP
#include <sys/mman.h>
#endif

namespace tokenauth {
TOKENAUTH_ABI_BEGIN
namespace detail {

/// A zero-initialised array of T (whose all-zero bytes are a valid, empty T). Arrays of 1 MiB
/// or more are mapped in whole, 2 MiB-aligned huge pages (madvise MADV_HUGEPAGE, where the
/// kernel allows it): at a million tokens a lookup then costs a cache miss the caller can
/// prefetch, not a page walk it cannot. Smaller arrays, and every array where there is no
/// mmap (TOKENAUTH_HAVE_MMAP 0), come from calloc. Throws std::bad_alloc.
template <class T>
class huge_array {
public:
    huge_array() noexcept = default;
    explicit huge_array(std::size_t n) {
        [[maybe_unused]] constexpr std::size_t huge = std::size_t{2} << 20;
        [[maybe_unused]] std::size_t bytes = n * sizeof(T);
#if TOKENAUTH_HAVE_MMAP
        if (bytes >= (std::size_t{1} << 20)) {
            bytes = (bytes + huge - 1) / huge * huge;
            // Over-map by one huge page, then trim to a 2 MiB-aligned region.
            void* raw = ::mmap(nullptr, bytes + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (raw == MAP_FAILED) throw std::bad_alloc();
            const auto start = reinterpret_cast<std::uintptr_t>(raw);
            const std::uintptr_t aligned = (start + huge - 1) / huge * huge;
            if (aligned > start) ::munmap(raw, aligned - start);
            if (const std::size_t tail = start + bytes + huge - (aligned + bytes)) ::munmap(reinterpret_cast<void*>(aligned + bytes), tail);
            ::madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);
            data_ = reinterpret_cast<T*>(aligned);
            mapped_ = true;
            size_ = bytes / sizeof(T);  // use the whole mapping
        } else
#endif
        if (n != 0) {
            data_ = static_cast<T*>(std::calloc(n, sizeof(T)));
            if (data_ == nullptr) throw std::bad_alloc();
            size_ = n;
        }
        bytes_ = mapped_ ? bytes : n * sizeof(T);
    }
    huge_array(const huge_array&) = delete;
    huge_array& operator=(const huge_array&) = delete;
    ~huge_array() { release(); }
    void swap(huge_array& o) noexcept {
        std::swap(data_, o.data_);
        std::swap(size_, o.size_);
        std::swap(bytes_, o.bytes_);
        std::swap(mapped_, o.mapped_);
    }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    std::size_t bytes() const noexcept { return bytes_; }
    T* data() noexcept { return data_; }
    const T* data() const noexcept { return data_; }
    T& operator[](std::size_t i) noexcept { return data_[i]; }
    const T& operator[](std::size_t i) const noexcept { return data_[i]; }
    T* begin() noexcept { return data_; }
    T* end() noexcept { return data_ + size_; }
    const T* begin() const noexcept { return data_; }
    const T* end() const noexcept { return data_ + size_; }

private:
    void release() noexcept {
        if (data_ == nullptr) return;
#if TOKENAUTH_HAVE_MMAP
        if (mapped_) ::munmap(data_, bytes_);
        else
#endif
            std::free(data_);
        data_ = nullptr;
    }
    T* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t bytes_ = 0;
    bool mapped_ = false;
};

}  // namespace detail
TOKENAUTH_ABI_END
}  // namespace tokenauth
