// How many tokens are enabled, disabled and expired, and how many expire within a day, a
// week, a month, later or never: kept as the token index changes, never recounted.
//
// Tokens with an expiry sit in an expiry-ordered set. Each bucket edge (now, now + 1 d,
// now + 7 d, now + 30 d) moves with the clock; advancing it moves only the tokens it passes
// from one bucket to the next, so a read costs the tokens that crossed an edge since the
// last read, however many tokens there are.
#pragma once

#include <tokenauth/store.hpp>
#include <tokenauth/time.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <set>
#include <vector>

namespace tokenauth::server {

class token_census {
public:
    /// Expiry buckets of the tokens not yet expired.
    enum bucket : std::size_t { within_1d, within_7d, within_30d, later, never, bucket_count };

    struct counts {
        std::uint64_t enabled = 0, disabled = 0, expired = 0;  ///< disabled: not expired
        std::array<std::uint64_t, bucket_count> expiring{};    ///< of those not expired, by bucket
    };

    /// now: the clock's current time; advances the edges first.
    void add(const token_record& r, timestamp now);
    void remove(const token_record& r, timestamp now);
    counts read(timestamp now);
    /// A store's first load: records staged in any order enter at commit_staged(), sorted, so
    /// the set is built in linear time (a million tokens: a fraction of a second).
    void stage(const token_record& r);
    void commit_staged(timestamp now);

private:
    struct entry {
        timestamp expires_at;
        token_id id;
        mutable bool enabled;
        bool operator<(const entry& o) const noexcept {
            return expires_at != o.expires_at ? expires_at < o.expires_at
                                               : std::memcmp(id.bytes, o.id.bytes, sizeof id.bytes) < 0;
        }
    };
    void advance(timestamp now);
    /// 0: expired; 1..4: within 1 d, 7 d, 30 d, later (of the edges as of now_).
    std::size_t slot_of(timestamp expires_at) const noexcept;

    std::mutex mu_;
    std::set<entry> by_expiry_;
    std::vector<entry> staged_;
    timestamp now_ = 0;                 ///< the edges are now_ + offsets
    std::array<std::uint64_t, 5> slots_{};  ///< tokens with an expiry, by slot_of
    std::uint64_t never_ = 0;           ///< tokens without one
    std::uint64_t disabled_live_ = 0;   ///< disabled and not expired
};

}  // namespace tokenauth::server
