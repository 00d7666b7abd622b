// The persistent map the directory is made of (persistent_map.hpp), against std::map as the
// oracle: every version reads as it did when it was taken, whatever later versions do, and a
// change to a large map copies a path, not the map.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <vector>

#include "../../reference_server/storage/persistent_map.hpp"

using tokenauth::server::persistent_copies;
using tokenauth::server::persistent_map;
using tokenauth::server::persistent_name_index;
using tokenauth::server::persistent_set;

namespace {
template <class V>
std::map<std::uint64_t, V> contents(const persistent_map<V>& m) {
    std::map<std::uint64_t, V> out;
    std::uint64_t last = 0;
    bool first = true;
    for (const auto& [k, v] : m) {
        CHECK((first || k > last));  // ascending, each key once
        first = false;
        last = k;
        out.emplace(k, v);
    }
    return out;
}
}  // namespace

TEST_CASE("persistent_map: random changes match std::map, and every version keeps what it held",
          "[server][persistent]") {
    std::mt19937_64 rng(20261206);
    // Keys from three ranges: dense small ids, sparse ones, and the top of the range.
    const auto key = [&]() -> std::uint64_t {
        switch (rng() % 3) {
        case 0: return rng() % 2000;
        case 1: return rng() % 1'000'000'000'000ULL;
        default: return ~std::uint64_t{0} - rng() % 64;
        }
    };
    persistent_map<int> m;
    std::map<std::uint64_t, int> oracle;
    std::vector<std::pair<persistent_map<int>, std::map<std::uint64_t, int>>> versions;
    for (int step = 0; step < 20000; ++step) {
        const std::uint64_t k = key();
        if (rng() % 3 == 0) {
            CHECK(m.erase(k) == (oracle.erase(k) == 1));
        } else {
            const int v = static_cast<int>(rng() % 1000);
            m[k] = v;
            oracle[k] = v;
        }
        REQUIRE(m.size() == oracle.size());
        if (step % 1000 == 0) versions.emplace_back(m, oracle);
    }
    CHECK(contents(m) == oracle);
    for (const auto& [k, v] : oracle) CHECK(*m.find(k) == v);
    for (int i = 0; i < 1000; ++i) {
        const std::uint64_t k = key();
        const auto it = oracle.find(k);
        CHECK((m.find(k) == nullptr) == (it == oracle.end()));
    }
    for (const auto& [version, then] : versions) {
        CHECK(version.size() == then.size());
        CHECK(contents(version) == then);
    }
    // Erasing everything leaves an empty map that iterates to nothing.
    for (const auto& [k, v] : oracle) CHECK(m.erase(k));
    CHECK(m.empty());
    CHECK(m.begin() == m.end());
}

TEST_CASE("persistent_map: a change to a shared map of 100,000 copies one path of nodes",
          "[server][persistent]") {
    persistent_map<std::uint64_t> m;
    const auto nodes_before_build = persistent_copies::nodes().load();
    for (std::uint64_t i = 0; i < 100000; ++i) m[1000 + i] = i;
    CHECK(persistent_copies::nodes().load() == nodes_before_build);  // built in place: no copies

    const persistent_map<std::uint64_t> shared = m;  // another version holds every node
    const auto nodes = persistent_copies::nodes().load();
    const auto entries = persistent_copies::entries().load();
    m[50000] = 7;         // replace
    m[2'000'000] = 8;     // insert
    m.erase(1000 + 777);  // erase
    const auto copied_nodes = persistent_copies::nodes().load() - nodes;
    const auto copied_entries = persistent_copies::entries().load() - entries;
    INFO("copied " << copied_nodes << " nodes and " << copied_entries << " entries for 3 changes");
    CHECK(copied_nodes <= 3 * 5);        // a path of at most 5 levels each
    CHECK(copied_entries <= 3 * 5 * 32);  // at most 32 entries a node
    CHECK(*shared.find(50000) == 50000 - 1000);
    CHECK(shared.find(2'000'000) == nullptr);
    CHECK(shared.find(1000 + 777) != nullptr);
    CHECK(shared.size() == 100000);
    CHECK(m.size() == 100000);
}

TEST_CASE("persistent_set and persistent_name_index", "[server][persistent]") {
    persistent_set s;
    for (std::uint64_t i : {5u, 1u, 9u, 5u}) s.insert(i);
    CHECK(s.to_vector() == std::vector<std::uint64_t>{1, 5, 9});
    const persistent_set before = s;
    CHECK(s.erase(5));
    CHECK_FALSE(s.erase(5));
    CHECK(s.to_vector() == std::vector<std::uint64_t>{1, 9});
    CHECK(before.contains(5));

    persistent_name_index names;
    for (std::uint64_t i = 0; i < 5000; ++i) names.set("user-" + std::to_string(i), i);
    CHECK(names.size() == 5000);
    CHECK(names.find("user-4321") == std::optional<std::uint64_t>(4321));
    CHECK_FALSE(names.find("user-5000"));
    const persistent_name_index old = names;
    CHECK_FALSE(names.erase("user-12", 13));  // the name is another id's
    CHECK(names.erase("user-12", 12));
    CHECK_FALSE(names.find("user-12"));
    CHECK(old.find("user-12") == std::optional<std::uint64_t>(12));
    CHECK(names.size() == 4999);
}
