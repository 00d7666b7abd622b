// GET /metrics (metrics.cpp) and what it reads besides the request counters.
#pragma once

#include <functional>

#include "../http/transport.hpp"
#include "../storage/published.hpp"
#include "router.hpp"

namespace tokenauth::server {

struct metrics_sources {
    const published_store& store;                 ///< the token census, the follower
    std::function<transport::counts()> connections;  ///< the main listener's connections
    std::function<std::uint64_t()> audit_bytes;
};

/// GET /metrics. auth::required (the main listener): a bearer with PRIVILEGE_METRICS_READ;
/// auth::none: the --metrics-listen listener. src must outlive the router.
void register_metrics(router& r, const metrics_sources& src, auth a);

}  // namespace tokenauth::server
