#include "http_post.hpp"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include <tokenauth/network.hpp>

#include <cerrno>
#include <cstring>
#include <memory>

namespace tokenauth::server::webhooks {

bool split_url(const std::string& url, url_parts& out) {
    url_parts u;
    std::string rest;
    if (url.rfind("https://", 0) == 0) {
        rest = url.substr(8);
    } else if (url.rfind("http://", 0) == 0) {
        u.tls = false;
        rest = url.substr(7);
    } else {
        return false;
    }
    const std::size_t slash = rest.find_first_of("/?");
    std::string authority = rest.substr(0, slash);
    u.target = slash == std::string::npos ? "/" : rest.substr(slash);
    if (u.target[0] == '?') u.target.insert(0, "/");
    if (authority.empty() || authority.find('@') != std::string::npos || u.target.find('#') != std::string::npos ||
        url.find_first_of(" \t\r\n") != std::string::npos)
        return false;
    u.port = u.tls ? "443" : "80";
    if (authority[0] == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string::npos) return false;
        u.host = authority.substr(1, close - 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') return false;
            u.port = authority.substr(close + 2);
        }
    } else {
        const std::size_t colon = authority.find(':');
        u.host = authority.substr(0, colon);
        if (colon != std::string::npos) u.port = authority.substr(colon + 1);
    }
    if (u.host.empty() || u.port.empty() || u.port.size() > 5 || u.port.find_first_not_of("0123456789") != std::string::npos)
        return false;
    out = std::move(u);
    return true;
}

namespace {

struct fd_closer {
    int fd = -1;
    ~fd_closer() {
        if (fd >= 0) ::close(fd);
    }
};

/// Waits until fd is readable (or writable) or the deadline passes.
bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(left.count()));
        if (n > 0) return true;
        if (n == 0 || errno != EINTR) return false;
    }
}

/// A non-blocking TCP connection to one of host's addresses, or -1.
int connect_to(const url_parts& u, std::chrono::steady_clock::time_point deadline, std::string& error) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (const int rc = ::getaddrinfo(u.host.c_str(), u.port.c_str(), &hints, &found); rc != 0) {
        error = std::string("cannot resolve the host: ") + ::gai_strerror(rc);
        return -1;
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, ::freeaddrinfo);
    error = "cannot connect";
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) return fd;
        int err = errno;
        if (err == EINPROGRESS && wait_for(fd, POLLOUT, deadline)) {
            socklen_t len = sizeof err;
            if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) return fd;
        }
        error = err == EINPROGRESS ? "connect timed out" : std::string("cannot connect: ") + std::strerror(err);
        ::close(fd);
    }
    return -1;
}

/// Reads or writes through TLS (ssl) or the socket, waiting for the socket as needed.
class channel {
public:
    channel(int fd, SSL* ssl, std::chrono::steady_clock::time_point deadline) : fd_(fd), ssl_(ssl), deadline_(deadline) {}

    bool handshake() {
        for (;;) {
            const int rc = SSL_connect(ssl_);
            if (rc == 1) return true;
            if (!wait_ssl(rc)) return false;
        }
    }
    bool write_all(const std::string& data) {
        for (std::size_t sent = 0; sent < data.size();) {
            const int n = ssl_ ? SSL_write(ssl_, data.data() + sent, static_cast<int>(data.size() - sent))
                               : static_cast<int>(::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL));
            if (n > 0) {
                sent += static_cast<std::size_t>(n);
                continue;
            }
            if (ssl_ ? !wait_ssl(n) : !(errno == EAGAIN && wait_for(fd_, POLLOUT, deadline_))) return false;
        }
        return true;
    }
    /// Some bytes into buf; 0 at the end, -1 on failure or timeout.
    int read_some(char* buf, int size) {
        for (;;) {
            const int n = ssl_ ? SSL_read(ssl_, buf, size) : static_cast<int>(::recv(fd_, buf, static_cast<std::size_t>(size), 0));
            if (n > 0) return n;
            if (n == 0 && !ssl_) return 0;
            if (ssl_ && SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN) return 0;
            if (ssl_ ? !wait_ssl(n) : !(errno == EAGAIN && wait_for(fd_, POLLIN, deadline_))) return -1;
        }
    }

private:
    bool wait_ssl(int rc) {
        const int e = SSL_get_error(ssl_, rc);
        if (e == SSL_ERROR_WANT_READ) return wait_for(fd_, POLLIN, deadline_);
        if (e == SSL_ERROR_WANT_WRITE) return wait_for(fd_, POLLOUT, deadline_);
        return false;
    }
    int fd_;
    SSL* ssl_;
    std::chrono::steady_clock::time_point deadline_;
};

}  // namespace

post_result post(const url_parts& u, const std::vector<std::pair<std::string, std::string>>& headers,
                 const std::string& body, std::chrono::milliseconds timeout, const std::string& ca_file) {
    post_result out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    fd_closer sock{connect_to(u, deadline, out.error)};
    if (sock.fd < 0) return out;
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(nullptr, SSL_CTX_free);
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(nullptr, SSL_free);
    if (u.tls) {
        ctx.reset(SSL_CTX_new(TLS_client_method()));
        if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1 ||
            (ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx.get())
                             : SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr)) != 1) {
            out.error = "cannot set up TLS";
            return out;
        }
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
        ssl.reset(SSL_new(ctx.get()));
        // The certificate must name the host: an IP address among its IP SANs, a name among its
        // DNS names (and only a name goes in SNI, which has no room for an address).
        ip_address literal;
        const bool is_ip = parse_ip_address(u.host, literal) == errc::ok;
        if (!ssl || SSL_set_fd(ssl.get(), sock.fd) != 1 ||
            (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), u.host.c_str()) != 1
                   : SSL_set1_host(ssl.get(), u.host.c_str()) != 1 ||
                         SSL_set_tlsext_host_name(ssl.get(), u.host.c_str()) != 1)) {
            out.error = "cannot set up TLS";
            return out;
        }
    }
    deadline = std::chrono::steady_clock::now() + timeout;
    channel ch(sock.fd, ssl.get(), deadline);
    if (ssl && !ch.handshake()) {
        const long verify = SSL_get_verify_result(ssl.get());
        out.error = verify != X509_V_OK ? std::string("TLS: the certificate does not verify: ") +
                                              X509_verify_cert_error_string(verify)
                                        : "TLS handshake failed";
        ERR_clear_error();
        return out;
    }
    const bool v6 = u.host.find(':') != std::string::npos;
    std::string request = "POST " + u.target + " HTTP/1.1\r\nHost: " + (v6 ? "[" + u.host + "]" : u.host) +
                          ((u.tls && u.port == "443") || (!u.tls && u.port == "80") ? "" : ":" + u.port) +
                          "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
    request += "\r\n";
    request += body;
    if (!ch.write_all(request)) {
        out.error = "sending the request failed or timed out";
        return out;
    }
    // The status line only ("HTTP/1.1 204 ..."): the body is the receiver's business.
    std::string head;
    char buf[512];
    while (head.find("\r\n") == std::string::npos && head.size() < 1024) {
        const int n = ch.read_some(buf, sizeof buf);
        if (n <= 0) break;
        head.append(buf, static_cast<std::size_t>(n));
    }
    if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0 || head[8] != ' ') {
        out.error = head.empty() ? "no response (or it timed out)" : "the response is not HTTP";
        return out;
    }
    const std::string code = head.substr(9, 3);
    if (code.find_first_not_of("0123456789") != std::string::npos) {
        out.error = "the response is not HTTP";
        return out;
    }
    out.status = std::stoi(code);
    return out;
}

}  // namespace tokenauth::server::webhooks
