// tokenauth::memory_token_store: a token_store (token_store.hpp) in memory, a concurrent
// implementation for many readers and rare writers: 64 shards of
// open-addressing tables behind one distributed reader-writer lock. A reader writes only a
// counter on its own cache line, so readers on different cores never contend (a per-shard
// std::shared_mutex makes every reader write the lock's line: two cores then pass those
// lines back and forth, and two threads gain 1.6x instead of 2x). Writers take the lock
// exclusively: they are rare, and each holds it for one insert, update or shard growth.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <shared_mutex>

#include "detail/config.hpp"
#include "detail/distributed_rwlock.hpp"
#include "detail/huge_array.hpp"
#include "token_store.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN

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

    /// verify() and record_use() in one lookup, under one lock (for a token without network
    /// bounds: the validator records a bounded one's use once its address is allowed).
    lookup_result verify_use(const access_token& t, token_record& out, timestamp now) const noexcept override {
        return verify_and(t, out, [now](const slot& e) noexcept {
            if (e.network == network_table::unbounded && e.enabled && !is_expired(e.expires_at, now)) touch(e, now);
        });
    }

    /// The network bounds that records' network fields name: intern a token's bounds here
    /// and put the index in its record.
    network_table& networks() noexcept { return networks_; }
    const network_table& networks() const noexcept { return networks_; }

    bool address_allowed(std::uint32_t network, const ip_address* client) const noexcept override {
        return networks_.allows(network, client);
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
        if (e.upgrade.exchange(1, std::memory_order_relaxed) == 0) {
            const std::size_t i = upgrade_count_.fetch_add(1, std::memory_order_relaxed);
            if (i < upgrade_capacity) {
                upgrades_[i].id = t.id;
                upgrades_[i].hash = current;
                upgrades_[i].ready.store(true, std::memory_order_release);
            } else {
                e.upgrade.store(0, std::memory_order_relaxed);
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
        return e == nullptr ? 0 : e->last_used.load(std::memory_order_relaxed) & ~timestamp{1};
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
                timestamp v = e.last_used.load(std::memory_order_relaxed);
                if ((v & 1) == 0) continue;
                // Clear the mark unless a newer use replaced the value meanwhile (it stays
                // marked and is collected next time).
                if (e.last_used.compare_exchange_strong(v, v & ~timestamp{1}, std::memory_order_relaxed))
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
            e.upgrade.store(0, std::memory_order_relaxed);
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

    /// Sets a token's network bounds (an index of networks(); 0: any address); false when
    /// unknown.
    bool set_network(const token_id& id, std::uint32_t network) noexcept {
        return update(id, [&](slot& e) { e.network = network; return true; });
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
    // One table entry: 88 bytes, all zero when empty (huge_array hands out zeroed memory).
    // `used` marks occupied slots. last_used and upgrade are the fields readers write (under
    // the shared lock), so they are atomics, mutable through the const slot a reader holds;
    // last_used's low bit marks a use not yet taken by take_unsaved_uses(), upgrade a legacy
    // record already queued. Writers copy slots only under the exclusive lock.
    struct slot {
        token_id id;
        secret_hash hash;
        std::uint64_t user_auth_id;
        timestamp expires_at;
        mutable std::atomic<timestamp> last_used;
        std::uint32_t scope;
        std::uint32_t network;
        bool enabled;
        bool used;
        hash_scheme scheme;
        mutable std::atomic<std::uint8_t> upgrade;

        slot() = default;
        slot(const slot& o) noexcept { *this = o; }
        slot& operator=(const slot& o) noexcept {
            id = o.id;
            hash = o.hash;
            user_auth_id = o.user_auth_id;
            expires_at = o.expires_at;
            last_used.store(o.last_used.load(std::memory_order_relaxed), std::memory_order_relaxed);
            scope = o.scope;
            network = o.network;
            enabled = o.enabled;
            used = o.used;
            scheme = o.scheme;
            upgrade.store(o.upgrade.load(std::memory_order_relaxed), std::memory_order_relaxed);
            return *this;
        }

        void assign(const token_record& r) noexcept {
            id = r.id;
            hash = r.hash;
            user_auth_id = r.user_auth_id;
            expires_at = r.expires_at;
            scope = r.scope;
            network = r.network;
            enabled = r.enabled;
            scheme = r.scheme;
            upgrade.store(0, std::memory_order_relaxed);
            if (!used) last_used.store(0, std::memory_order_relaxed);
            used = true;
        }
        void copy_to(token_record& out) const noexcept {
            out.id = id;
            out.hash = hash;
            out.user_auth_id = user_auth_id;
            out.expires_at = expires_at;
            out.enabled = enabled;
            out.scope = scope;
            out.network = network;
            out.scheme = scheme;
        }
    };
    static_assert(sizeof(slot) == 88, "the per-token budget counts on an 88-byte slot");
    static_assert(std::atomic<timestamp>::is_always_lock_free && std::atomic<std::uint8_t>::is_always_lock_free,
                  "readers write last_used and upgrade without a lock");

    // Readers hold the shared lock: last_used is the one field they write, atomically.
    static void touch(const slot& e, timestamp now) noexcept {
        const timestamp seen = e.last_used.load(std::memory_order_relaxed);
        if (now - (seen & ~timestamp{1}) < 1000000000) return;
        e.last_used.store((now & ~timestamp{1}) | 1, std::memory_order_relaxed);
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
    network_table networks_;

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

TOKENAUTH_ABI_END
}  // namespace tokenauth
