// Reads a Google Benchmark JSON report of tokenauth-bench and prints each target as a ratio
// against its floor from the same run, met or missed. Usage: tokenauth-bench-ratios FILE.json
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s REPORT.json\n", argv[0]);
        return 2;
    }
    std::ifstream f(argv[1]);
    const auto report = nlohmann::json::parse(f, nullptr, false);
    if (report.is_discarded()) {
        std::fprintf(stderr, "%s is not JSON\n", argv[1]);
        return 2;
    }
    // Median of repetitions when present, else the single run.
    std::map<std::string, nlohmann::json> by_name;
    for (const auto& b : report.at("benchmarks")) {
        const std::string agg = b.value("aggregate_name", "");
        const std::string name = b.value("run_name", b.value("name", ""));
        if (agg == "median" || (agg.empty() && !by_name.count(name))) by_name[name] = b;
    }
    auto ns = [&](const std::string& n) { return by_name.count(n) ? by_name[n].value("real_time", 0.0) : 0.0; };
    auto rate = [&](const std::string& n) { return by_name.count(n) ? by_name[n].value("items_per_second", 0.0) : 0.0; };
    auto counter = [&](const std::string& n, const char* c) { return by_name.count(n) ? by_name[n].value(c, 0.0) : 0.0; };
    int missed = 0;
    auto row = [&](const char* what, double value, const char* unit, double target, bool at_most) {
        const bool ok = at_most ? value <= target : value >= target;
        missed += ok ? 0 : 1;
        std::printf("%-46s %9.2f %-4s target %s %.2f  %s\n", what, value, unit, at_most ? "<=" : ">=", target,
                    ok ? "met" : "MISSED");
    };
    const double floor = ns("BM_Floor_TokenHash");
    std::printf("floor BM_Floor_TokenHash (SHA-256 of the 55-byte prefix, id, secret): %.1f ns\n", floor);
    if (const double hw = ns("BM_Sha256_OneBlock_Hardware"); hw > 0)
        std::printf("  beside it: the hardware's one-block SHA-256 %.1f ns, portable SHA-256 %.1f ns, legacy BLAKE2b %.1f ns\n",
                    hw, ns("BM_Sha256_Portable55"), ns("BM_Hash_Blake2b_Legacy"));
    for (const char* n : {"BM_Validate_Hit/1000", "BM_Validate_Hit/100000", "BM_Validate_Hit/1000000", "BM_Validate_Hit_Legacy"})
        std::printf("%-46s %9.1f ns = %.2fx floor\n", n, ns(n), ns(n) / floor);
    row("BM_Validate_Hit/1000000 / floor", ns("BM_Validate_Hit/1000000") / floor, "x", 3.0, true);
    row("BM_Validate_Malformed", ns("BM_Validate_Malformed"), "ns", 50, true);
    row("BM_Validate_BadChecksum", ns("BM_Validate_BadChecksum"), "ns", 50, true);
    const double t1 = rate("BM_Validate_Hit_Threads/real_time/threads:1");
    const double t2 = rate("BM_Validate_Hit_Threads/real_time/threads:2");
    row("BM_Validate_Hit_Threads 2 threads / 1 thread", t1 > 0 ? t2 / t1 : 0, "x", 1.8, false);
    const double f1 = rate("BM_Floor_TokenHash_Threads/real_time/threads:1");
    const double f2 = rate("BM_Floor_TokenHash_Threads/real_time/threads:2");
    if (f1 > 0) std::printf("  (the floor itself scales %.2fx from 1 to 2 threads on this machine)\n", f2 / f1);
    row("bytes per token at 1,000,000 (RSS)", counter("BM_Store_Memory/1000000/iterations:1", "rss_bytes_per_token"), "B",
        192, true);
    std::printf("  (table bytes per token: %.1f)\n", counter("BM_Store_Memory/1000000/iterations:1", "table_bytes_per_token"));
    std::printf("%s\n", missed == 0 ? "all targets met" : (std::to_string(missed) + " target(s) missed").c_str());
    return 0;
}
