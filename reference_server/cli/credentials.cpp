// tokenauth-cli: credentials files, as qq writes them.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common.hpp"

namespace tokenauth::cli {

std::string default_credentials_store() {
    const char* home = std::getenv("HOME");
    return std::string(home ? home : ".") + "/.qfsd_cred";
}

void write_credentials(const std::string& path, const std::string& bearer) {
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw cli_error{"Error: cannot write credentials file " + path};
    ::fchmod(fd, 0600);
    const std::string text = json{{"bearer_token", bearer}, {"version", 1}}.dump() + "\n";
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        throw cli_error{"Error: cannot write credentials file " + path};
    }
}

std::string read_credentials(const std::string& path) {
    std::ifstream f(path);
    if (!f) {
        if (::access(path.c_str(), F_OK) == 0) throw cli_error{"Error: cannot read credentials file " + path};
        return "";
    }
    std::stringstream ss;
    ss << f.rdbuf();
    const json j = json::parse(ss.str(), nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw cli_error{"Error: credentials file " + path + " is not valid JSON; log in again"};
    if (!j.contains("version") || j["version"] != 1)
        throw cli_error{"Error: credentials file " + path + " has an unsupported version; log in again"};
    if (!j.contains("bearer_token") || !j["bearer_token"].is_string())
        throw cli_error{"Error: credentials file " + path + " has no bearer_token; log in again"};
    return j["bearer_token"].get<std::string>();
}

}  // namespace tokenauth::cli
