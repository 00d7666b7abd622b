#include "metrics.hpp"

#include <cmath>
#include <cstdio>

namespace tokenauth::server {

std::size_t counter_shard() noexcept {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed);
    return mine;
}

std::size_t request_durations::add_route(std::string route, std::string method) {
    for (std::size_t i = 0; i < routes_.size(); ++i)
        if (routes_[i].route == route && routes_[i].method == method) return i;
    routes_.emplace_back();
    routes_.back().route = std::move(route);
    routes_.back().method = std::move(method);
    return routes_.size() - 1;
}

void request_durations::observe(std::size_t i, int status, std::chrono::nanoseconds d) noexcept {
    const int cls = std::min(5, std::max(1, status / 100));
    cell& c = routes_[i].by_class[static_cast<std::size_t>(cls - 1)];
    const double seconds = std::chrono::duration<double>(d).count();
    std::size_t b = 0;
    while (b < bounds.size() && seconds > bounds[b]) ++b;
    c.buckets[b].fetch_add(1, std::memory_order_relaxed);
    c.sum_ns.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(0, d.count())), std::memory_order_relaxed);
}

std::vector<request_durations::row> request_durations::rows() const {
    static const char* const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    std::vector<row> out;
    for (const route_cells& r : routes_)
        for (std::size_t k = 0; k < r.by_class.size(); ++k) {
            row x{&r.route, &r.method, classes[k], {}, r.by_class[k].sum_ns.load(std::memory_order_relaxed)};
            std::uint64_t total = 0;
            for (std::size_t b = 0; b < x.buckets.size(); ++b)
                total += x.buckets[b] = r.by_class[k].buckets[b].load(std::memory_order_relaxed);
            if (total > 0) out.push_back(x);
        }
    return out;
}

std::string route_template(std::string_view pattern) {
    std::string out;
    int depth = 0, captures = 0;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '\\' && i + 1 < pattern.size()) {
            if (depth == 0) out += pattern[i + 1];
            ++i;
        } else if (c == '(') {
            if (depth++ == 0) out += "{" + std::to_string(++captures) + "}";
        } else if (c == ')') {
            --depth;
        } else if (depth == 0) {
            out += c;
        }
    }
    if (out.size() > 2 && out.compare(out.size() - 2, 2, "/?") == 0) out.resize(out.size() - 2);
    if (out.size() > 2 && out.compare(out.size() - 2, 2, ".*") == 0) out.replace(out.size() - 2, 2, "*");
    return out;
}

void exposition::family(std::string_view name, std::string_view type, std::string_view help) {
    name_.assign(name);
    // Prometheus text names a counter's family by its sample (..._total), OpenMetrics by
    // the name without the suffix; an info family is a gauge of 1 in Prometheus text.
    std::string meta(name);
    std::string_view shown_type = type;
    if (!om_ && type == "counter") meta += "_total";
    if (!om_ && type == "info") {
        meta += "_info";
        shown_type = "gauge";
    }
    out_ += "# HELP " + meta + " " + std::string(help) + "\n";
    out_ += "# TYPE " + meta + " " + std::string(shown_type) + "\n";
}

void exposition::write_labels(const labels& l) {
    if (l.empty()) return;
    out_ += '{';
    bool first = true;
    for (const auto& [k, v] : l) {
        if (!first) out_ += ',';
        first = false;
        out_ += k;
        out_ += "=\"";
        for (const char c : v) {
            if (c == '\\') out_ += "\\\\";
            else if (c == '"') out_ += "\\\"";
            else if (c == '\n') out_ += "\\n";
            else out_ += c;
        }
        out_ += '"';
    }
    out_ += '}';
}

void exposition::write_value(double v) {
    if (std::isinf(v)) {
        out_ += v > 0 ? "+Inf" : "-Inf";
        return;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.12g", v);
    out_ += buf;
}

void exposition::sample(std::string_view suffix, const labels& l, double value) {
    out_ += name_;
    out_ += suffix;
    write_labels(l);
    out_ += ' ';
    write_value(value);
    out_ += '\n';
}

void exposition::sample(std::string_view suffix, const labels& l, std::uint64_t value) {
    out_ += name_;
    out_ += suffix;
    write_labels(l);
    out_ += ' ';
    out_ += std::to_string(value);
    out_ += '\n';
}

void exposition::histogram(const labels& l, const std::uint64_t* buckets, const double* bounds, std::size_t n,
                           double sum) {
    std::uint64_t cumulative = 0;
    labels with_le = l;
    with_le.emplace_back("le", "");
    char buf[32];
    for (std::size_t i = 0; i <= n; ++i) {
        cumulative += buckets[i];
        if (i < n) {
            std::snprintf(buf, sizeof buf, "%g", bounds[i]);
            with_le.back().second = buf;
        } else {
            with_le.back().second = "+Inf";
        }
        sample("_bucket", with_le, cumulative);
    }
    sample("_sum", l, sum);
    sample("_count", l, cumulative);
}

std::string exposition::finish() {
    if (om_) out_ += "# EOF\n";
    return std::move(out_);
}

const char* exposition::content_type() const noexcept {
    return om_ ? "application/openmetrics-text; version=1.0.0; charset=utf-8" : "text/plain; version=0.0.4; charset=utf-8";
}

bool exposition::wants_openmetrics(std::string_view accept) noexcept {
    return accept.find("application/openmetrics-text") != std::string_view::npos;
}

}  // namespace tokenauth::server
