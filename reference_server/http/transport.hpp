// The server's connections: accept, TLS, request framing, deadlines and per-address limits,
// on one event-loop thread; complete requests run on a worker pool through the dispatcher
// (dispatcher.hpp: parse, route, write; routes() is where routes are registered).
//
// Why not a thread per connection (cpp-httplib's server, for one): 32 trickling clients
// would stop all service.
//
// Here a connection costs a worker only while a complete request is being handled. Until
// then it is a buffer in the event loop, bounded by the framing limits, with deadlines that
// never restart: the TLS handshake and the request head within head_timeout of their
// first byte, the whole request within request_timeout, an idle keep-alive connection
// closes after idle_timeout, a response must be taken by the client within write_timeout
// (a streamed one: each write_timeout must see some of it taken). A streamed body is
// produced a chunk at a time on a worker, the next only once the client has taken the last.
// Pipelined requests are answered one at a time, in order, from the same buffer.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "dispatcher.hpp"
#include "framing.hpp"
#include "log.hpp"
#include "worker_pool.hpp"

namespace tokenauth::server {

struct transport_options {
    framing_limits limits;
    std::chrono::milliseconds handshake_timeout{10000};
    std::chrono::milliseconds head_timeout{10000};
    std::chrono::milliseconds request_timeout{30000};
    std::chrono::milliseconds idle_timeout{5000};
    std::chrono::milliseconds write_timeout{10000};
    std::size_t max_connections = 4096;            ///< lowered to what RLIMIT_NOFILE allows
    std::size_t max_connections_per_address = 256;
    std::size_t max_requests_per_connection = 10000;
    int workers = 8;
    std::chrono::milliseconds shutdown_timeout{10000};  ///< how long requests in flight may finish after a stop
    /// Called from the event loop about every heartbeat_every while it runs (a systemd
    /// watchdog ping: a loop that hangs stops pinging); none when heartbeat_every is 0.
    std::function<void()> heartbeat;
    std::chrono::milliseconds heartbeat_every{0};
};

class transport final {
public:
    /// Renders the JSON body of an error the transport answers itself (framing, timeouts).
    using error_renderer = std::function<std::string(const framing_error&)>;

    /// tls: the server's TLS context (not owned; must outlive this), or null for plain HTTP.
    transport(transport_options options, SSL_CTX* tls, error_renderer render, event_log& log);
    ~transport();
    transport(const transport&) = delete;
    transport& operator=(const transport&) = delete;

    /// Where the routes and the answers for unrouted requests and errors are registered.
    request_dispatcher& routes() noexcept { return dispatch_; }

    /// Binds and listens; port 0 picks a free one. Returns the port, or -1.
    int open(const std::string& host, int port);
    /// Serves until shut_down(); then finishes the requests in flight. False on a setup error.
    bool serve();
    /// Stops serve() (thread-safe).
    void shut_down();
    /// New handshakes use ctx from now on (a reloaded certificate); connections already up
    /// keep theirs. Thread-safe. ctx is not owned and, like every context given before, must
    /// outlive this transport.
    void replace_tls(SSL_CTX* ctx) noexcept { tls_.store(ctx, std::memory_order_release); }

    /// The connection limit in force: transport_options::max_connections, lowered to what the
    /// open-file limit allows.
    std::size_t max_connections() const noexcept { return opt_.max_connections; }

    /// For /metrics, from any thread.
    struct counts {
        std::size_t connections;  ///< open now
        std::size_t in_flight;    ///< requests a worker has now
        std::uint64_t refused;    ///< connections refused at a connection limit, since start
        std::size_t limit;        ///< max_connections()
    };
    counts current() const noexcept {
        return {open_.load(std::memory_order_relaxed), in_workers_.load(std::memory_order_relaxed),
                refused_.load(std::memory_order_relaxed), opt_.max_connections};
    }

private:
    struct connection;
    enum class phase { handshake, reading, processing, writing, draining };

    void accept_all();
    void on_event(connection* c, std::uint32_t events);
    void on_handshake(connection* c);
    void on_readable(connection* c);
    void progress(connection* c);
    void on_writable(connection* c);
    void dispatch(connection* c);
    void run_request(connection* c);
    void produce(connection* c);
    void on_done(connection* c);
    void answer_error(connection* c, const framing_error& e);
    /// The JSON answer to an error the transport decides itself.
    http_response error_response(const framing_error& e) const;
    void start_draining(connection* c);
    void arm(connection* c, std::uint32_t events);
    void close(connection* c);
    void sweep(std::chrono::steady_clock::time_point now);
    void drain_completions();

    transport_options opt_;
    request_dispatcher dispatch_;
    std::atomic<SSL_CTX*> tls_;
    error_renderer render_;
    event_log& log_;
    int listen_fd_ = -1;
    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::unique_ptr<worker_pool> pool_;
    // Owned by the event-loop thread.
    std::vector<connection*> connections_;
    std::unordered_map<std::string, std::size_t> per_address_;
    std::atomic<std::size_t> in_workers_{0};  // written by the event loop only; read by current()
    std::atomic<std::size_t> open_{0};
    std::atomic<std::uint64_t> refused_{0};
    std::chrono::steady_clock::time_point next_sweep_{};
    std::chrono::steady_clock::time_point last_limit_log_{};
    // Handed back by workers.
    std::mutex done_mu_;
    std::vector<connection*> done_;
};

}  // namespace tokenauth::server
