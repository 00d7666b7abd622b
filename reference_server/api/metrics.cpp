// GET /metrics: what the server counts, in the Prometheus text format (OpenMetrics when the
// scraper's Accept asks for it). Every value is read from counters and cached state: a
// scrape does no database round trip and recounts no tokens.
#include "metrics.hpp"

#include <build_info.hpp>

namespace tokenauth::server {

namespace {

void write_metrics(const services& svc, const metrics_sources& src, exposition& out) {
    const server_metrics& m = svc.metrics;
    using labels = exposition::labels;

    const token_census::counts t = src.store.token_counts();
    out.family("tokenauth_tokens", "gauge", "Access tokens by state (disabled and enabled: not expired).");
    out.sample("", labels{{"state", "enabled"}}, t.enabled);
    out.sample("", labels{{"state", "disabled"}}, t.disabled);
    out.sample("", labels{{"state", "expired"}}, t.expired);
    out.family("tokenauth_tokens_expiring", "gauge", "Access tokens not yet expired, by when they expire.");
    static const char* const within[] = {"1d", "7d", "30d", "later", "never"};
    for (std::size_t i = 0; i < token_census::bucket_count; ++i)
        out.sample("", labels{{"within", within[i]}}, t.expiring[i]);

    out.family("tokenauth_validations", "counter", "Credentials validated, by the validator's result.");
    for (std::size_t i = 0; i < server_metrics::errc_count; ++i) {
        const auto e = static_cast<errc>(i);
        // Only what validating a credential can return (the rest are parse errors of other inputs).
        if ((e >= errc::bad_time && e <= errc::too_long) || e == errc::bad_address) continue;
        out.sample("_total", labels{{"result", to_identifier(e)}}, m.validations.value(i));
    }

    out.family("tokenauth_logins", "counter", "Password logins, by result.");
    static const char* const login_words[] = {"success", "failure", "throttled", "busy"};
    for (std::size_t i = 0; i < static_cast<std::size_t>(login_result::count); ++i)
        out.sample("_total", labels{{"result", login_words[i]}}, m.logins.value(i));

    out.family("tokenauth_throttled", "counter", "Requests refused with 429 by a failure throttle.");
    out.sample("_total", {}, m.throttled.value(0));
    const transport::counts conn = src.connections();
    out.family("tokenauth_shed", "counter", "Work refused under load: 503 while the password slots stayed busy, connections over a limit.");
    out.sample("_total", labels{{"reason", "password_slots"}}, m.shed.value(0));
    out.sample("_total", labels{{"reason", "connection_limit"}}, conn.refused);
    out.family("tokenauth_connections", "gauge", "Client connections open.");
    out.sample("", {}, static_cast<std::uint64_t>(conn.connections));
    out.family("tokenauth_connections_limit", "gauge", "Client connections allowed at once (--max-connections, within the open-file limit).");
    out.sample("", {}, static_cast<std::uint64_t>(conn.limit));
    out.family("tokenauth_http_requests_in_flight", "gauge", "Requests being handled by a worker (this scrape included).");
    out.sample("", {}, static_cast<std::uint64_t>(conn.in_flight));

    out.family("tokenauth_http_request_duration_seconds", "histogram",
               "Time from a complete request to its response, by route template, method and status class.");
    for (const auto& r : m.http.rows())
        out.histogram(labels{{"route", *r.route}, {"method", *r.method}, {"status_class", r.status_class}},
                      r.buckets.data(), request_durations::bounds.data(), request_durations::bounds.size(),
                      static_cast<double>(r.sum_ns) / 1e9);

    if (const auto f = src.store.follower()) {
        out.family("tokenauth_follower_lag_seconds", "gauge",
                   "Seconds since this server last knew it had every change of the shared database.");
        out.sample("", {}, f->lag_seconds);
        out.family("tokenauth_follower_lag_changes", "gauge", "Changes the last read of the change log applied.");
        out.sample("", {}, f->last_changes);
        out.family("tokenauth_follower_snapshot_loads", "counter",
                   "Snapshots of the shared database loaded whole: the first, and one each time the follower was behind what the change log pruned.");
        out.sample("_total", {}, f->snapshot_loads);
        out.family("tokenauth_follower_changes_applied", "counter", "Change-log rows the follower applied one by one.");
        out.sample("_total", {}, f->changes_applied);
        out.family("tokenauth_writes_grouped", "counter",
                   "Token writes this server committed in one transaction with others (group commit).");
        out.sample("_total", {}, f->writes_grouped);
    }
    out.family("tokenauth_directory_entities_copied", "counter",
               "Users, groups, roles and membership sets written into a version of the directory: read from the "
               "database, or copied with a node that an earlier version shares. A write costs what it changes.");
    out.sample("_total", {}, persistent_copies::entries().load(std::memory_order_relaxed));
    out.family("tokenauth_directory_nodes_copied", "counter",
               "Index nodes of the directory copied because an earlier version shares them.");
    out.sample("_total", {}, persistent_copies::nodes().load(std::memory_order_relaxed));
    out.family("tokenauth_audit_log_bytes", "gauge", "Size of the current audit log file.");
    out.sample("", {}, src.audit_bytes());
    out.family("tokenauth_build", "info", "The server's build.");
    out.sample("_info", labels{{"version", build::version}, {"api_version", build::api_version}, {"flavor", build::flavor}},
               std::uint64_t{1});
}

}  // namespace

static void serve_metrics(request_context& ctx, const metrics_sources& src) {
    const auto accept = ctx.req.headers.find("Accept");
    exposition out(accept != ctx.req.headers.end() && exposition::wants_openmetrics(accept->second));
    write_metrics(ctx.svc, src, out);
    ctx.res.status = 200;
    const char* type = out.content_type();
    ctx.res.set_content(out.finish(), type);
}

void register_metrics(router& r, const metrics_sources& src, auth a) {
    r.get("/metrics", [&src, a](request_context& ctx) {
        if (a == auth::required) ctx.require(privilege::metrics_read);
        serve_metrics(ctx, src);
    }, a);
}

}  // namespace tokenauth::server
