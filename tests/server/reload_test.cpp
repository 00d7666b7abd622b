// Signals an operator sends: SIGHUP re-reads the TLS certificate and key without dropping a
// connection or failing a request; a pair that does not load is refused and the old one kept.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "api_helpers.hpp"

using test_server::server_process;
using test_server::temp_dir;
using namespace std::chrono_literals;

namespace {

/// A new self-signed pair at cert and key, for CN.
void make_pair(const std::string& cert, const std::string& key, const std::string& cn) {
    REQUIRE(std::system(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=" + cn +
                         " -keyout " + key + " -out " + cert + " 2>/dev/null")
                            .c_str()) == 0);
}

/// The subject CN of the certificate a new handshake with the server gets.
std::string served_cn(int port) {
    std::string cn = test_server::output_of("echo | openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                 " 2>/dev/null | openssl x509 -noout -subject -nameopt multiline 2>/dev/null | sed -n 's/ *commonName *= *//p'");
    while (!cn.empty() && (cn.back() == '\n' || cn.back() == '\r')) cn.pop_back();
    return cn;
}

}  // namespace

TEST_CASE("SIGHUP reloads the TLS certificate under load without failing a request, and a bad pair is refused", "[reload]") {
    if (std::system("command -v openssl >/dev/null") != 0) {
        std::printf("SKIPPED: openssl missing; run ./scripts/deps.sh\n");
        return;
    }
    temp_dir dir;
    const std::string cert = dir.path + "/cert.pem", key = dir.path + "/key.pem";
    make_pair(cert, key, "first");
    server_process s(dir.path + "/data", {"--tls-cert", cert, "--tls-key", key});
    REQUIRE(served_cn(s.port()) == "first");

    // Clients on kept-alive connections and new ones keep asking while the pair changes.
    std::atomic<bool> stop{false};
    std::atomic<int> ok{0}, failed{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < 2; ++i)
        clients.emplace_back([&, i] {
            auto kept = s.client();
            while (!stop) {
                auto fresh = s.client();
                for (httplib::Client* c : {kept.get(), fresh.get()}) {
                    const auto r = c->Get("/v1/version");
                    (r && r->status == 200 ? ok : failed)++;
                }
                if (i == 0) std::this_thread::sleep_for(1ms);
            }
        });
    std::this_thread::sleep_for(200ms);
    make_pair(cert, key, "second");
    s.signal(SIGHUP);
    std::string cn;
    for (int i = 0; i < 200 && (cn = served_cn(s.port())) != "second"; ++i) std::this_thread::sleep_for(20ms);
    CHECK(cn == "second");
    std::this_thread::sleep_for(200ms);
    stop = true;
    for (auto& t : clients) t.join();
    CHECK(failed == 0);
    CHECK(ok > 10);
    CHECK(s.log().find("\"event\":\"tls_reloaded\"") != std::string::npos);

    // A certificate whose key does not match: refused, logged, the running pair kept.
    make_pair(dir.path + "/other-cert.pem", dir.path + "/other-key.pem", "third");
    REQUIRE(std::rename((dir.path + "/other-cert.pem").c_str(), cert.c_str()) == 0);
    s.signal(SIGHUP);
    for (int i = 0; i < 200 && s.log().find("\"event\":\"tls_reload_failed\"") == std::string::npos; ++i)
        std::this_thread::sleep_for(20ms);
    CHECK(s.log().find("\"event\":\"tls_reload_failed\"") != std::string::npos);
    CHECK(served_cn(s.port()) == "second");
    CHECK(s.request("GET", "/v1/version").status == 200);
    CHECK(s.stop() == 0);  // still the same process: SIGHUP never stopped it
}
