#include "dispatcher.hpp"

#include <algorithm>
#include <cstring>

namespace tokenauth::server {

namespace {

/// The complete request, for cpp-httplib to read; the response it writes goes to out.
class request_stream final : public httplib::Stream {
public:
    request_stream(const std::string& in, std::string& out, const request_dispatcher::endpoints& ends)
        : in_(in), out_(out), ends_(ends) {}

    bool is_readable() const override { return pos_ < in_.size(); }
    bool is_writable() const override { return true; }
    ssize_t read(char* ptr, size_t size) override {
        const std::size_t n = std::min(size, in_.size() - pos_);
        std::memcpy(ptr, in_.data() + pos_, n);
        pos_ += n;
        return static_cast<ssize_t>(n);
    }
    ssize_t write(const char* ptr, size_t size) override {
        out_.append(ptr, size);
        return static_cast<ssize_t>(size);
    }
    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        ip = ends_.peer_ip;
        port = ends_.peer_port;
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        ip = ends_.local_ip;
        port = ends_.local_port;
    }
    // Below FD_SETSIZE on purpose: cpp-httplib answers 500 for larger descriptors (it
    // assumes select()); this stream is no socket.
    socket_t socket() const override { return INVALID_SOCKET; }

private:
    const std::string& in_;
    std::size_t pos_ = 0;
    std::string& out_;
    const request_dispatcher::endpoints& ends_;
};

}  // namespace

/// The Server whose protected process_request handle() calls: nothing else of it is used.
class request_dispatcher::server final : public httplib::Server {
public:
    bool run(httplib::Stream& stream, bool last, bool& client_closes) {
        return process_request(stream, last, client_closes, nullptr);
    }
};

request_dispatcher::request_dispatcher() : server_(std::make_unique<server>()) {}
request_dispatcher::~request_dispatcher() = default;

httplib::Server& request_dispatcher::routes() noexcept { return *server_; }

bool request_dispatcher::handle(const std::string& request, std::string& out, const endpoints& ends, bool last,
                                bool& client_closes) {
    request_stream stream(request, out, ends);
    return server_->run(stream, last, client_closes);
}

}  // namespace tokenauth::server
