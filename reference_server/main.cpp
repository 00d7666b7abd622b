// tokenauth-server: flags and environment -> config -> state -> HTTPS server -> run until
// SIGINT/SIGTERM, then finish in-flight requests and close the database.
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>

#include <iostream>
#include <memory>
#include <thread>

#include "api/router.hpp"
#include "config.hpp"
#include "tls/certificate.hpp"

using namespace tokenauth::server;

namespace {

/// Header lines longer than this get 431 (cpp-httplib itself stops at 8 KiB with a 400).
constexpr std::size_t max_header_line = 4096;
constexpr std::size_t max_body = 64 * 1024;

const char* status_class(int status) {
    switch (status) {
    case 400: return "bad_request_error";
    case 404: return "not_found_error";
    case 405: return "method_not_allowed_error";
    case 413: return "request_too_large_error";
    case 414: return "uri_too_long_error";
    case 431: return "request_header_too_large_error";
    default: return status >= 500 ? "internal_error" : "http_error";
    }
}

const char* status_description(int status) {
    switch (status) {
    case 400: return "the request could not be parsed";
    case 404: return "no such endpoint";
    case 413: return "request body is larger than 64 KiB";
    case 414: return "request URI is too long";
    case 431: return "a request header is too long or malformed";
    default: return "the request failed";
    }
}

void configure_http(httplib::Server& http, const config& cfg, event_log& log) {
    http.set_tcp_nodelay(true);  // cpp-httplib 0.11 defaults to Nagle: a few hundred requests/s at most
    http.set_keep_alive_max_count(10000);
    http.set_keep_alive_timeout(5);
    http.set_read_timeout(10, 0);
    http.set_write_timeout(10, 0);
    http.set_idle_interval(0, 100000);
    http.set_payload_max_length(max_body);
    const int threads = cfg.threads;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
    http.set_default_headers({{"Cache-Control", "no-store"}});

    http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
        for (const auto& [name, value] : req.headers) {
            if (name.size() + value.size() > max_header_line) {
                send_error(res, {431, status_class(431), std::string("header '") + name.substr(0, 64) + "' is too long"});
                return httplib::Server::HandlerResponse::Handled;
            }
        }
        if (req.body.size() > max_body) {
            send_error(res, {413, status_class(413), status_description(413)});
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    // Errors cpp-httplib produces itself (unknown path, body too large, unparsable request)
    // get the spec's JSON body; responses that already have a body keep it.
    http.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request& req, httplib::Response& res) {
            if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
            // cpp-httplib answers 400 itself when a header line passes its 8 KiB limit (or
            // cannot be parsed) after a good request line: that is our 431.
            if (res.status == 400 && !req.method.empty()) res.status = 431;
            send_error(res, {res.status, status_class(res.status), status_description(res.status)});
            return httplib::Server::HandlerResponse::Handled;
        }));
    http.set_exception_handler([&log](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
        log.write("internal_error", {{"path", req.path.substr(0, 256)}});
        send_error(res, {500, "internal_error", "the server could not complete the request"});
    });
}

}  // namespace

int main(int argc, char** argv) {
    int exit_code = 0;
    const auto cfg = parse_config(argc, argv, exit_code);
    if (!cfg) return exit_code;
    ::umask(077);  // every file the server creates is private: 0600 files, 0700 directories

    // Block the stop signals in every thread; one thread waits for them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    event_log log;
    try {
        state::options opts{cfg->data_dir, cfg->admin_password};
        state db(opts);
        if (db.generated_admin_password) {
            std::cerr << "tokenauth-server: first start: user 'admin' has the generated password: "
                      << *db.generated_admin_password
                      << "\n(shown only this once; set TOKENAUTH_ADMIN_PASSWORD before the first start to choose it)\n";
        }
        std::unique_ptr<httplib::Server> http;
        if (cfg->http) {
            http = std::make_unique<httplib::Server>();
        } else {
            if (ensure_self_signed_certificate(cfg->tls_cert, cfg->tls_key))
                log.write("tls_certificate_generated", {{"cert", cfg->tls_cert}});
            auto tls = std::make_unique<httplib::SSLServer>(cfg->tls_cert.c_str(), cfg->tls_key.c_str());
            if (!tls->is_valid()) {
                std::cerr << "tokenauth-server: cannot load TLS certificate " << cfg->tls_cert << " / key " << cfg->tls_key << "\n";
                return 1;
            }
            http = std::move(tls);
        }
        tokenauth::system_clock clock;
        const tokenauth::validator validator(db.tokens(), clock, db.key(), db);
        services svc{db, validator, clock, log};
        configure_http(*http, *cfg, log);
        router routes(*http, svc);
        register_version_and_session(routes);
        register_access_tokens(routes);
        register_users_and_groups(routes);
        register_roles(routes);
        register_identity(routes);

        int port = cfg->port;
        if (port == 0) port = http->bind_to_any_port(cfg->host);
        else if (!http->bind_to_port(cfg->host, port)) port = -1;
        if (port <= 0) {
            std::cerr << "tokenauth-server: cannot listen on " << cfg->host << ":" << cfg->port << "\n";
            return 1;
        }
        log.write("listening", {{"address", cfg->host},
                                {"port", port},
                                {"scheme", cfg->http ? "http" : "https"},
                                {"data_dir", cfg->data_dir},
                                {"tokens", db.tokens().size()},
                                {"threads", cfg->threads}});

        std::thread waiter([&] {
            int sig = 0;
            sigwait(&stop_signals, &sig);
            log.write("stopping", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
            http->stop();
        });
        const bool ok = http->listen_after_bind();
        if (waiter.joinable()) {
            pthread_kill(waiter.native_handle(), SIGTERM);  // wakes the waiter if listen ended by itself
            waiter.join();
        }
        log.write("stopped", {{"clean", ok}});
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "tokenauth-server: " << e.what() << "\n";
        return 1;
    }
}
