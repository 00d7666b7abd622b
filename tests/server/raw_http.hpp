// One HTTP/1.0 exchange over a plain socket from a chosen loopback source address, with the
// response's headers exactly as sent (cpp-httplib's client decodes header values).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace test_server {

/// A TCP port on 127.0.0.1 that was free a moment ago.
inline int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        throw std::runtime_error("no free port");
    ::close(fd);
    return ntohs(a.sin_port);
}

/// What an HTTP/1.0 exchange returned, headers as sent (nothing decoded).
struct raw_response {
    int status = 0;
    std::string head;
    std::string body;
    std::string header(const std::string& name) const {
        const std::regex re("\r\n" + name + ": ([^\r]*)\r\n", std::regex::icase);
        std::smatch m;
        return std::regex_search(head, m, re) ? m[1].str() : std::string("<none>");
    }
};

/// One request from the source address `from` (any 127.x.y.z) to 127.0.0.1:port.
inline raw_response raw_request(const std::string& from, int port, const std::string& method, const std::string& path,
                         const std::vector<std::string>& headers, const std::string& body = "") {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in src{}, dst{};
    src.sin_family = dst.sin_family = AF_INET;
    ::inet_pton(AF_INET, from.c_str(), &src.sin_addr);
    ::inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    dst.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot connect from " + from);
    }
    std::string req = method + " " + path + " HTTP/1.0\r\nHost: guarded.test\r\n";
    for (const auto& h : headers) req += h + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    for (std::size_t sent = 0; sent < req.size();) {
        const ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
    }
    std::string all;
    char buf[16384];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) all.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    raw_response out;
    const auto end = all.find("\r\n\r\n");
    out.head = all.substr(0, end == std::string::npos ? all.size() : end + 2);
    out.body = end == std::string::npos ? "" : all.substr(end + 4);
    if (all.size() > 12) out.status = std::stoi(all.substr(9, 3));
    return out;
}

}  // namespace test_server
