// tokenauth-cli scan: finds access tokens in files (leaked into code, logs, configs). The
// prefix and the checksum make a match certain: a string is reported only when it parses as
// an access token with a valid checksum. Reports file:line:column and the token id, never
// the secret; --revoke reports what it found to the server's revocation endpoint.
#include <tokenauth/token.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "common.hpp"

namespace tokenauth::cli {

namespace {

namespace fs = std::filesystem;

struct finding {
    std::string where;  ///< file:line:column
    std::string id;
    std::string token;  ///< kept in memory only for --revoke
};

void scan_text(const std::string& name, const std::string& data, std::vector<finding>& out) {
    const std::string_view prefix = access_token_prefix;
    std::size_t line = 1, line_start = 0, counted_to = 0;
    for (std::size_t at = data.find(prefix); at != std::string::npos; at = data.find(prefix, at + 1)) {
        for (; counted_to < at; ++counted_to)
            if (data[counted_to] == '\n') {
                ++line;
                line_start = counted_to + 1;
            }
        if (at + access_token_length > data.size()) break;
        const std::string_view candidate(data.data() + at, access_token_length);
        const auto token = parse_access_token(candidate);
        if (!token) continue;
        out.push_back({name + ":" + std::to_string(line) + ":" + std::to_string(at - line_start + 1), to_string(token->id),
                       std::string(candidate)});
    }
}

bool looks_binary(const std::string& data) {
    return data.find('\0', 0) < std::min<std::size_t>(data.size(), 8000);
}

void scan_file(const fs::path& path, std::vector<finding>& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::cerr << "scan: cannot read " << path.string() << "\n";
        return;
    }
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!looks_binary(data)) scan_text(path.string(), data, out);
}

void scan_path(const std::string& arg, std::vector<finding>& out) {
    if (arg == "-") {
        const std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
        if (!looks_binary(data)) scan_text("<stdin>", data, out);
        return;
    }
    std::error_code ec;
    if (!fs::is_directory(arg, ec)) {
        if (!fs::exists(arg, ec)) throw cli_error{"Error: no such file or directory: " + arg};
        scan_file(arg, out);
        return;
    }
    fs::recursive_directory_iterator it(arg, fs::directory_options::skip_permission_denied, ec), end;
    for (; it != end; it.increment(ec)) {
        if (ec) break;
        if (it->is_directory(ec) && it->path().filename() == ".git") {
            it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file(ec) && !it->is_symlink(ec)) scan_file(it->path(), out);
    }
}

}  // namespace

void add_scan_command(CLI::App& app, const globals& g, action_slot& action) {
    struct options {
        std::vector<std::string> paths;
        bool revoke = false;
    };
    const auto o = std::make_shared<options>();
    auto* scan = app.add_subcommand(
        "scan", "Find access tokens in files and directories ('-' or nothing: standard input); exit 1 when any is found");
    scan->add_option("paths", o->paths, "files and directories to search (.git/ and binary files are skipped)");
    scan->add_flag("--revoke", o->revoke,
                   "report every token found to the server (--host) so that it is disabled; needs no credentials");
    scan->callback([o, &g, &action] {
        action = [o, &g] {
            std::vector<finding> found;
            if (o->paths.empty()) o->paths.push_back("-");
            for (const auto& p : o->paths) scan_path(p, found);
            for (const auto& f : found) std::cout << f.where << ": access token " << f.id << "\n";
            if (o->revoke && !found.empty()) {
                connection c(g, false);
                for (std::size_t i = 0; i < found.size(); i += 500) {
                    json credentials = json::array();
                    for (std::size_t k = i; k < found.size() && k < i + 500; ++k) credentials.push_back(found[k].token);
                    c.call("POST", "/v1/auth/access-tokens/revoke", json{{"credentials", credentials}});
                }
                std::cout << "reported " << found.size() << " token(s) to " << g.host << " for revocation\n";
            }
            for (auto& f : found) sodium_memzero(f.token.data(), f.token.size());
            if (!found.empty()) throw exit_status{1};
        };
    });
}

}  // namespace tokenauth::cli
