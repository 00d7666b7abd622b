// The server's counters and the Prometheus text exposition they are scraped in (OpenMetrics
// when the scraper asks for it). Written here: the format is small and no client library is
// in Debian.
//
// Counters on the request path are sharded: each thread adds to its own cache line, so two
// threads validating tokens never pass a line back and forth; a scrape adds the shards up.
// No label ever carries a user name, an address, a raw path or a token id: every label value
// comes from a fixed set (errc names, route templates, result words).
#pragma once

#include <tokenauth/error.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tokenauth::server {

/// Which shard the calling thread adds to: threads take shards round-robin as they first count.
std::size_t counter_shard() noexcept;

/// N counters, each split over shards: add() touches only the calling thread's cache lines.
template <std::size_t N>
class sharded_counters {
public:
    static constexpr std::size_t shards = 16;

    void add(std::size_t i, std::uint64_t n = 1) noexcept {
        shard_[counter_shard() % shards].v[i].fetch_add(n, std::memory_order_relaxed);
    }
    std::uint64_t value(std::size_t i) const noexcept {
        std::uint64_t sum = 0;
        for (const shard& s : shard_) sum += s.v[i].load(std::memory_order_relaxed);
        return sum;
    }

private:
    struct alignas(64) shard {
        std::array<std::atomic<std::uint64_t>, N> v{};
    };
    std::array<shard, shards> shard_{};
};

/// Request durations by route template, method and status class, in OpenTelemetry's
/// default HTTP buckets (seconds).
class request_durations {
public:
    static constexpr std::array<double, 14> bounds{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                                   0.5,   0.75, 1.0,   2.5,  5.0,   7.5, 10.0};

    /// Registers a (route, method) pair before serving; returns its index for observe().
    std::size_t add_route(std::string route, std::string method);
    /// Counts one request of route index i answered with status after d.
    void observe(std::size_t i, int status, std::chrono::nanoseconds d) noexcept;

    struct row {
        const std::string* route;
        const std::string* method;
        const char* status_class;
        std::array<std::uint64_t, bounds.size() + 1> buckets;  ///< not cumulative; last: above 10 s
        std::uint64_t sum_ns;
    };
    /// Every (route, method, status class) that has counted a request.
    std::vector<row> rows() const;

private:
    struct cell {
        std::array<std::atomic<std::uint64_t>, bounds.size() + 1> buckets{};
        std::atomic<std::uint64_t> sum_ns{0};
    };
    struct route_cells {
        std::string route, method;
        std::array<cell, 5> by_class;  ///< 1xx .. 5xx
    };
    std::deque<route_cells> routes_;  ///< grows only before serving; never moves an element
};

/// The route template of a registered path pattern: each capture becomes {1}, {2}, ...; an
/// optional trailing slash is dropped and a trailing ".*" becomes "*".
std::string route_template(std::string_view pattern);

enum class login_result : std::size_t { success, failure, throttled, busy, count };

/// What the request path counts.
struct server_metrics {
    static constexpr std::size_t errc_count = static_cast<std::size_t>(errc::bad_address) + 1;

    sharded_counters<errc_count> validations;  ///< by the validator's result (ok included)
    sharded_counters<static_cast<std::size_t>(login_result::count)> logins;
    sharded_counters<1> throttled;  ///< requests refused with 429 by a failure throttle
    sharded_counters<1> shed;       ///< requests refused with 503 because the password slots stayed busy
    request_durations http;

    void validation(errc e) noexcept { validations.add(static_cast<std::size_t>(e)); }
    void login(login_result r) noexcept { logins.add(static_cast<std::size_t>(r)); }
};

/// Writes one exposition: Prometheus text (version 0.0.4) or OpenMetrics 1.0.
class exposition {
public:
    explicit exposition(bool openmetrics) : om_(openmetrics) {}

    using labels = std::vector<std::pair<const char*, std::string>>;

    /// Starts a metric family. type: counter, gauge, histogram or info; name without the
    /// _total (counter) or _info (info) suffix.
    void family(std::string_view name, std::string_view type, std::string_view help);
    /// One sample of the current family; suffix: "_total", "_bucket", "" ...
    void sample(std::string_view suffix, const labels& l, double value);
    void sample(std::string_view suffix, const labels& l, std::uint64_t value);
    /// A histogram's buckets (cumulated here), _sum and _count.
    void histogram(const labels& l, const std::uint64_t* buckets, const double* bounds, std::size_t n,
                   double sum);

    /// The document, and its Content-Type.
    std::string finish();
    const char* content_type() const noexcept;

    /// True when an Accept header asks for OpenMetrics.
    static bool wants_openmetrics(std::string_view accept) noexcept;

private:
    void write_labels(const labels& l);
    void write_value(double v);

    bool om_;
    std::string name_;
    std::string out_;
};

}  // namespace tokenauth::server
