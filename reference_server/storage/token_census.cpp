#include "token_census.hpp"

#include <algorithm>
#include <iterator>

namespace tokenauth::server {

namespace {
constexpr timestamp day = 86'400'000'000'000;
/// The edges' offsets from now: a token expiring at or after now + offset[k] is past edge k.
constexpr std::array<timestamp, 4> offset{0, day, 7 * day, 30 * day};
}  // namespace

std::size_t token_census::slot_of(timestamp expires_at) const noexcept {
    // Expired when now > expires_at (tokenauth::is_expired): past edge 0 when expires_at >= now.
    std::size_t s = 0;
    while (s < offset.size() && expires_at >= now_ + offset[s]) ++s;
    return s;
}

void token_census::advance(timestamp now) {
    if (now <= now_) return;  // (a clock stepped back moves nothing back)
    if (now_ == 0) {          // the first call: no token has been placed yet
        now_ = now;
        return;
    }
    // Edge k moves from now_ + offset[k] to now + offset[k]: the tokens in between drop from
    // slot k + 1 to slot k. (The order of the edges does not matter: the counts only add.)
    for (std::size_t k = 0; k < offset.size(); ++k) {
        const auto first = by_expiry_.lower_bound(entry{now_ + offset[k], token_id{}, false});
        const auto last = by_expiry_.lower_bound(entry{now + offset[k], token_id{}, false});
        for (auto it = first; it != last; ++it) {
            --slots_[k + 1];
            ++slots_[k];
            if (k == 0 && !it->enabled) --disabled_live_;
        }
    }
    now_ = now;
}

void token_census::add(const token_record& r, timestamp now) {
    std::lock_guard lock(mu_);
    advance(now);
    if (r.expires_at == never_expires) {
        ++never_;
        if (!r.enabled) ++disabled_live_;
        return;
    }
    by_expiry_.insert(entry{r.expires_at, r.id, r.enabled});
    const std::size_t s = slot_of(r.expires_at);
    ++slots_[s];
    if (s > 0 && !r.enabled) ++disabled_live_;
}

void token_census::remove(const token_record& r, timestamp now) {
    std::lock_guard lock(mu_);
    advance(now);
    if (r.expires_at == never_expires) {
        --never_;
        if (!r.enabled) --disabled_live_;
        return;
    }
    const auto it = by_expiry_.find(entry{r.expires_at, r.id, r.enabled});
    if (it == by_expiry_.end()) return;
    const std::size_t s = slot_of(r.expires_at);
    --slots_[s];
    if (s > 0 && !it->enabled) --disabled_live_;
    by_expiry_.erase(it);
}

void token_census::stage(const token_record& r) {
    std::lock_guard lock(mu_);
    staged_.push_back(entry{r.expires_at, r.id, r.enabled});
}

void token_census::commit_staged(timestamp now) {
    std::lock_guard lock(mu_);
    advance(now);
    std::sort(staged_.begin(), staged_.end());
    auto hint = by_expiry_.end();
    for (const entry& e : staged_) {
        if (e.expires_at == never_expires) {
            ++never_;
            if (!e.enabled) ++disabled_live_;
            continue;
        }
        // In ascending order: each goes just before the end (amortized constant) when the set
        // held nothing larger.
        hint = std::next(by_expiry_.insert(hint, e));
        const std::size_t s = slot_of(e.expires_at);
        ++slots_[s];
        if (s > 0 && !e.enabled) ++disabled_live_;
    }
    std::vector<entry>().swap(staged_);
}

token_census::counts token_census::read(timestamp now) {
    std::lock_guard lock(mu_);
    advance(now);
    counts c;
    c.expired = slots_[0];
    c.disabled = disabled_live_;
    c.expiring[within_1d] = slots_[1];
    c.expiring[within_7d] = slots_[2];
    c.expiring[within_30d] = slots_[3];
    c.expiring[later] = slots_[4];
    c.expiring[never] = never_;
    std::uint64_t live = never_;
    for (std::size_t s = 1; s < slots_.size(); ++s) live += slots_[s];
    c.enabled = live - disabled_live_;
    return c;
}

}  // namespace tokenauth::server
