// The replica against the store it stands in for, and how soon a server's revocation reaches
// it (bench/postgres/run.sh runs it against its PostgreSQL and server A):
//   validate   one access token validated through tokenauth::postgres::replica and through a
//              memory_token_store holding the same record, interleaved; ns per validation
//   revocation ROUNDS tokens, each created through the server, seen by the replica, then
//              disabled through the server: the time from the PATCH until the replica refuses
// Usage: tokenauth-replica-bench CONNINFO SERVER_PORT ADMIN_BEARER ROUNDS [JSON]
// With JSON, its "replica" member is set (the file is read first when it exists).
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <tokenauth/postgres/replica.hpp>
#include <tokenauth/tokenauth.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using nlohmann::json;
using clock_type = std::chrono::steady_clock;

namespace {

double ns_per_validation(const tokenauth::validator& v, const std::string& header, int n) {
    const auto start = clock_type::now();
    int ok = 0;
    for (int i = 0; i < n; ++i) ok += v.validate(header).ok() ? 1 : 0;
    const double ns = std::chrono::duration<double, std::nano>(clock_type::now() - start).count() / n;
    if (ok != n) std::fprintf(stderr, "replica-bench: %d of %d validations failed\n", n - ok, n);
    return ns;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: %s CONNINFO SERVER_PORT ADMIN_BEARER ROUNDS [JSON]\n", argv[0]);
        return 2;
    }
    const std::string conninfo = argv[1], admin = argv[3];
    const int port = std::atoi(argv[2]), rounds = std::atoi(argv[4]);
    httplib::Client server("127.0.0.1", port);
    const httplib::Headers auth = {{"Authorization", "Bearer " + admin}};
    server.Post("/v1/users/", auth,
                R"({"name":"replica-bench","primary_group":"0","uid":"","home_directory":null,"password":null})",
                "application/json");
    auto create = [&] {
        const auto r = server.Post("/v1/auth/access-tokens/", auth, R"({"user":{"name":"replica-bench"}})", "application/json");
        if (!r || r->status != 200) throw std::runtime_error("cannot create a token through the server");
        return json::parse(r->body);
    };

    tokenauth::postgres::replica replica({conninfo});
    tokenauth::system_clock clock;
    const tokenauth::validator through_replica(replica, clock);

    // Validation: the same token through the replica and through a memory store.
    const json token = create();
    const std::string header = "Bearer " + token.at("bearer_token").get<std::string>();
    while (!through_replica.validate(header).ok()) std::this_thread::sleep_for(std::chrono::microseconds(100));
    tokenauth::memory_token_store memory;
    tokenauth::token_record record;
    replica.find(tokenauth::parse_access_token(token.at("bearer_token").get<std::string>())->id, record);
    memory.upsert(record);
    const tokenauth::validator through_memory(memory, clock);
    std::vector<double> replica_ns, memory_ns;
    for (int r = 0; r < 11; ++r) {  // interleaved: this machine is shared and noisy
        memory_ns.push_back(ns_per_validation(through_memory, header, 200000));
        replica_ns.push_back(ns_per_validation(through_replica, header, 200000));
    }
    server.Delete("/v1/auth/access-tokens/" + token.at("id").get<std::string>(), auth);

    // Revocation: the server disables, the replica refuses.
    std::vector<double> ms;
    for (int i = 0; i < rounds; ++i) {
        const json t = create();
        const std::string h = "Bearer " + t.at("bearer_token").get<std::string>();
        while (!through_replica.validate(h).ok()) std::this_thread::sleep_for(std::chrono::microseconds(100));
        const auto start = clock_type::now();
        server.Patch("/v1/auth/access-tokens/" + t.at("id").get<std::string>(), auth, R"({"enabled":false})",
                     "application/json");
        while (through_replica.validate(h).code() != tokenauth::errc::disabled) std::this_thread::sleep_for(std::chrono::microseconds(50));
        ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - start).count());
        server.Delete("/v1/auth/access-tokens/" + t.at("id").get<std::string>(), auth);
    }
    std::sort(ms.begin(), ms.end());
    auto pick = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * ms.size()))]; };
    const double ratio = median(replica_ns) / median(memory_ns);
    std::printf("replica      validate %.1f ns vs memory_token_store %.1f ns: %.2fx (target <= 1.1); revocation "
                "server -> replica p50 %.1f ms, p99 %.1f ms over %d tokens (goal p99 <= 50 ms)\n",
                median(replica_ns), median(memory_ns), ratio, pick(0.5), pick(0.99), rounds);
    if (argc > 5) {
        json out = json::object();
        if (std::ifstream in(argv[5]); in) out = json::parse(in, nullptr, false);
        if (out.is_discarded()) out = json::object();
        out["replica"] = {{"replica_ns", replica_ns},
                          {"memory_ns", memory_ns},
                          {"revocation_ms", {{"p50", pick(0.5)}, {"p99", pick(0.99)}, {"max", ms.back()}, {"tokens", rounds}}}};
        std::ofstream(argv[5]) << out.dump() << "\n";
    }
    return 0;
}
