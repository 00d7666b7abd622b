// A real Prometheus (Debian's) scrapes the server every second: the plain metrics listener,
// and the main HTTPS listener with a bearer token holding PRIVILEGE_METRICS_READ. Its query
// API must then return the server's token count.
#include <catch2/catch.hpp>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <thread>

#include "api_helpers.hpp"
#include "doc_blocks.hpp"
#include "metrics_helpers.hpp"
#include "raw_http.hpp"

using nlohmann::json;
using test_server::server_process;
using test_server::temp_dir;
namespace api = test_server::api;
using namespace std::chrono_literals;

namespace {

constexpr const char* prometheus_binary = "/usr/bin/prometheus";

bool prometheus_missing() {
    if (::access(prometheus_binary, X_OK) == 0 && (::geteuid() != 0 || ::getpwnam("nobody") != nullptr)) return false;
    std::printf("SKIPPED: prometheus missing; run ./scripts/deps.sh --test\n");
    return true;
}

/// Prometheus with its own config and storage in a temp dir (nobody's when the tests run as
/// root), on a free port; stopped on destruction.
class prometheus_process {
public:
    /// config: "@DIR@" stands for the process's directory, where files are written first.
    prometheus_process(std::string config, const std::map<std::string, std::string>& files)
        : port_(test_server::free_port()) {
        const std::string& dir = dir_.path;
        for (const auto& [name, content] : files) std::ofstream(dir + "/" + name) << content;
        test_server::replace_all(config, "@DIR@", dir);
        std::ofstream(dir + "/prometheus.yml") << config;
        std::vector<std::string> args;
        if (::geteuid() == 0) {  // unprivileged: as nobody, who is given the directory
            const passwd* pw = ::getpwnam("nobody");
            if (::chown(dir.c_str(), pw->pw_uid, pw->pw_gid) != 0 ||
                ::chown((dir + "/prometheus.yml").c_str(), pw->pw_uid, pw->pw_gid) != 0)
                throw std::runtime_error("chown failed");
            args = {"/usr/sbin/runuser", "-u", "nobody", "--"};
        }
        for (const std::string& a : {std::string(prometheus_binary), "--config.file=" + dir + "/prometheus.yml",
                                    "--storage.tsdb.path=" + dir + "/data",
                                    "--web.listen-address=127.0.0.1:" + std::to_string(port_)})
            args.push_back(a);
        const std::string log = dir + "/prometheus.log";
        pid_ = ::fork();
        if (pid_ == 0) {
            std::FILE* f = std::fopen(log.c_str(), "w");
            if (f != nullptr) {
                ::dup2(::fileno(f), 1);
                ::dup2(::fileno(f), 2);
            }
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
    }
    ~prometheus_process() {
        ::kill(pid_, SIGTERM);
        ::waitpid(pid_, nullptr, 0);
    }

    /// The query's first result value ("" while there is none).
    std::string query(const std::string& promql) const {
        httplib::Client c("127.0.0.1", port_);
        const auto r = c.Get("/api/v1/query", httplib::Params{{"query", promql}}, httplib::Headers{});
        if (!r || r->status != 200) return "";
        const json j = json::parse(r->body);
        const auto& result = j.at("data").at("result");
        return result.empty() ? "" : result.at(0).at("value").at(1).get<std::string>();
    }
    /// Waits (up to a minute: Prometheus starts, then scrapes every second) for the value.
    std::string wait_for(const std::string& promql, const std::string& want) const {
        std::string got;
        for (int i = 0; i < 600 && (got = query(promql)) != want; ++i) std::this_thread::sleep_for(100ms);
        return got;
    }
    std::string log() const { return test_server::read_file(dir_.path + "/prometheus.log"); }

private:
    temp_dir dir_;
    int port_;
    pid_t pid_ = -1;
};

}  // namespace

TEST_CASE("a real Prometheus scrapes the metrics listener and the HTTPS listener with a bearer token",
          "[prometheus]") {
    if (prometheus_missing()) return;
    temp_dir dir;
    server_process s(dir.path + "/data", {"--metrics-listen", "127.0.0.1:0"});
    const std::string admin = s.login();
    api::create_user(s, admin, "prometheus");
    api::grant(s, admin, "metrics-reader", {"PRIVILEGE_METRICS_READ"}, json{{"name", "prometheus"}});
    const auto scraper = api::create_token(s, admin, json{{"name", "prometheus"}});
    api::create_user(s, admin, "svc");
    api::create_token(s, admin, json{{"name", "svc"}});
    // Prometheus's own token and svc's: two enabled tokens. The configuration is
    // docs/operations.md's, with its addresses and files pointed at this test's, and a 1 s
    // scrape interval.
    std::string config = test_server::block_after("prometheus", TOKENAUTH_OPERATIONS_DOC, "yaml");
    test_server::replace_all(config, "127.0.0.1:9100", "127.0.0.1:" + std::to_string(test_server::metrics_port(s)));
    test_server::replace_all(config, "localhost:8000", "localhost:" + std::to_string(s.port()));
    test_server::replace_all(config, "/etc/prometheus/", "@DIR@/");
    config = "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n" + config;
    prometheus_process prometheus(config, {{"tokenauth-ca.pem", test_server::read_file(dir.path + "/data/tls-cert.pem")},
                                           {"tokenauth.token", scraper.bearer + "\n"}});
    INFO(prometheus.log());
    CHECK(prometheus.wait_for("tokenauth_tokens{job=\"tokenauth-local\",state=\"enabled\"}", "2") == "2");
    CHECK(prometheus.wait_for("tokenauth_tokens{job=\"tokenauth\",state=\"enabled\"}", "2") == "2");
    CHECK(prometheus.wait_for("up{job=\"tokenauth\"}", "1") == "1");
    // A third token shows up at the next scrape.
    api::create_token(s, admin, json{{"name", "svc"}});
    CHECK(prometheus.wait_for("tokenauth_tokens{job=\"tokenauth-local\",state=\"enabled\"}", "3") == "3");
}
