// The Debian packages CPack builds from this build tree: control fields, the conffile, the
// files, the man pages; the extracted server serves, and the extracted headers compile.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include "api_helpers.hpp"
#include "doc_blocks.hpp"

#if !defined(TOKENAUTH_BUILD_DIR) || !defined(TOKENAUTH_CPACK)
#error "TOKENAUTH_BUILD_DIR and TOKENAUTH_CPACK name the build tree and cpack"
#endif

using test_server::output_of;
using test_server::server_process;
using test_server::temp_dir;
namespace fs = std::filesystem;

namespace {

bool package_tools_missing() {
    for (const char* tool : {"/usr/bin/dpkg-deb", "/usr/bin/dpkg-shlibdeps", "/usr/bin/help2man"})
        if (::access(tool, X_OK) != 0) {
            std::printf("SKIPPED: %s missing; run ./scripts/deps.sh --test\n", tool);
            return true;
        }
    return false;
}

/// The one file in dir whose name starts with prefix.
std::string package_in(const std::string& dir, const std::string& prefix) {
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().rfind(prefix, 0) == 0 && e.path().extension() == ".deb") return e.path();
    return "";
}

std::string field(const std::string& deb, const std::string& name) {
    std::string v = output_of("dpkg-deb -f " + deb + " " + name);
    while (!v.empty() && v.back() == '\n') v.pop_back();
    return v;
}

}  // namespace

TEST_CASE("cpack builds tokenauth-server and libtokenauth-dev: fields, conffile, man pages, and they run", "[package]") {
    if (package_tools_missing()) return;
    temp_dir dir;
    // docs/operations.md's package block: its cpack command is the one run here, and the
    // package it installs is the one built.
    const std::string block = test_server::block_after("package", TOKENAUTH_OPERATIONS_DOC);
    CHECK(block.find("(cd build && cpack -G DEB)") != std::string::npos);
    std::string arch = output_of("dpkg --print-architecture");
    while (!arch.empty() && arch.back() == '\n') arch.pop_back();
    const std::string file_name = std::string("tokenauth-server_") + TOKENAUTH_PROJECT_VERSION + "_" + arch + ".deb";
    CHECK(block.find("./build/" + file_name) != std::string::npos);
    const std::string out = output_of("cd " TOKENAUTH_BUILD_DIR " && " TOKENAUTH_CPACK " -G DEB -B " + dir.path +
                                      "/out 2>&1; echo rc=$?");
    INFO(out);
    REQUIRE(out.find("rc=0") != std::string::npos);
    const std::string server = package_in(dir.path + "/out", "tokenauth-server_");
    const std::string dev = package_in(dir.path + "/out", "libtokenauth-dev_");
    REQUIRE(!server.empty());
    CHECK(fs::path(server).filename() == file_name);
    REQUIRE(!dev.empty());

    // tokenauth-server: Depends computed from what the binaries link.
    CHECK(field(server, "Package") == "tokenauth-server");
    CHECK(field(server, "Version") == TOKENAUTH_PROJECT_VERSION);
    const std::string depends = field(server, "Depends");
    INFO(depends);
    for (const char* lib : {"libsodium23", "libsqlite3-0", "libssl3", "libpq5", "libcpp-httplib0.11", "libicu72", "libsystemd0"})
        CHECK(depends.find(lib) != std::string::npos);
    CHECK(output_of("dpkg-deb --info " + server + " conffiles") == "/etc/default/tokenauth\n");
    const std::string root = dir.path + "/root";
    REQUIRE(std::system(("dpkg-deb -x " + server + " " + root).c_str()) == 0);
    for (const char* f : {"/usr/bin/tokenauth-server", "/usr/bin/tokenauth-cli", "/usr/lib/systemd/system/tokenauth.service",
                          "/etc/default/tokenauth", "/usr/share/man/man1/tokenauth-server.1.gz",
                          "/usr/share/man/man1/tokenauth-cli.1.gz"})
        CHECK(fs::exists(root + f));
    // The man pages are the programs' --help.
    CHECK(output_of("zcat " + root + "/usr/share/man/man1/tokenauth-server.1.gz").find("metrics\\-listen") != std::string::npos);
    CHECK(output_of("zcat " + root + "/usr/share/man/man1/tokenauth-cli.1.gz").find("auth_create_access_token") !=
          std::string::npos);
    CHECK(output_of(root + "/usr/bin/tokenauth-cli --version") == std::string("tokenauth-cli ") + TOKENAUTH_PROJECT_VERSION + "\n");

    // The extracted server serves.
    ::setenv("TOKENAUTH_TEST_SERVER_BIN", (root + "/usr/bin/tokenauth-server").c_str(), 1);
    {
        server_process s(dir.path + "/data");
        ::unsetenv("TOKENAUTH_TEST_SERVER_BIN");
        const auto r = s.request("GET", "/v1/version");
        CHECK(r.status == 200);
        CHECK(r.body.at("build_id") == std::string("tokenauth-") + TOKENAUTH_PROJECT_VERSION);
        CHECK(s.request("GET", "/v1/session/who-am-i", s.login()).status == 200);
    }
    ::unsetenv("TOKENAUTH_TEST_SERVER_BIN");

    // libtokenauth-dev: headers, CMake package and pkg-config files; a program builds against them.
    CHECK(field(dev, "Package") == "libtokenauth-dev");
    CHECK(field(dev, "Architecture") == "all");
    CHECK(field(dev, "Depends").find("libsodium-dev") != std::string::npos);
    const std::string dev_root = dir.path + "/dev";
    REQUIRE(std::system(("dpkg-deb -x " + dev + " " + dev_root).c_str()) == 0);
    for (const char* f : {"/usr/include/tokenauth/tokenauth.hpp", "/usr/include/tokenauth/postgres/replica.hpp",
                          "/usr/lib/cmake/tokenauth/tokenauthConfig.cmake", "/usr/lib/pkgconfig/tokenauth.pc",
                          "/usr/lib/pkgconfig/tokenauth-postgres.pc"})
        CHECK(fs::exists(dev_root + f));
    std::ofstream(dir.path + "/use.cpp") << "#include <tokenauth/tokenauth.hpp>\n"
                                            "int main() { return tokenauth::parse_access_token(\"x\") ? 1 : 0; }\n";
    const std::string built = output_of("PKG_CONFIG_PATH=" + dev_root + "/usr/lib/pkgconfig " TOKENAUTH_CXX " -std=c++17 " +
                                        dir.path + "/use.cpp -o " + dir.path +
                                        "/use $(PKG_CONFIG_PATH=" + dev_root +
                                        "/usr/lib/pkgconfig pkg-config --cflags --libs tokenauth) 2>&1 && " + dir.path +
                                        "/use; echo rc=$?");
    INFO(built);
    CHECK(built.find("rc=0") != std::string::npos);
    // The headers it compiled with are the package's (the .pc finds its prefix from where it lies).
    std::string cflags = output_of("PKG_CONFIG_PATH=" + dev_root + "/usr/lib/pkgconfig pkg-config --cflags-only-I tokenauth");
    while (!cflags.empty() && (cflags.back() == '\n' || cflags.back() == ' ')) cflags.pop_back();
    REQUIRE(cflags.rfind("-I", 0) == 0);
    CHECK(fs::equivalent(cflags.substr(2), dev_root + "/usr/include"));
}
