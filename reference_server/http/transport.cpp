#include "transport.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <malloc.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace tokenauth::server {

using steady = std::chrono::steady_clock;

struct transport::connection {
    explicit connection(const framing_limits& limits) : framer(limits) {}
    int fd = -1;
    SSL* ssl = nullptr;
    std::string peer_ip;
    int peer_port = 0;
    std::string local_ip;
    int local_port = 0;
    std::size_t index = 0;  ///< in connections_
    phase ph = phase::reading;
    steady::time_point deadline{};
    steady::time_point request_started{};
    bool request_open = false;   ///< bytes of the current request have arrived
    bool continue_sent = false;  ///< "100 Continue" answered for the current request
    bool interim = false;        ///< out holds an interim response; reading goes on after it
    bool peer_closed = false;
    bool close_after_write = false;
    std::size_t served = 0;
    std::size_t drained = 0;
    std::string in;
    request_framer framer;
    std::string request;
    std::string out;
    std::size_t out_off = 0;
    body_stream rest;      ///< the chunks of a streamed body still to come
    bool served_stream = false;  ///< the response was streamed (its memory is returned after it)
    bool aborted = false;  ///< the stream failed: close without its last chunk
};

namespace {

constexpr std::size_t read_chunk = 16 * 1024;
constexpr auto drain_time = std::chrono::seconds(2);
constexpr std::size_t max_drain = 1 << 20;
constexpr std::size_t trim_after_bytes = 1 << 20;  // a response this large returns its memory after it
char listen_tag, wake_tag;

void address_of(const sockaddr_storage& a, std::string& ip, int& port) {
    char text[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET) {
        const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
        ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
        port = ntohs(v4.sin_port);
    } else if (a.ss_family == AF_INET6) {
        const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
        ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
        port = ntohs(v6.sin6_port);
    }
    ip = text;
    if (ip.rfind("::ffff:", 0) == 0 && ip.find('.') != std::string::npos) ip = ip.substr(7);  // v4-mapped
}

}  // namespace

transport::transport(transport_options options, SSL_CTX* tls, error_renderer render, event_log& log)
    : opt_(std::move(options)), tls_(tls), render_(std::move(render)), log_(log) {
    dispatch_.set_keep_alive(std::chrono::ceil<std::chrono::seconds>(opt_.idle_timeout), opt_.max_requests_per_connection);
    // Every connection is a descriptor: stay below the process limit (raised as far as allowed).
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0) {
        if (lim.rlim_cur < lim.rlim_max) {
            lim.rlim_cur = lim.rlim_max;
            ::setrlimit(RLIMIT_NOFILE, &lim);
            ::getrlimit(RLIMIT_NOFILE, &lim);
        }
        const std::size_t room = lim.rlim_cur > 128 ? static_cast<std::size_t>(lim.rlim_cur) - 96 : 32;
        opt_.max_connections = std::min(opt_.max_connections, room);
    }
}

transport::~transport() {
    for (connection* c : connections_) {
        if (c->ssl != nullptr) SSL_free(c->ssl);
        ::close(c->fd);
        delete c;
    }
    for (int fd : {listen_fd_, epoll_fd_, wake_fd_})
        if (fd >= 0) ::close(fd);
}

int transport::open(const std::string& host, int port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return -1;
    for (addrinfo* a = found; a != nullptr && listen_fd_ < 0; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        const int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 1024) == 0) listen_fd_ = fd;
        else ::close(fd);
    }
    ::freeaddrinfo(found);
    if (listen_fd_ < 0) return -1;
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
    std::string ip;
    int actual = -1;
    address_of(bound, ip, actual);
    return actual;
}

void transport::shut_down() {
    stopping_ = true;
    if (wake_fd_ >= 0) {
        const std::uint64_t one = 1;
        [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
    }
}

bool transport::serve() {
    if (listen_fd_ < 0) return false;
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) return false;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &listen_tag;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
    ev.data.ptr = &wake_tag;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    pool_ = std::make_unique<worker_pool>(static_cast<std::size_t>(std::max(1, opt_.workers)));

    epoll_event events[256];
    bool listening = true;
    steady::time_point give_up{};
    steady::time_point next_heartbeat{};
    for (;;) {
        if (stopping_ && listening) {
            // Stop accepting and reading; requests in flight are finished and answered.
            listening = false;
            ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
            ::close(listen_fd_);
            listen_fd_ = -1;
            // A request the client has sent in full is in flight too, though its bytes may
            // still wait in the socket: read once more, so those go to a worker.
            for (connection* c : std::vector<connection*>(connections_))
                if (c->ph == phase::reading) on_readable(c);
            for (connection* c : std::vector<connection*>(connections_))
                if (c->ph != phase::processing && c->ph != phase::writing) close(c);
            give_up = steady::now() + opt_.shutdown_timeout;
        }
        if (!listening) {
            const bool writing = std::any_of(connections_.begin(), connections_.end(),
                                             [](const connection* c) { return c->ph == phase::writing; });
            if ((in_workers_ == 0 && !writing) || steady::now() > give_up) break;
        }
        const int n = ::epoll_wait(epoll_fd_, events, 256, 100);
        for (int i = 0; i < n; ++i) {
            void* tag = events[i].data.ptr;
            if (tag == &listen_tag) {
                if (listening) accept_all();
            } else if (tag == &wake_tag) {
                std::uint64_t count = 0;
                [[maybe_unused]] const auto r = ::read(wake_fd_, &count, sizeof count);
                drain_completions();
            } else {
                on_event(static_cast<connection*>(tag), events[i].events);
            }
        }
        const auto now = steady::now();
        if (now >= next_sweep_) {
            sweep(now);
            next_sweep_ = now + std::chrono::milliseconds(100);
        }
        if (opt_.heartbeat && opt_.heartbeat_every.count() > 0 && now >= next_heartbeat) {
            opt_.heartbeat();
            next_heartbeat = now + opt_.heartbeat_every;
        }
    }
    pool_->shutdown();
    drain_completions();
    const auto rest = connections_;
    for (connection* c : rest) close(c);
    return true;
}

void transport::accept_all() {
    for (;;) {
        sockaddr_storage addr{};
        socklen_t len = sizeof addr;
        const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return;  // EAGAIN, or out of descriptors (the limit keeps us below that)
        }
        std::string ip;
        int port = 0;
        address_of(addr, ip, port);
        auto& count = per_address_[ip];
        if (connections_.size() >= opt_.max_connections || count >= opt_.max_connections_per_address) {
            // Refused at once, so the backlog keeps moving; logged at most once a second.
            if (count == 0) per_address_.erase(ip);
            ::close(fd);
            refused_.fetch_add(1, std::memory_order_relaxed);
            const auto now = steady::now();
            if (now - last_limit_log_ > std::chrono::seconds(1)) {
                last_limit_log_ = now;
                log_.write("connection_refused", {{"remote_addr", ip},
                                                  {"reason", connections_.size() >= opt_.max_connections
                                                                 ? "connection limit"
                                                                 : "per-address connection limit"}});
            }
            continue;
        }
        ++count;
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto* c = new connection(opt_.limits);
        c->fd = fd;
        c->peer_ip = std::move(ip);
        c->peer_port = port;
        sockaddr_storage local{};
        socklen_t local_len = sizeof local;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len);
        address_of(local, c->local_ip, c->local_port);
        c->index = connections_.size();
        connections_.push_back(c);
        open_.store(connections_.size(), std::memory_order_relaxed);
        const auto now = steady::now();
        if (SSL_CTX* tls = tls_.load(std::memory_order_acquire); tls != nullptr) {
            c->ssl = SSL_new(tls);
            SSL_set_fd(c->ssl, fd);
            SSL_set_accept_state(c->ssl);
            c->ph = phase::handshake;
            c->deadline = now + opt_.handshake_timeout;
        } else {
            c->ph = phase::reading;
            c->deadline = now + opt_.head_timeout;
        }
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLONESHOT;
        ev.data.ptr = c;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    }
}

void transport::arm(connection* c, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events | EPOLLONESHOT;
    ev.data.ptr = c;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &ev);
}

void transport::on_event(connection* c, std::uint32_t events) {
    if ((events & EPOLLERR) != 0) {
        close(c);
        return;
    }
    switch (c->ph) {
    case phase::handshake: on_handshake(c); break;
    case phase::reading:
    case phase::draining: on_readable(c); break;
    case phase::writing: on_writable(c); break;
    case phase::processing: break;  // not armed while a worker has it
    }
}

void transport::on_handshake(connection* c) {
    ERR_clear_error();
    const int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->ph = phase::reading;
        c->deadline = steady::now() + opt_.head_timeout;
        on_readable(c);
        return;
    }
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ: arm(c, EPOLLIN); return;
    case SSL_ERROR_WANT_WRITE: arm(c, EPOLLOUT); return;
    default: close(c); return;
    }
}

void transport::on_readable(connection* c) {
    char buf[read_chunk];
    const std::size_t cap = opt_.limits.max_head_bytes + opt_.limits.max_body + 2 * read_chunk;
    bool want_write = false;
    for (;;) {
        if (c->ph == phase::reading && c->in.size() >= cap) break;  // the framer decides first
        if (c->ssl != nullptr) {
            ERR_clear_error();
            const int n = SSL_read(c->ssl, buf, sizeof buf);
            if (n > 0) {
                if (c->ph == phase::draining) c->drained += static_cast<std::size_t>(n);
                else c->in.append(buf, static_cast<std::size_t>(n));
                continue;
            }
            const int err = SSL_get_error(c->ssl, n);
            if (err == SSL_ERROR_WANT_READ) break;
            if (err == SSL_ERROR_WANT_WRITE) {
                want_write = true;
                break;
            }
            if (err == SSL_ERROR_ZERO_RETURN) {
                c->peer_closed = true;
                break;
            }
            close(c);  // a TLS error or a reset
            return;
        }
        const ssize_t n = ::recv(c->fd, buf, sizeof buf, 0);
        if (n > 0) {
            if (c->ph == phase::draining) c->drained += static_cast<std::size_t>(n);
            else c->in.append(buf, static_cast<std::size_t>(n));
            if (static_cast<std::size_t>(n) < sizeof buf) break;  // most likely drained: save a syscall
            continue;
        }
        if (n == 0) {
            c->peer_closed = true;
            break;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        close(c);
        return;
    }
    if (c->ph == phase::draining) {
        if (c->peer_closed || c->drained > max_drain) close(c);
        else arm(c, EPOLLIN);
        return;
    }
    if (want_write) {  // TLS needs to write (a key update) before it can read on
        arm(c, EPOLLOUT);
        return;
    }
    progress(c);
}

void transport::progress(connection* c) {
    const auto now = steady::now();
    if (c->in.empty()) {
        if (c->peer_closed) close(c);
        else arm(c, EPOLLIN);
        return;
    }
    if (!c->request_open) {
        c->request_open = true;
        c->request_started = now;
        c->deadline = now + opt_.head_timeout;
    }
    switch (c->framer.feed(c->in)) {
    case request_framer::state::complete:
        c->request = c->framer.take_request();
        c->in.erase(0, c->framer.consumed());
        c->framer.reset();
        c->request_open = false;
        c->continue_sent = false;
        dispatch(c);
        return;
    case request_framer::state::error: answer_error(c, c->framer.error()); return;
    case request_framer::state::need_more: break;
    }
    if (c->peer_closed) {  // the client stopped sending in the middle of a request
        close(c);
        return;
    }
    if (c->framer.head_complete()) {
        c->deadline = c->request_started + opt_.request_timeout;
        if (c->framer.expects_continue() && !c->continue_sent) {
            c->continue_sent = true;
            c->interim = true;
            c->out = "HTTP/1.1 100 Continue\r\n\r\n";
            c->out_off = 0;
            c->ph = phase::writing;
            on_writable(c);
            return;
        }
    }
    arm(c, EPOLLIN);
}

void transport::dispatch(connection* c) {
    c->ph = phase::processing;
    ++in_workers_;
    pool_->enqueue([this, c] { run_request(c); });
}

void transport::run_request(connection* c) {
    const bool last = c->served + 1 >= opt_.max_requests_per_connection || stopping_;
    bool client_closes = false;
    try {
        request_id::current_id.clear();  // this request's id is set while it is routed, not left from the last one
        dispatch_.handle(c->request, c->out, {c->peer_ip, c->peer_port, c->local_ip, c->local_port}, last,
                         client_closes, c->rest);
        c->served_stream = static_cast<bool>(c->rest);
    } catch (const std::exception&) {
        // The dispatcher answers a handler's exception itself: this is a failure around it
        // (memory), answered without the partial response.
        c->out.clear();
        c->rest = nullptr;
        dispatch_.write(error_response({500, "internal_error", "the server could not complete the request"}), false,
                        true, c->out);
        client_closes = true;
    }
    ++c->served;
    c->close_after_write = last || client_closes;
    std::string().swap(c->request);
    {
        std::lock_guard lock(done_mu_);
        done_.push_back(c);
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
}

void transport::produce(connection* c) {
    // The next chunk of a streamed body, on a worker (it may read the database). A stop, or
    // a failure, ends the response without its last chunk: the client sees it incomplete.
    try {
        if (stopping_) throw std::runtime_error("stopping");
        if (!c->rest(c->out)) c->rest = nullptr;
    } catch (const std::exception&) {
        c->rest = nullptr;
        c->out.clear();
        c->aborted = true;
    }
    {
        std::lock_guard lock(done_mu_);
        done_.push_back(c);
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
}

void transport::drain_completions() {
    std::vector<connection*> done;
    {
        std::lock_guard lock(done_mu_);
        done.swap(done_);
    }
    for (connection* c : done) on_done(c);
}

void transport::on_done(connection* c) {
    --in_workers_;
    if (c->aborted) {
        close(c);
        return;
    }
    if (stopping_) c->close_after_write = true;
    c->ph = phase::writing;
    c->out_off = 0;
    c->deadline = steady::now() + opt_.write_timeout;
    on_writable(c);
}

void transport::on_writable(connection* c) {
    while (c->out_off < c->out.size()) {
        const char* p = c->out.data() + c->out_off;
        const std::size_t left = c->out.size() - c->out_off;
        if (c->ssl != nullptr) {
            ERR_clear_error();
            const int n = SSL_write(c->ssl, p, static_cast<int>(std::min<std::size_t>(left, INT32_MAX)));
            if (n > 0) {
                c->out_off += static_cast<std::size_t>(n);
                if (c->rest) c->deadline = steady::now() + opt_.write_timeout;  // a stream: bytes taken
                continue;
            }
            const int err = SSL_get_error(c->ssl, n);
            if (err == SSL_ERROR_WANT_WRITE) return arm(c, EPOLLOUT);
            if (err == SSL_ERROR_WANT_READ) return arm(c, EPOLLIN);
            return close(c);
        }
        const ssize_t n = ::send(c->fd, p, left, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += static_cast<std::size_t>(n);
            if (c->rest) c->deadline = steady::now() + opt_.write_timeout;  // a stream: bytes taken
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return arm(c, EPOLLOUT);
        return close(c);
    }
    if (c->rest) {  // the client took this chunk: the next one is produced
        c->out.clear();
        c->out_off = 0;
        c->ph = phase::processing;
        ++in_workers_;
        pool_->enqueue([this, c] { produce(c); });
        return;
    }
    const bool large = c->out.size() >= trim_after_bytes || c->served_stream;
    c->served_stream = false;
    std::string().swap(c->out);
    c->out_off = 0;
#if defined(__GLIBC__)
    // After a large response, its memory (the body, and what the worker built it from in its
    // own malloc arena) goes back to the system rather than staying with glibc's arenas,
    // one per worker thread, each keeping the peak it saw.
    if (large) ::malloc_trim(0);
#endif
    if (c->interim) {  // the 100 Continue is out: the body may come now
        c->interim = false;
        c->ph = phase::reading;
        c->deadline = c->request_started + opt_.request_timeout;
        arm(c, EPOLLIN);
        return;
    }
    if (c->close_after_write) {
        if (stopping_) close(c);
        else start_draining(c);
        return;
    }
    // Back to reading: a pipelined request may already be buffered.
    c->ph = phase::reading;
    c->deadline = steady::now() + opt_.idle_timeout;
    if (c->ssl != nullptr && SSL_pending(c->ssl) > 0) on_readable(c);
    else progress(c);
}

http_response transport::error_response(const framing_error& e) const {
    http_response res;
    res.status = e.status;
    res.set_content(render_(e), "application/json");
    return res;
}

void transport::answer_error(connection* c, const framing_error& e) {
    c->out.clear();
    dispatch_.write(error_response(e), false, true, c->out);
    c->out_off = 0;
    c->interim = false;
    c->close_after_write = true;
    c->ph = phase::writing;
    c->deadline = steady::now() + opt_.write_timeout;
    on_writable(c);
}

void transport::start_draining(connection* c) {
    // Lingering close: stop sending, read (and drop) what the client still sends for a
    // moment, so that its unread request bytes do not reset the connection before it has
    // read our answer.
    if (c->ssl != nullptr) {
        ERR_clear_error();
        SSL_shutdown(c->ssl);
    }
    ::shutdown(c->fd, SHUT_WR);
    std::string().swap(c->in);
    c->ph = phase::draining;
    c->deadline = steady::now() + drain_time;
    if (c->peer_closed) close(c);
    else arm(c, EPOLLIN);
}

void transport::close(connection* c) {
    if (c->ssl != nullptr) SSL_free(c->ssl);
    ::close(c->fd);
    const auto it = per_address_.find(c->peer_ip);
    if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
    connection* last = connections_.back();
    last->index = c->index;
    connections_[c->index] = last;
    connections_.pop_back();
    open_.store(connections_.size(), std::memory_order_relaxed);
    delete c;
}

void transport::sweep(steady::time_point now) {
    std::vector<connection*> expired;
    for (connection* c : connections_)
        if (c->ph != phase::processing && now >= c->deadline) expired.push_back(c);
    for (connection* c : expired) {
        if (c->ph == phase::reading && c->request_open) {
            answer_error(c, {408, "request_timeout_error",
                             c->framer.head_complete() ? "the request body was not received in time"
                                                       : "the request head was not received in time"});
        } else {
            close(c);
        }
    }
}

}  // namespace tokenauth::server
