// A raw HTTP/1.1 client for the attack tests: exact bytes on the wire (pipelined, trickled,
// malformed), plain or TLS, from a chosen loopback source address.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace test_server {

class raw_connection {
public:
    /// Connects to 127.0.0.1:port from source_ip. tls: handshake first (any certificate);
    /// cipher_list, when given, limits the client to TLS 1.2 with those suites.
    raw_connection(int port, bool tls, const std::string& source_ip = "127.0.0.1", const std::string& cipher_list = "") {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error("socket failed");
        sockaddr_in src{};
        src.sin_family = AF_INET;
        ::inet_pton(AF_INET, source_ip.c_str(), &src.sin_addr);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) throw std::runtime_error("bind failed");
        sockaddr_in dst{};
        dst.sin_family = AF_INET;
        dst.sin_port = htons(static_cast<std::uint16_t>(port));
        ::inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) throw std::runtime_error("connect failed");
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!tls) return;
        ctx_ = SSL_CTX_new(TLS_client_method());
        if (!cipher_list.empty()) {
            SSL_CTX_set_max_proto_version(ctx_, TLS1_2_VERSION);
            SSL_CTX_set_cipher_list(ctx_, cipher_list.c_str());
        }
        ssl_ = SSL_new(ctx_);
        SSL_set_fd(ssl_, fd_);
        handshake_ok_ = SSL_connect(ssl_) == 1;
    }
    raw_connection(const raw_connection&) = delete;
    raw_connection& operator=(const raw_connection&) = delete;
    ~raw_connection() {
        if (ssl_ != nullptr) SSL_free(ssl_);
        if (ctx_ != nullptr) SSL_CTX_free(ctx_);
        ::close(fd_);
    }

    bool handshake_ok() const { return handshake_ok_; }
    std::string cipher() const { return ssl_ != nullptr ? SSL_get_cipher_name(ssl_) : ""; }

    /// False when the server has closed the connection.
    bool send(const std::string& bytes) {
        std::size_t off = 0;
        while (off < bytes.size()) {
            const auto n = ssl_ != nullptr ? SSL_write(ssl_, bytes.data() + off, static_cast<int>(bytes.size() - off))
                                           : ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
            if (n <= 0) return false;
            off += static_cast<std::size_t>(n);
        }
        return true;
    }

    /// Reads until the server closes, `until` appears `count` times, or the time is up.
    /// Everything received so far is kept: the result is that buffer.
    const std::string& receive(std::chrono::milliseconds limit, const std::string& until = "", std::size_t count = 1) {
        const auto end = std::chrono::steady_clock::now() + limit;
        for (;;) {
            if (!until.empty() && occurrences(buffer_, until) >= count) break;
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count();
            if (left <= 0) break;
            if (ssl_ == nullptr || SSL_pending(ssl_) == 0) {
                pollfd p{fd_, POLLIN, 0};
                if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
            }
            char buf[16384];
            const auto n = ssl_ != nullptr ? SSL_read(ssl_, buf, sizeof buf) : ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                closed_ = true;
                break;
            }
            buffer_.append(buf, static_cast<std::size_t>(n));
        }
        return buffer_;
    }

    /// True once a read has seen the end of the connection.
    bool closed() const { return closed_; }

    static std::size_t occurrences(const std::string& text, const std::string& what) {
        std::size_t n = 0;
        for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
        return n;
    }

    /// The status codes of the responses in text, in order.
    static std::vector<int> statuses(const std::string& text) {
        std::vector<int> out;
        for (std::size_t at = text.find("HTTP/1.1 "); at != std::string::npos; at = text.find("HTTP/1.1 ", at + 9))
            out.push_back(std::stoi(text.substr(at + 9, 3)));
        return out;
    }

private:
    int fd_ = -1;
    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    bool handshake_ok_ = false;
    bool closed_ = false;
    std::string buffer_;
};

}  // namespace test_server
