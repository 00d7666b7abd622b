// The README's walkthroughs, run as printed (only the port, the binary's path and HOME are
// pointed at this test's server and temp dir).
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "doc_blocks.hpp"
#include "metrics_helpers.hpp"
#include "server_process.hpp"
#include "webhook_receiver.hpp"

#ifndef TOKENAUTH_README
#error "TOKENAUTH_README must name README.md"
#endif

using test_server::server_process;
using test_server::temp_dir;

namespace {

std::string slurp(const std::string& path) { return test_server::read_file(path); }

/// The ```sh block after the marker comment in a Markdown file (the README by default).
std::string block_after(const std::string& marker, const std::string& file = TOKENAUTH_README) {
    return test_server::block_after(marker, file);
}

using test_server::replace_all;

std::string run_script(const std::string& dir, const std::string& script) {
    {
        std::ofstream f(dir + "/walkthrough.sh");
        f << "set -euo pipefail\ncd " << dir << "\nexport HOME=" << dir << "\n" << script;
    }
    const std::string cmd = "bash " + dir + "/walkthrough.sh > " + dir + "/out.txt 2>&1";
    const int rc = std::system(cmd.c_str());
    const std::string out = slurp(dir + "/out.txt");
    INFO(out);
    REQUIRE(WEXITSTATUS(rc) == 0);
    return out;
}

}  // namespace

TEST_CASE("README curl walkthrough works as printed", "[readme]") {
    temp_dir dir;
    server_process s(dir.path + "/data", {}, "change-me");
    std::string block = block_after("curl");
    // Terminal 1 is this test's server; run Terminal 2 against it.
    const auto t2 = block.find("# Terminal 2");
    REQUIRE(t2 != std::string::npos);
    std::string script = block.substr(t2);
    REQUIRE(script.find("127.0.0.1:8000") != std::string::npos);
    replace_all(script, "127.0.0.1:8000", "127.0.0.1:" + std::to_string(s.port()));
    const std::string out = run_script(dir.path, script);
    CHECK(out.find("\"name\":\"svc-backup\"") != std::string::npos);
    CHECK(out.find("\"access_token_id\"") != std::string::npos);
    CHECK(block.find("TOKENAUTH_ADMIN_PASSWORD='change-me' ./scripts/run.sh") != std::string::npos);
}

TEST_CASE("docs/edge.md walkthrough works as printed", "[readme]") {
    temp_dir dir;
    server_process s(dir.path + "/data", {}, "change-me");
    std::string script = block_after("edge", TOKENAUTH_EDGE_DOC);
    REQUIRE(script.find("127.0.0.1:8000") != std::string::npos);
    replace_all(script, "127.0.0.1:8000", "127.0.0.1:" + std::to_string(s.port()));
    const std::string out = run_script(dir.path, script);
    CHECK(out.find("X-Auth-Request-User: svc-edge") != std::string::npos);
    CHECK(out.find("\"active\":true") != std::string::npos);
    CHECK(out.find("\"username\":\"svc-edge\"") != std::string::npos);
    CHECK(out.find("\"authenticated\":true") != std::string::npos);
    CHECK(out.find("\"username\":\"tokenauth:svc-edge\"") != std::string::npos);
}

TEST_CASE("docs/operations.md probe block works as printed", "[readme]") {
    temp_dir dir;
    server_process s(dir.path + "/data");
    std::string script = block_after("probes", TOKENAUTH_OPERATIONS_DOC);
    replace_all(script, "127.0.0.1:8000", "127.0.0.1:" + std::to_string(s.port()));
    const std::string out = run_script(dir.path, script);
    CHECK(out == "{\"status\":\"ok\"}{\"status\":\"ready\"}");
    // The install block names the files this repository ships.
    const std::string install = block_after("install", TOKENAUTH_OPERATIONS_DOC);
    CHECK(install.find("packaging/tokenauth.service") != std::string::npos);
    CHECK(install.find("packaging/tokenauth.default") != std::string::npos);
}

TEST_CASE("README CLI walkthrough works as printed", "[readme]") {
    temp_dir dir;
    server_process s(dir.path + "/data", {}, "change-me");
    std::string script = block_after("cli");
    REQUIRE(script.find("build/reference_server/tokenauth-cli --host 127.0.0.1") != std::string::npos);
    replace_all(script, "build/reference_server/tokenauth-cli --host 127.0.0.1",
                std::string(TOKENAUTH_CLI_BIN) + " --host 127.0.0.1 --port " + std::to_string(s.port()));
    const std::string out = run_script(dir.path, script);
    CHECK(out.find("\"name\": \"svc-report\"") != std::string::npos);
    CHECK(out.find("\"access_token_id\"") != std::string::npos);
    CHECK(out.find("=====") != std::string::npos);  // the list's table
}

/// A docs/server.md CLI walkthrough (its qq= line pointed at a fresh server), run as printed.
std::string server_doc_walkthrough(const std::string& marker) {
    temp_dir dir;
    server_process s(dir.path + "/data", {}, "change-me");
    std::string script = block_after(marker, TOKENAUTH_SERVER_DOC);
    REQUIRE(script.find("build/reference_server/tokenauth-cli --host 127.0.0.1") != std::string::npos);
    replace_all(script, "build/reference_server/tokenauth-cli --host 127.0.0.1",
                std::string(TOKENAUTH_CLI_BIN) + " --host 127.0.0.1 --port " + std::to_string(s.port()));
    return run_script(dir.path, script);
}

TEST_CASE("docs/server.md rotation walkthrough works as printed", "[readme]") {
    const std::string out = server_doc_walkthrough("rotation");
    CHECK(out.find("\"rotated_from\"") != std::string::npos);
    CHECK(out.find("\"name\": \"svc-etl\"") != std::string::npos);  // who_am_i with the new token
    CHECK(out.find("\"rotated_to\": \"") != std::string::npos);      // the old one names its successor
    CHECK(out.find("access-v1:") == std::string::npos);                 // the tokens went to files only
}

TEST_CASE("docs/server.md network bounds walkthrough works as printed", "[readme][cidrs]") {
    const std::string out = server_doc_walkthrough("cidrs");
    CHECK(out.find("invalid_credentials_error") != std::string::npos);  // the one from outside
    CHECK(out.find("\"name\": \"svc-local\"") != std::string::npos);
}

TEST_CASE("docs/server.md webhook receiver check works as printed on a real delivery", "[readme][webhooks]") {
    REQUIRE(sodium_init() >= 0);
    namespace wh = test_server::webhooks;
    temp_dir dir;
    wh::receiver r;
    const std::string secret = wh::secret_file(dir.path, {wh::random_key()});
    server_process s(dir.path + "/data", {"--webhook", r.url() + "," + secret});
    const auto t = s.request("POST", "/v1/auth/access-tokens/", s.login(), nlohmann::json{{"user", {{"name", "admin"}}}});
    REQUIRE(t.status == 200);
    const auto got = r.wait_for(1);
    REQUIRE(got.size() == 1);
    std::ofstream(dir.path + "/webhook.secret") << slurp(secret);
    const std::string check = block_after("webhook-verify", TOKENAUTH_SERVER_DOC);
    const auto run = [&](const std::string& body) {
        std::ofstream(dir.path + "/body.json") << body;
        std::ofstream(dir.path + "/check.sh") << "cd " << dir.path << "\nWEBHOOK_ID='" << got[0].id
                                               << "'\nWEBHOOK_TIMESTAMP='" << got[0].timestamp
                                               << "'\nWEBHOOK_SIGNATURE='" << got[0].signature << "'\n" << check;
        const int rc = std::system(("bash " + dir.path + "/check.sh > " + dir.path + "/out.txt 2>&1").c_str());
        return std::make_pair(WEXITSTATUS(rc), slurp(dir.path + "/out.txt"));
    };
    const auto good = run(got[0].body);
    INFO(good.second);
    CHECK(good.first == 0);
    CHECK(good.second == "valid\n");
    std::string changed = got[0].body;
    changed.replace(changed.find("access_token.created"), 20, "access_token.deleted");
    const auto bad = run(changed);
    CHECK(bad.first == 1);
    CHECK(bad.second == "invalid\n");
}

TEST_CASE("README library block compiles and runs as printed", "[readme]") {
    const std::string readme = slurp(TOKENAUTH_README);
    const auto section = readme.find("## Using the library");
    REQUIRE(section != std::string::npos);
    const auto start = readme.find("```cpp\n", section);
    const auto end = readme.find("```\n", start + 7);
    REQUIRE(start != std::string::npos);
    REQUIRE(end != std::string::npos);
    const std::string block = readme.substr(start + 7, end - start - 7);
    const auto first_line = block.find('\n');
    REQUIRE(block.substr(0, first_line).rfind("#include", 0) == 0);
    // The block's statements become a handler's body; what it leaves to the reader (the
    // request, reply and serve) is supplied around it.
    temp_dir dir;
    {
        std::ofstream f(dir.path + "/block.cpp");
        f << block.substr(0, first_line + 1) << R"(#include <cstdio>
#include <string>
struct fake_request {
    std::string header;
    std::string get_header_value(const char*) const { return header; }
};
static int reply(int status, const char* why) { std::printf("reply %d: %s\n", status, why); return status; }
static int serve(std::uint64_t user, const tokenauth::token_id& id) {
    std::printf("serve %llu %s\n", static_cast<unsigned long long>(user), tokenauth::to_string(id).c_str());
    return 200;
}
static int handle(const fake_request& request) {
)" << block.substr(first_line + 1) << R"(    return 200;
}
int main() {
    handle({""});
    handle({"Bearer access-v1:" + std::string(72, 'A')});
}
)";
    }
    const std::string cmd = std::string(TOKENAUTH_CXX) + " -std=c++17 -Wall -Wextra -Werror " + TOKENAUTH_INCLUDE_FLAGS + " " +
                            dir.path + "/block.cpp -o " + dir.path + "/block $(pkg-config --cflags --libs libsodium) > " +
                            dir.path + "/out.txt 2>&1 && " + dir.path + "/block > " + dir.path + "/out.txt 2>&1";
    const int rc = std::system(cmd.c_str());
    const std::string out = slurp(dir.path + "/out.txt");
    INFO(out);
    REQUIRE(WEXITSTATUS(rc) == 0);
    CHECK(out.find("reply 401: ") != std::string::npos);
    CHECK(out.find("serve") == std::string::npos);  // the block's store is empty: nothing validates
}

TEST_CASE("docs/operations.md lists every metric the server exposes, and its metrics block works as printed", "[readme]") {
    temp_dir dir;
    server_process s(dir.path + "/data", {"--metrics-listen", "127.0.0.1:0"});
    const std::string admin = s.login();
    REQUIRE(s.request("POST", "/v1/auth/access-tokens/", admin, nlohmann::json{{"user", {{"name", "admin"}}}}).status == 200);
    // The table's rows: | `name` | type | labels | meaning |
    const std::string doc = slurp(TOKENAUTH_OPERATIONS_DOC);
    std::map<std::string, bool> documented;  // name -> PostgreSQL only
    const std::regex row(R"(\n\| `(tokenauth_[a-z_]+)` \|[^\n]*)");
    for (std::sregex_iterator it(doc.begin(), doc.end(), row), end; it != end; ++it)
        documented[(*it)[1]] = it->str().find("PostgreSQL only") != std::string::npos;
    REQUIRE(documented.size() >= 10);
    const std::string exposition = test_server::scrape(s);
    std::set<std::string> exposed;
    const std::regex type_line(R"(\n# TYPE ([a-z_]+) )");
    const std::string text = "\n" + exposition;
    for (std::sregex_iterator it(text.begin(), text.end(), type_line), end; it != end; ++it) exposed.insert((*it)[1]);
    for (const auto& name : exposed) {
        INFO(name);
        CHECK(documented.count(name) == 1);
    }
    for (const auto& [name, postgres_only] : documented) {
        INFO(name);
        CHECK(exposed.count(name) == (postgres_only ? 0u : 1u));
    }
    std::string script = block_after("metrics", TOKENAUTH_OPERATIONS_DOC);
    replace_all(script, "127.0.0.1:9100", "127.0.0.1:" + std::to_string(test_server::metrics_port(s)));
    const std::string out = run_script(dir.path, script);
    CHECK(out.find("tokenauth_tokens{state=\"enabled\"} 1\n") != std::string::npos);
}
