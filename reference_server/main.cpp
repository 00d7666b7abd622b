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
#include "http/transport.hpp"
#include "storage/state.hpp"
#include "tls/certificate.hpp"

using namespace tokenauth::server;

namespace {

constexpr std::size_t max_body = 64 * 1024;

const char* status_class(int status) {
    switch (status) {
    case 400: return "bad_request_error";
    case 404: return "not_found_error";
    case 405: return "method_not_allowed_error";
    case 413: return "request_too_large_error";
    case 414: return "uri_too_long_error";
    default: return status >= 500 ? "internal_error" : "http_error";
    }
}

const char* status_description(int status) {
    switch (status) {
    case 400: return "the request could not be parsed";
    case 404: return "no such endpoint";
    case 413: return "request body is larger than 64 KiB";
    case 414: return "request URI is too long";
    default: return "the request failed";
    }
}

/// What cpp-httplib still decides for each request the transport hands it: default
/// headers, and the JSON bodies of its own errors.
void configure_http(httplib::Server& http, event_log& log) {
    http.set_keep_alive_max_count(10000);  // only advertised: the transport enforces both
    http.set_keep_alive_timeout(5);
    http.set_payload_max_length(max_body);
    http.set_default_headers({{"Cache-Control", "no-store"}});
    // Errors cpp-httplib produces itself (unknown path, unparsable request) get the spec's
    // JSON body; responses that already have a body keep it.
    http.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request&, httplib::Response& res) {
            if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
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
        std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> tls(nullptr, SSL_CTX_free);
        if (!cfg->http) {
            if (ensure_self_signed_certificate(cfg->tls_cert, cfg->tls_key))
                log.write("tls_certificate_generated", {{"cert", cfg->tls_cert}});
            tls.reset(make_tls_context(cfg->tls_cert, cfg->tls_key));
        }
        transport_options topts;
        topts.workers = cfg->threads;
        topts.head_timeout = topts.handshake_timeout = std::chrono::seconds(cfg->head_timeout);
        topts.request_timeout = std::chrono::seconds(std::max(cfg->request_timeout, cfg->head_timeout));
        topts.max_connections_per_address = static_cast<std::size_t>(cfg->max_connections_per_address);
        topts.limits.max_body = max_body;
        auto http = std::make_unique<transport>(
            topts, tls.get(),
            [](const framing_error& e) { return error_text({e.status, e.error_class, e.description}); }, log);
        tokenauth::system_clock clock;
        const tokenauth::validator validator(db.tokens(), clock, db.key(), db);
        failure_throttle::policy per_user, per_address, bearer;
        per_user.threshold = static_cast<std::size_t>(cfg->login_failures_per_user);
        per_user.window = per_address.window = std::chrono::seconds(cfg->login_failure_window);
        per_address.threshold = static_cast<std::size_t>(cfg->login_failures_per_address);
        bearer.threshold = static_cast<std::size_t>(cfg->auth_failures_per_minute);
        bearer.window = std::chrono::seconds(60);
        const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
        abuse_controls abuse{failure_throttle(per_user),
                             failure_throttle(per_address),
                             failure_throttle(bearer),
                             password_gate(cfg->max_password_checks > 0 ? static_cast<std::size_t>(cfg->max_password_checks) : cpus),
                             failure_log(log),
                             cfg->trusted_proxies};
        services svc{db, validator, clock, log, abuse};
        configure_http(*http, log);
        router routes(*http, svc);
        register_version_and_session(routes);
        register_access_tokens(routes);
        register_users_and_groups(routes);
        register_roles(routes);
        register_identity(routes);

        const int port = http->open(cfg->host, cfg->port);
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
            http->shut_down();
        });
        const bool ok = http->serve();
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
