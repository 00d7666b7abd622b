// tokenauth: where the validator looks tokens up.
//
// token_store is the interface a server implements over its own storage. memory_token_store
// is a concurrent in-memory implementation for many readers and rare writers: 64 shards of
// open-addressing tables behind one distributed reader-writer lock. A reader writes only a
// counter on its own cache line, so readers on different cores never contend (a per-shard
// std::shared_mutex makes every reader write the lock's line: two cores then pass those
// lines back and forth, and two threads gain 1.6x instead of 2x). Writers take the lock
// exclusively: they are rare, and each holds it for one insert, update or shard growth.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <cstdint>
#include <limits>
#include <atomic>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>

#include "secret.hpp"
#include "time.hpp"
#include "token.hpp"

namespace tokenauth {

namespace detail {

/// A zero-initialised array of trivially copyable T. Arrays of 1 MiB or more are mapped in
/// whole, 2 MiB-aligned huge pages (madvise MADV_HUGEPAGE, where the kernel allows it): at a
/// million tokens a lookup then costs a cache miss the caller can prefetch, not a page walk
/// it cannot. Smaller arrays come from calloc. Throws std::bad_alloc.
template <class T>
class huge_array {
public:
    huge_array() noexcept = default;
    explicit huge_array(std::size_t n) {
        constexpr std::size_t huge = std::size_t{2} << 20;
        std::size_t bytes = n * sizeof(T);
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
        } else if (n != 0) {
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
        if (mapped_) ::munmap(data_, bytes_);
        else std::free(data_);
        data_ = nullptr;
    }
    T* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t bytes_ = 0;
    bool mapped_ = false;
};

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

/// What the validator needs to know about one access token. Holds no secret, only its hash.
struct token_record {
    token_id id;
    secret_hash hash;
    std::uint64_t user_auth_id = 0;
    timestamp expires_at = never_expires;
    bool enabled = true;
    std::uint32_t scope = 0;  ///< a scope_table index; 0: the user's full privileges
    hash_scheme scheme = current_hash_scheme;  ///< how hash was computed
};

/// The record to store for a token: its id, the hash of its secret (never the secret
/// itself), its user, expiry, state and scope.
[[nodiscard]] inline token_record make_token_record(const access_token& t, std::uint64_t user,
                                                   timestamp expires_at = never_expires, bool enabled = true,
                                                   std::uint32_t scope = 0) noexcept {
    token_record r;
    r.id = t.id;
    r.hash = hash_access_token(t);
    r.user_auth_id = user;
    r.expires_at = expires_at;
    r.enabled = enabled;
    r.scope = scope;
    return r;
}

/// What token_store::verify found.
enum class lookup_result { found, unknown, bad_secret };

/// Looks tokens up by id. Implementations must be safe to call from many threads at once
/// and must neither throw nor allocate in find() or verify().
class token_store {
public:
    virtual ~token_store() = default;
    /// Copies the record for id into out and returns true, or returns false when unknown.
    [[nodiscard]] virtual bool find(const token_id& id, token_record& out) const noexcept = 0;

    /// Looks up t.id and checks t.secret against the stored hash in constant time; copies
    /// the record into out when found. The default composes find() and verify_secret(): an
    /// unknown id is hashed (with the current scheme) against a dummy hash, so that it costs
    /// what a known id of the current scheme costs and the time of a request does not tell
    /// which ids exist. A store may override it (to overlap its memory access with the
    /// hashing, say) but must keep that property.
    [[nodiscard]] virtual lookup_result verify(const access_token& t, token_record& out) const noexcept {
        static constexpr secret_hash dummy{};
        const bool known = find(t.id, out);
        const bool match =
            verify_secret(t.id.bytes, t.secret, known ? out.hash : dummy, known ? out.scheme : current_hash_scheme);
        if (!known) return lookup_result::unknown;
        return match ? lookup_result::found : lookup_result::bad_secret;
    }

    /// Keeps now as the last use of token id (the validator accepted it). Must neither block
    /// for long, throw nor allocate. The default does nothing.
    virtual void record_use(const token_id& id, timestamp now) const noexcept {
        (void)id;
        (void)now;
    }

    /// True while the store may have missed revocations (a replica that has lost its
    /// source for longer than its bound): the validator then refuses every access token
    /// with errc::store_stale. Must be cheap; the default, for stores that cannot fall
    /// behind, is false.
    [[nodiscard]] virtual bool stale() const noexcept { return false; }

    /// verify(), then record_use() when the token was found enabled and unexpired at now:
    /// what the validator calls. A store may do both in one lookup.
    [[nodiscard]] virtual lookup_result verify_use(const access_token& t, token_record& out,
                                                   timestamp now) const noexcept {
        const lookup_result r = verify(t, out);
        if (r == lookup_result::found && out.enabled && !is_expired(out.expires_at, now)) record_use(t.id, now);
        return r;
    }
};

/// A concurrent in-memory token store (see the file comment). Writers may throw
/// std::bad_alloc when a shard grows; readers never throw or allocate.
class memory_token_store final : public token_store {
public:
    static constexpr std::size_t shard_count = 64;

    memory_token_store() = default;
    memory_token_store(const memory_token_store&) = delete;
    memory_token_store& operator=(const memory_token_store&) = delete;

    bool find(const token_id& id, token_record& out) const noexcept override {
        const std::uint64_t h = id.hash();
        const shard& s = shard_for(h);
        std::shared_lock lock(mu_);
        const slot* e = s.lookup(id, h);
        if (e == nullptr) return false;
        e->copy_to(out);
        return true;
    }

    /// Hashes the secret while the slot's cache lines are on their way (the prefetch is
    /// issued first), so at a million tokens a lookup costs little more than the hash. The
    /// hash is computed for unknown ids too: unknown and wrong-secret take the same time.
    /// A record of the legacy scheme costs its hash as well; when it matches, the current
    /// scheme's hash (already computed) is queued for take_upgrades().
    lookup_result verify(const access_token& t, token_record& out) const noexcept override {
        return verify_and(t, out, [](const slot&) noexcept {});
    }

    /// verify() and record_use() in one lookup, under one lock.
    lookup_result verify_use(const access_token& t, token_record& out, timestamp now) const noexcept override {
        return verify_and(t, out, [now](const slot& e) noexcept {
            if (e.enabled && !is_expired(e.expires_at, now)) touch(e, now);
        });
    }

    /// Keeps now as the token's last use, at most one write a second per token (so threads
    /// validating one token do not keep passing its cache line back and forth). The use is
    /// marked unsaved until take_unsaved_uses() collects it.
    void record_use(const token_id& id, timestamp now) const noexcept override {
        const std::uint64_t h = id.hash();
        const shard& s = shard_for(h);
        std::shared_lock lock(mu_);
        if (const slot* e = s.lookup(id, h)) touch(*e, now);
    }

private:
    template <class OnFound>
    lookup_result verify_and(const access_token& t, token_record& out, OnFound&& on_found) const noexcept {
        const std::uint64_t h = t.id.hash();
        const shard& s = shard_for(h);
        std::shared_lock lock(mu_);
        if (!s.slots.empty()) {
            // The home slot and the next few: where a probe ends at the load kept here.
            const char* p = reinterpret_cast<const char*>(&s.slots[s.home(h)]);
            for (int line = 0; line < 4; ++line) __builtin_prefetch(p + 64 * line);
        }
        const secret_hash actual = hash_secret(t.id.bytes, t.secret);
        const slot* e = s.lookup(t.id, h);
        if (e != nullptr && e->scheme != current_hash_scheme) return verify_legacy(t, *e, actual, out, on_found);
        // An unknown id is compared against a dummy too: the two rejections do the same work
        // (counted by tests/ct/equal_cost.cpp).
        static constexpr secret_hash dummy{};
        const bool match = constant_time_equal(actual.bytes, e == nullptr ? dummy.bytes : e->hash.bytes);
        if (e == nullptr) return lookup_result::unknown;
        if (!match) return lookup_result::bad_secret;
        e->copy_to(out);
        on_found(*e);
        return lookup_result::found;
    }

    // A record of an older scheme: its own hash decides; on a match the current hash goes
    // to the upgrade queue, once per record (its `upgrade` flag), without blocking or
    // allocating. A full queue leaves the flag clear, so a later use tries again.
    template <class Slot, class OnFound>
    lookup_result verify_legacy(const access_token& t, const Slot& e, const secret_hash& current, token_record& out,
                                OnFound&& on_found) const noexcept {
        const secret_hash old = hash_secret(t.id.bytes, t.secret, e.scheme);
        if (!constant_time_equal(old.bytes, e.hash.bytes)) return lookup_result::bad_secret;
        if (__atomic_exchange_n(&const_cast<Slot&>(e).upgrade, std::uint8_t{1}, __ATOMIC_RELAXED) == 0) {
            const std::size_t i = upgrade_count_.fetch_add(1, std::memory_order_relaxed);
            if (i < upgrade_capacity) {
                upgrades_[i].id = t.id;
                upgrades_[i].hash = current;
                upgrades_[i].ready.store(true, std::memory_order_release);
            } else {
                __atomic_store_n(&const_cast<Slot&>(e).upgrade, std::uint8_t{0}, __ATOMIC_RELAXED);
            }
        }
        e.copy_to(out);
        on_found(e);
        return lookup_result::found;
    }

public:

    /// The token's last use seen by record_use(), or 0 when none (or unknown).
    timestamp last_used(const token_id& id) const noexcept {
        const std::uint64_t h = id.hash();
        const shard& s = shard_for(h);
        std::shared_lock lock(mu_);
        const slot* e = s.lookup(id, h);
        return e == nullptr ? 0 : __atomic_load_n(&e->last_used, __ATOMIC_RELAXED) & ~timestamp{1};
    }

    /// Calls f(record) for every token (its last use aside), under the readers' lock; f must
    /// not call back into the store. For reconciling the index with a database, not for the
    /// validation path.
    template <class F>
    void for_each(F&& f) const {
        std::shared_lock lock(mu_);
        token_record r;
        for (const shard& s : shards_)
            for (const slot& e : s.slots) {
                if (!e.used) continue;
                e.copy_to(r);
                f(static_cast<const token_record&>(r));
            }
    }

    /// Calls f(id, time) for every use recorded since the last call, and marks them saved.
    /// A server writes them to its database in one batch. f must not call back into the
    /// store.
    template <class F>
    void take_unsaved_uses(F&& f) const {
        std::shared_lock lock(mu_);
        for (const shard& s : shards_)
            for (const slot& e : s.slots) {
                if (!e.used) continue;
                timestamp v = __atomic_load_n(&e.last_used, __ATOMIC_RELAXED);
                if ((v & 1) == 0) continue;
                // Clear the mark unless a newer use replaced the value meanwhile (it stays
                // marked and is collected next time).
                if (__atomic_compare_exchange_n(&const_cast<slot&>(e).last_used, &v, v & ~timestamp{1}, false,
                                                __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                    f(e.id, v & ~timestamp{1});
            }
    }

    /// Calls f(id, hash) for every record of an older scheme whose token validated since the
    /// last call, with the token's hash under the current scheme, and empties the queue. A
    /// server writes them to its database in its batch of last-used times, then calls
    /// upgrade(). f must not call back into the store.
    template <class F>
    void take_upgrades(F&& f) const {
        std::unique_lock lock(mu_);  // no reader is between claiming an entry and filling it
        const std::size_t n = std::min(upgrade_count_.load(std::memory_order_relaxed), upgrade_capacity);
        for (std::size_t i = 0; i < n; ++i) {
            pending_upgrade& u = upgrades_[i];
            if (!u.ready.load(std::memory_order_acquire)) continue;
            u.ready.store(false, std::memory_order_relaxed);
            f(u.id, u.hash);
            wipe(&u.hash, sizeof u.hash);
        }
        upgrade_count_.store(0, std::memory_order_relaxed);
    }

    /// Replaces an older-scheme record's hash with hash, of the current scheme (from
    /// take_upgrades). False when the token is gone or already current.
    bool upgrade(const token_id& id, const secret_hash& hash) noexcept {
        return update(id, [&](slot& e) {
            if (e.scheme == current_hash_scheme) return false;
            e.hash = hash;
            e.scheme = current_hash_scheme;
            e.upgrade = 0;
            return true;
        });
    }

    /// Inserts a record, or replaces the record with the same id. Returns true when new.
    bool upsert(const token_record& r) {
        const std::uint64_t h = r.id.hash();
        shard& s = shard_for(h);
        std::unique_lock lock(mu_);
        if (slot* e = s.lookup(r.id, h)) {
            e->assign(r);
            return false;
        }
        s.reserve_one();
        s.place(r, h);
        return true;
    }

    /// Makes room so that the next upsert of a new id in id's shard cannot allocate (and so
    /// cannot fail). A server calls it before committing a token to its database, then
    /// upserts after the commit. Throws std::bad_alloc.
    void reserve_for(const token_id& id) {
        const std::uint64_t h = id.hash();
        shard& s = shard_for(h);
        std::unique_lock lock(mu_);
        s.reserve_one();
    }

    /// Removes the token; false when it was not there.
    bool erase(const token_id& id) noexcept {
        const std::uint64_t h = id.hash();
        shard& s = shard_for(h);
        std::unique_lock lock(mu_);
        return s.erase(id, h);
    }

    /// Enables or disables a token; false when unknown.
    bool set_enabled(const token_id& id, bool enabled) noexcept {
        return update(id, [&](slot& e) { e.enabled = enabled; return true; });
    }

    /// Sets a token's expiration (never_expires for none); false when unknown.
    bool set_expiration(const token_id& id, timestamp expires_at) noexcept {
        return update(id, [&](slot& e) { e.expires_at = expires_at; return true; });
    }

    /// Number of tokens.
    std::size_t size() const noexcept {
        std::size_t n = 0;
        std::shared_lock lock(mu_);
        for (const shard& s : shards_) n += s.count;
        return n;
    }

    /// Bytes held by the tables (slots and shard headers), for memory accounting.
    std::size_t memory_bytes() const noexcept {
        std::size_t n = sizeof(*this);
        std::shared_lock lock(mu_);
        for (const shard& s : shards_) n += s.slots.bytes();
        return n;
    }

private:
    // One table entry: 80 bytes. `used` marks occupied slots. last_used and upgrade are
    // written by readers (atomically, under the shared lock); last_used's low bit marks a
    // use not yet taken by take_unsaved_uses(), upgrade a legacy record already queued.
    struct slot {
        token_id id;
        secret_hash hash;
        std::uint64_t user_auth_id;
        timestamp expires_at;
        timestamp last_used;
        std::uint32_t scope;
        bool enabled;
        bool used;
        hash_scheme scheme;
        std::uint8_t upgrade;

        void assign(const token_record& r) noexcept {
            id = r.id;
            hash = r.hash;
            user_auth_id = r.user_auth_id;
            expires_at = r.expires_at;
            scope = r.scope;
            enabled = r.enabled;
            scheme = r.scheme;
            upgrade = 0;
            if (!used) last_used = 0;
            used = true;
        }
        void copy_to(token_record& out) const noexcept {
            out.id = id;
            out.hash = hash;
            out.user_auth_id = user_auth_id;
            out.expires_at = expires_at;
            out.enabled = enabled;
            out.scope = scope;
            out.scheme = scheme;
        }
    };
    static_assert(sizeof(slot) == 80, "the per-token budget counts on an 80-byte slot");

    // Readers hold the shared lock: last_used is the one field they write, atomically.
    static void touch(const slot& e, timestamp now) noexcept {
        const timestamp seen = __atomic_load_n(&e.last_used, __ATOMIC_RELAXED);
        if (now - (seen & ~timestamp{1}) < 1000000000) return;
        __atomic_store_n(&const_cast<slot&>(e).last_used, (now & ~timestamp{1}) | 1, __ATOMIC_RELAXED);
    }

    // Linear probing over a table whose size need not be a power of two: the home slot is
    // the high half of hash * capacity. Deletion shifts later entries back, so there are no
    // tombstones and lookups stay short. Load is kept at or below 3/4.
    struct alignas(64) shard {
        detail::huge_array<slot> slots;
        std::size_t count = 0;

        std::size_t home(std::uint64_t h) const noexcept {
            return static_cast<std::size_t>((static_cast<detail::uint128>(h) * slots.size()) >> 64);
        }
        std::size_t next(std::size_t i) const noexcept { return i + 1 == slots.size() ? 0 : i + 1; }

        const slot* lookup(const token_id& id, std::uint64_t h) const noexcept {
            if (slots.empty()) return nullptr;
            for (std::size_t i = home(h);; i = next(i)) {
                const slot& e = slots[i];
                if (!e.used) return nullptr;
                if (e.id == id) return &e;
            }
        }
        slot* lookup(const token_id& id, std::uint64_t h) noexcept {
            return const_cast<slot*>(static_cast<const shard*>(this)->lookup(id, h));
        }
        void place(const token_record& r, std::uint64_t h) noexcept {
            std::size_t i = home(h);
            while (slots[i].used) i = next(i);
            slots[i].assign(r);
            ++count;
        }
        void place(const slot& e) noexcept {
            std::size_t i = home(e.id.hash());
            while (slots[i].used) i = next(i);
            slots[i] = e;
            ++count;
        }
        void reserve_one() {
            if ((count + 1) * 4 <= slots.size() * 3) return;
            detail::huge_array<slot> old(slots.size() < 16 ? 32 : slots.size() + slots.size() / 2);
            old.swap(slots);
            count = 0;
            for (const slot& e : old)
                if (e.used) place(e);
        }
        bool erase(const token_id& id, std::uint64_t h) noexcept {
            slot* e = lookup(id, h);
            if (e == nullptr) return false;
            std::size_t hole = static_cast<std::size_t>(e - slots.data());
            // Backward-shift deletion: move each following entry of the run into the hole
            // when the hole lies on its probe path (between its home and its position).
            for (std::size_t j = next(hole);; j = next(j)) {
                slot& f = slots[j];
                if (!f.used) break;
                const std::size_t k = home(f.id.hash());
                const bool movable = hole <= j ? (k <= hole || k > j) : (k <= hole && k > j);
                if (movable) {
                    slots[hole] = f;
                    hole = j;
                }
            }
            slots[hole].used = false;
            wipe(&slots[hole].hash, sizeof(secret_hash));
            --count;
            return true;
        }
    };

    template <class F>
    bool update(const token_id& id, F&& f) noexcept {
        const std::uint64_t h = id.hash();
        shard& s = shard_for(h);
        std::unique_lock lock(mu_);
        slot* e = s.lookup(id, h);
        if (e == nullptr) return false;
        return f(*e);
    }

    // Shard from the low bits; the home slot from the high bits (ids are random, so the two
    // are independent).
    const shard& shard_for(std::uint64_t h) const noexcept { return shards_[h % shard_count]; }
    shard& shard_for(std::uint64_t h) noexcept { return shards_[h % shard_count]; }

    mutable detail::distributed_rwlock mu_;
    std::array<shard, shard_count> shards_;

    // Legacy records whose tokens validated, with their current-scheme hashes: readers
    // claim an entry with one fetch_add (only on that rare path); take_upgrades() drains.
    static constexpr std::size_t upgrade_capacity = 256;
    struct pending_upgrade {
        token_id id;
        secret_hash hash;
        std::atomic<bool> ready{false};
    };
    mutable std::array<pending_upgrade, upgrade_capacity> upgrades_;
    mutable std::atomic<std::size_t> upgrade_count_{0};
};

}  // namespace tokenauth
