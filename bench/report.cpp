// Turns one run's benchmark output into the performance tables: the library (a Google
// Benchmark JSON report of tokenauth-bench, with repetitions), and optionally the HTTP and
// PostgreSQL benchmarks (the JSON that bench/http/run.sh and bench/postgres/run.sh write when
// TOKENAUTH_BENCH_JSON is set) and the machine (bench/report.sh). Every target is a ratio
// against a floor measured in the same run, and "met" or "missed" is computed here.
//
// Usage: tokenauth-bench-report [--markdown] LIB.json [--http HTTP.json] [--pg PG.json]
//                               [--compare COMPARE.json] [--scale SCALE.json] [--machine MACHINE.json]
// Text (default) is what bench/run.sh prints; --markdown writes docs/performance.md's tables.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

using nlohmann::json;

namespace {

std::optional<json> load(const std::string& path) {
    std::ifstream f(path);
    if (!f) return std::nullopt;
    json j = json::parse(f, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return j;
}

std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

/// Median and spread of a list of measurements.
struct stats {
    double median = 0, min = 0, max = 0;
    std::size_t n = 0;
};
stats of(std::vector<double> v) {
    stats s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.n = v.size();
    s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    s.min = v.front();
    s.max = v.back();
    return s;
}
std::vector<double> numbers(const json& j, const char* key) {
    std::vector<double> out;
    if (j.contains(key) && j.at(key).is_array())
        for (const auto& x : j.at(key)) out.push_back(x.get<double>());
    return out;
}

/// One row of a table.
struct row {
    std::string what, value, ratio, target, verdict;
};

class report {
public:
    explicit report(bool markdown) : markdown_(markdown) {}

    void section(const std::string& title, const std::string& floor_note) {
        sections_.push_back({title, floor_note, {}});
    }
    void add(std::string what, std::string value, std::string ratio = "", std::string target = "",
             std::optional<bool> met = std::nullopt) {
        std::string verdict;
        if (met) {
            verdict = *met ? "met" : "missed";
            ++(*met ? met_ : missed_);
        }
        sections_.back().rows.push_back({std::move(what), std::move(value), std::move(ratio), std::move(target), verdict});
    }
    void print() const {
        for (const auto& s : sections_) {
            if (markdown_) {
                std::printf("## %s\n\n%s\n\n| benchmark | result | ratio | target | |\n|---|---|---|---|---|\n", s.title.c_str(),
                            s.note.c_str());
                for (const auto& r : s.rows)
                    std::printf("| %s | %s | %s | %s | %s |\n", r.what.c_str(), r.value.c_str(), r.ratio.c_str(),
                                r.target.c_str(), r.verdict.c_str());
                std::printf("\n");
            } else {
                std::printf("%s (%s)\n", s.title.c_str(), s.note.c_str());
                for (const auto& r : s.rows)
                    std::printf("  %-52s %-34s %-12s %-10s %s\n", r.what.c_str(), r.value.c_str(), r.ratio.c_str(),
                                r.target.c_str(), r.verdict.c_str());
            }
        }
        const std::string total = std::to_string(met_) + " target(s) met, " + std::to_string(missed_) + " missed";
        std::printf(markdown_ ? "**%s.**\n" : "%s\n", total.c_str());
    }

private:
    struct table {
        std::string title, note;
        std::vector<row> rows;
    };
    bool markdown_;
    std::vector<table> sections_;
    int met_ = 0, missed_ = 0;
};

/// Google Benchmark results by name: the median aggregate and its coefficient of variation.
struct gbench {
    std::map<std::string, json> median, cv;
    int repetitions = 1;

    explicit gbench(const json& report) {
        for (const auto& b : report.at("benchmarks")) {
            const std::string agg = b.value("aggregate_name", "");
            const std::string name = b.value("run_name", b.value("name", ""));
            if (agg == "median" || (agg.empty() && !median.count(name))) median[name] = b;
            if (agg == "cv") cv[name] = b;
            repetitions = std::max(repetitions, b.value("repetitions", 1));
        }
    }
    double ns(const std::string& n) const { return median.count(n) ? median.at(n).value("real_time", 0.0) : 0.0; }
    double rate(const std::string& n) const { return median.count(n) ? median.at(n).value("items_per_second", 0.0) : 0.0; }
    double counter(const std::string& n, const char* c) const { return median.count(n) ? median.at(n).value(c, 0.0) : 0.0; }
    /// "12.3 ns ±1.2%": the median and the repetitions' coefficient of variation.
    std::string time(const std::string& n) const {
        std::string s = fmt("%.1f ns", ns(n));
        if (cv.count(n)) s += fmt(" ±%.1f%%", 100 * cv.at(n).value("real_time", 0.0));
        return s;
    }
};

void library(report& r, const gbench& g) {
    const double floor = g.ns("BM_Floor_TokenHash");
    r.section("Library (tokenauth-bench)",
              "Medians of " + std::to_string(g.repetitions) +
                  " repetitions, ± the coefficient of variation across them. The floor is `BM_Floor_TokenHash`, "
                  "the SHA-256 that validation computes (55 bytes, one block).");
    r.add("`BM_Floor_TokenHash` (the floor)", g.time("BM_Floor_TokenHash"), "1", "");
    r.add("`BM_Sha256_OneBlock_Hardware` / `BM_Sha256_Portable55` / `BM_Hash_Blake2b_Legacy`",
          fmt("%.1f", g.ns("BM_Sha256_OneBlock_Hardware")) + " / " + fmt("%.1f", g.ns("BM_Sha256_Portable55")) + " / " +
              fmt("%.1f ns", g.ns("BM_Hash_Blake2b_Legacy")));
    r.add("`BM_Parse_AccessToken`", g.time("BM_Parse_AccessToken"), fmt("%.2f", g.ns("BM_Parse_AccessToken") / floor));
    for (const char* n : {"BM_Validate_Hit/1000", "BM_Validate_Hit/100000"})
        r.add(std::string("`") + n + "`", g.time(n), fmt("%.2f", g.ns(n) / floor));
    const double hit = g.ns("BM_Validate_Hit/1000000") / floor;
    r.add("`BM_Validate_Hit/1000000`", g.time("BM_Validate_Hit/1000000"), fmt("%.2f", hit), "<= 3.00", hit <= 3.0);
    const double unknown = g.ns("BM_Validate_UnknownId") / g.ns("BM_Validate_BadSecret");
    r.add("`BM_Validate_UnknownId` / `BM_Validate_BadSecret` (equal cost)",
          g.time("BM_Validate_UnknownId") + " / " + g.time("BM_Validate_BadSecret"), fmt("%.2f", unknown), "0.90 to 1.10",
          unknown >= 0.9 && unknown <= 1.1);
    r.add("`BM_Validate_Expired`", g.time("BM_Validate_Expired"), fmt("%.2f", g.ns("BM_Validate_Expired") / floor));
    r.add("`BM_Validate_Hit_Legacy` (a BLAKE2b record before its upgrade)", g.time("BM_Validate_Hit_Legacy"),
          fmt("%.2f", g.ns("BM_Validate_Hit_Legacy") / floor));
    if (g.ns("BM_Validate_Hit_Bounded") > 0)
        r.add("`BM_Validate_Hit_Bounded` (4 allowed_cidrs; / `BM_Validate_Hit/1000`)", g.time("BM_Validate_Hit_Bounded"),
              fmt("%.2f", g.ns("BM_Validate_Hit_Bounded") / g.ns("BM_Validate_Hit/1000")));
    for (const char* n : {"BM_Validate_Malformed", "BM_Validate_BadChecksum"}) {
        const double x = g.ns(n) / floor;
        r.add(std::string("`") + n + "`", g.time(n), fmt("%.2f", x), "<= 1.00", x <= 1.0);
    }
    const double t1 = g.rate("BM_Validate_Hit_Threads/real_time/threads:1");
    const double t2 = g.rate("BM_Validate_Hit_Threads/real_time/threads:2");
    const double f1 = g.rate("BM_Floor_TokenHash_Threads/real_time/threads:1");
    const double f2 = g.rate("BM_Floor_TokenHash_Threads/real_time/threads:2");
    const double scaling = t1 > 0 ? t2 / t1 : 0;
    r.add("`BM_Validate_Hit_Threads`: 2 threads / 1 thread", fmt("%.2fx", scaling),
          f1 > 0 ? fmt("floor %.2fx", f2 / f1) : "", ">= 1.80", scaling >= 1.8);
    const double bytes = g.counter("BM_Store_Memory/1000000/iterations:1", "rss_bytes_per_token");
    r.add("`memory_token_store` bytes per token at 1,000,000 (RSS; tables)",
          fmt("%.0f B", bytes) + fmt("; %.0f B", g.counter("BM_Store_Memory/1000000/iterations:1", "table_bytes_per_token")),
          "", "<= 192 B", bytes > 0 && bytes <= 192);
}

void http(report& r, const json& h) {
    r.section("HTTP (bench/http/run.sh)",
              "`tokenauth-server --http` on loopback, wrk with 8 keep-alive connections, " +
                  std::to_string(h.value("duration_s", 0)) + " s a run; version, who-am-i and verify interleaved, " +
                  std::to_string(h.value("rounds", 0)) +
                  " rounds; median (min to max) requests/s. The floor is `GET /v1/version`, no authentication.");
    const stats version = of(numbers(h.at("version"), "rps"));
    auto line = [&](const char* key) {
        const stats s = of(numbers(h.at(key), "rps"));
        const stats p50 = of(numbers(h.at(key), "p50_us")), p99 = of(numbers(h.at(key), "p99_us"));
        return std::make_pair(s, fmt("%.0f req/s", s.median) + fmt(" (%.0f", s.min) + fmt(" to %.0f)", s.max) +
                                     fmt(", p50 %.0f us", p50.median) + fmt(", p99 %.0f us", p99.median));
    };
    r.add("`GET /v1/version` (the floor)", line("version").second, "1");
    const auto [whoami, whoami_text] = line("whoami");
    const double ratio = whoami.median / version.median;
    r.add("`GET /v1/session/who-am-i` with an access token", whoami_text, fmt("%.2f", ratio), ">= 0.95", ratio >= 0.95);
    if (h.contains("verify")) {  // the edge proxies' endpoint (docs/edge.md)
        const auto [verify, verify_text] = line("verify");
        const double v = verify.median / version.median;
        r.add("`GET /v1/auth/verify` with an access token", verify_text, fmt("%.2f", v), ">= 0.95", v >= 0.95);
    }
    if (h.contains("tls_version") && h.contains("tls_verify")) {  // the same over HTTPS
        const stats tls_version = of(numbers(h.at("tls_version"), "rps"));
        r.add("`GET /v1/version` over HTTPS (the HTTPS floor)", line("tls_version").second, "1");
        const auto [tls_verify, tls_text] = line("tls_verify");
        const double v = tls_verify.median / tls_version.median;
        r.add("`GET /v1/auth/verify` over HTTPS", tls_text, fmt("%.2f", v), ">= 0.95", v >= 0.95);
    }
    if (h.contains("nginx_plain") && h.contains("nginx_guarded")) {  // docs/edge.md's nginx
        const stats plain = of(numbers(h.at("nginx_plain"), "rps"));
        r.add("nginx proxying to an upstream, no `auth_request` (the nginx floor)", line("nginx_plain").second, "1");
        const auto [guarded, guarded_text] = line("nginx_guarded");
        r.add("the same nginx location with `auth_request` to tokenauth over HTTPS (keep-alive)", guarded_text,
              fmt("%.2f", guarded.median / plain.median));
    }
    const auto [bad, bad_text] = line("bad_secret");
    r.add("who-am-i with a wrong secret (401)", bad_text, fmt("%.2f", bad.median / version.median));
    const stats pairs = of(numbers(h, "create_delete_per_s"));
    r.add("token create + delete pairs (each a `synchronous=FULL` commit)", fmt("%.0f creations/s", pairs.median));
    if (const auto it = h.find("scrape"); it != h.end()) {  // GET /metrics on a second, large server
        const stats ms = of(numbers(*it, "ms"));
        const double tokens = it->value("tokens", 0.0);
        r.add(fmt("`GET /metrics` at %.0f tokens (curl, a new connection each)", tokens),
              fmt("p50 %.2f ms", ms.median) + fmt(", max %.2f ms", ms.max) + fmt(" of %.0f", static_cast<double>(ms.n)), "",
              "<= 10 ms", ms.n > 0 && ms.median <= 10);
        const double startup = it->value("startup_s", 0.0);
        r.add(fmt("start-up with %.0f tokens (launch to listening)", tokens), fmt("%.2f s", startup), "", "<= 3 s",
              startup > 0 && startup <= 3);
    }
}

/// First quartile, median, third quartile (linear interpolation).
std::array<double, 3> quartiles(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    auto at = [&](double p) {
        const double x = p * static_cast<double>(v.size() - 1);
        const std::size_t i = static_cast<std::size_t>(x);
        return i + 1 < v.size() ? v[i] + (x - static_cast<double>(i)) * (v[i + 1] - v[i]) : v[i];
    };
    return {at(0.25), at(0.5), at(0.75)};
}

void compare(report& r, const json& c) {
    const std::vector<double> base = numbers(c, "base_rps"), current = numbers(c, "current_rps");
    if (base.empty() || current.empty()) return;
    const auto b = quartiles(base), k = quartiles(current);
    const double iqr = std::max(b[2] - b[0], k[2] - k[0]);
    const double bound = std::max(0.03 * b[1], 2 * iqr);
    r.section("Against " + c.value("ref", std::string("?")) + " (bench/http/compare.sh)",
              "`GET /v1/session/who-am-i` with an access token on this build and on the build at " +
                  c.value("ref", std::string("?")) + " (" + c.value("commit", std::string("?")).substr(0, 12) +
                  "), both `--http` on loopback, " + std::to_string(base.size()) +
                  " interleaved wrk runs each of " + std::to_string(c.value("seconds", 0)) +
                  " s: what validation's counters and the request metrics cost.");
    r.add("median requests/s: this build / " + c.value("ref", std::string("?")),
          fmt("%.0f", k[1]) + fmt(" / %.0f", b[1]) + fmt(" (IQR %.0f", k[2] - k[0]) + fmt(" / %.0f)", b[2] - b[0]),
          fmt("%.3f", k[1] / b[1]), fmt("within %.0f req/s", bound), std::abs(k[1] - b[1]) <= bound);
}

void postgres(report& r, const json& p) {
    r.section("PostgreSQL (bench/postgres/run.sh)",
              "Two servers on one PostgreSQL 15 (fsync on), wrk with " + std::to_string(p.value("clients", 0)) +
                  " clients, " + std::to_string(p.value("duration_s", 0)) + " s.");
    const stats pairs = of(numbers(p, "create_delete_per_s"));
    r.add("durable token create + delete pairs through server A", fmt("%.0f creations/s", pairs.median));
    if (const auto w = p.find("writers_per_s"); w != p.end()) {
        const double one = w->value("1", 0.0), eight = w->value("8", 0.0);
        const double ratio = one > 0 ? eight / one : 0;
        r.add("durable creations/s through server A: 8 concurrent writers / 1 writer",
              fmt("%.0f", eight) + fmt(" / %.0f creations/s", one), fmt("%.2f", ratio), ">= 2.50", ratio >= 2.5);
    }
    const json& rev = p.at("revocation_ms");
    const double p99 = rev.value("p99", 0.0);
    r.add("a token disabled on A, refused by B (" + std::to_string(rev.value("tokens", 0)) + " tokens)",
          fmt("p50 %.1f ms", rev.value("p50", 0.0)) + fmt(", p99 %.1f ms", p99) + fmt(", max %.1f ms", rev.value("max", 0.0)),
          "", "p99 <= 1000 ms", p99 <= 1000);
    if (const auto it = p.find("replica"); it != p.end()) {  // tokenauth::postgres::replica
        const stats replica = of(numbers(*it, "replica_ns")), memory = of(numbers(*it, "memory_ns"));
        const double ratio = replica.median / memory.median;
        r.add("one access token validated through `tokenauth::postgres::replica` (floor: a `memory_token_store` with "
              "the same record, interleaved)",
              fmt("%.1f ns", replica.median) + fmt(" (%.1f", replica.min) + fmt(" to %.1f)", replica.max) +
                  fmt("; floor %.1f ns", memory.median),
              fmt("%.2f", ratio), "<= 1.1", ratio <= 1.1);
        const json& rr = it->at("revocation_ms");
        const double rp99 = rr.value("p99", 0.0);
        r.add("a token disabled through A, refused by the replica (" + std::to_string(rr.value("tokens", 0)) + " tokens)",
              fmt("p50 %.1f ms", rr.value("p50", 0.0)) + fmt(", p99 %.1f ms", rp99) + fmt(", max %.1f ms", rr.value("max", 0.0)),
              "", "p99 <= 50 ms", rp99 <= 50);
    }
}

/// "a / b / c" of one figure at each size.
template <class F>
std::string per_size(const json& sizes, const char* format, F figure) {
    std::string out;
    for (const auto& z : sizes) out += (out.empty() ? "" : " / ") + fmt(format, figure(z));
    return out;
}

void scale(report& r, const json& s) {
    const json& sizes = s.at("sizes");
    if (sizes.empty()) return;
    const json& small = sizes.front();
    const json& large = sizes.back();
    std::string columns;
    for (const auto& z : sizes) columns += (columns.empty() ? "" : " / ") + fmt("%.0f", z.value("tokens", 0.0));
    r.section("Scale (bench/scale/run.sh)",
              "The release server over HTTPS on loopback with " + columns +
                  " access tokens (two per user), inserted with SQL; each result is given at each size in that "
                  "order, and each ratio is the largest size against the smallest, same run. Directory operations: "
                  "the median of 9.");
    const auto op = [&](const char* key, const char* what, bool target) {
        const auto ms = [&](const json& z) { return z.at("ops_ms").value(key, 0.0); };
        const double ratio = ms(small) > 0 ? ms(large) / ms(small) : 0;
        if (target) r.add(what, per_size(sizes, "%.1f", ms) + " ms", fmt("%.2f", ratio), "<= 2.00", ratio > 0 && ratio <= 2.0);
        else r.add(what, per_size(sizes, "%.1f", ms) + " ms", fmt("%.2f", ratio));
    };
    op("create_user", "create a user (no password)", true);
    op("delete_user", "delete a user", true);
    op("create_role", "create a role", true);
    op("add_member", "add a role member", true);
    op("create_user_password", "create a user with a password (one Argon2id hash)", false);
    const double startup = large.value("startup_s", 0.0);
    r.add("start-up (launch to listening)", per_size(sizes, "%.2f", [](const json& z) { return z.value("startup_s", 0.0); }) + " s",
          "", "<= 3 s at the largest", startup > 0 && startup <= 3);
    const auto per_token = [](const json& z) { return z.value("rss_idle_bytes", 0.0) / z.value("tokens", 1.0); };
    r.add("RSS idle per token (directory and index included)", per_size(sizes, "%.0f", per_token) + " B", "",
          "<= 250 B at the largest", per_token(large) <= 250);
    const auto writes = [](const json& z) {
        return z.at("writes").value("rss_after", 0.0) / std::max(1.0, z.at("writes").value("rss_before", 1.0));
    };
    r.add("RSS after 100 directory writes / before", per_size(sizes, "%.3f", writes), "", "<= 1.10 at each",
          std::all_of(sizes.begin(), sizes.end(), [&](const json& z) { return writes(z) <= 1.1; }));
    const auto growth = [](const json& z) {
        return (z.at("list").value("rss_peak", 0.0) - z.at("list").value("rss_before", 0.0)) / 1048576.0;
    };
    const auto mbps = [](const json& z) {
        return z.at("list").value("bytes", 0.0) / 1e6 / std::max(1e-9, z.at("list").value("seconds", 1.0));
    };
    r.add("one unpaged token list: MB/s", per_size(sizes, "%.0f", mbps) + " MB/s (" +
                                               per_size(sizes, "%.0f", [](const json& z) { return z.at("list").value("bytes", 0.0) / 1e6; }) +
                                               " MB)");
    r.add("one unpaged token list: RSS growth (peak)", per_size(sizes, "%.1f", growth) + " MB", "", "<= 32 MB at the largest",
          growth(large) <= 32);
    const auto list_after = [](const json& z) {
        return z.at("list").value("rss_after", 0.0) / std::max(1.0, z.at("list").value("rss_before", 1.0));
    };
    r.add("RSS after the list / before", per_size(sizes, "%.3f", list_after), "", "<= 1.10 at each",
          std::all_of(sizes.begin(), sizes.end(), [&](const json& z) { return list_after(z) <= 1.1; }));
    if (const auto v = s.find("validate"); v != s.end()) {
        const std::vector<double> base = numbers(*v, "base_ns"), current = numbers(*v, "current_ns");
        if (!base.empty() && !current.empty()) {
            const auto b = quartiles(base), k = quartiles(current);
            const double bound = std::max(0.05 * b[1], 2 * std::max(b[2] - b[0], k[2] - k[0]));
            const std::string ref = v->value("ref", std::string("?"));
            r.add("`BM_Validate_Hit/1000000`: this build / " + ref + " (" + v->value("commit", std::string("?")).substr(0, 12) +
                      "), " + std::to_string(base.size()) + " interleaved runs each",
                  fmt("%.1f", k[1]) + fmt(" / %.1f ns", b[1]) + fmt(" (IQR %.1f", k[2] - k[0]) + fmt(" / %.1f)", b[2] - b[0]),
                  fmt("%.3f", k[1] / b[1]), fmt("within %.1f ns", bound), std::abs(k[1] - b[1]) <= bound);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    bool markdown = false;
    std::string lib, http_path, pg_path, machine_path, compare_path, scale_path;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--markdown") markdown = true;
        else if (a == "--http" && i + 1 < argc) http_path = argv[++i];
        else if (a == "--pg" && i + 1 < argc) pg_path = argv[++i];
        else if (a == "--machine" && i + 1 < argc) machine_path = argv[++i];
        else if (a == "--compare" && i + 1 < argc) compare_path = argv[++i];
        else if (a == "--scale" && i + 1 < argc) scale_path = argv[++i];
        else if (lib.empty() && a[0] != '-') lib = a;
        else {
            std::fprintf(stderr, "usage: %s [--markdown] LIB.json [--http H.json] [--pg P.json] [--compare C.json] [--scale S.json] [--machine M.json]\n", argv[0]);
            return 2;
        }
    }
    const auto lib_json = load(lib);
    if (!lib_json) {
        std::fprintf(stderr, "%s: cannot read %s as JSON\n", argv[0], lib.c_str());
        return 2;
    }
    if (markdown && !machine_path.empty()) {
        if (const auto m = load(machine_path)) {
            std::printf("Machine: %s, %d cores (%s); load average %s at the start, %s at the end. Date: %s. Compiler: %s.\n\n",
                        m->value("cpu", "?").c_str(), m->value("cores", 0), m->value("flags", "").c_str(),
                        m->value("load_start", "?").c_str(), m->value("load_end", "?").c_str(), m->value("date", "?").c_str(),
                        m->value("compiler", "?").c_str());
        }
    }
    report r(markdown);
    library(r, gbench(*lib_json));
    if (!http_path.empty()) {
        if (const auto h = load(http_path)) http(r, *h);
        else std::fprintf(stderr, "%s: no HTTP results in %s\n", argv[0], http_path.c_str());
    }
    if (!pg_path.empty()) {
        if (const auto p = load(pg_path)) postgres(r, *p);
        else std::fprintf(stderr, "%s: no PostgreSQL results in %s\n", argv[0], pg_path.c_str());
    }
    if (!compare_path.empty()) {
        if (const auto c = load(compare_path)) compare(r, *c);
        else std::fprintf(stderr, "%s: no comparison in %s\n", argv[0], compare_path.c_str());
    }
    if (!scale_path.empty()) {
        if (const auto z = load(scale_path)) scale(r, *z);
        else std::fprintf(stderr, "%s: no scale results in %s\n", argv[0], scale_path.c_str());
    }
    r.print();
    return 0;
}
