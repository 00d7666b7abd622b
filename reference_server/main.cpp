// tokenauth-server: flags and environment -> config -> state -> HTTPS server -> run until
// SIGINT/SIGTERM, then finish in-flight requests and close the database. SIGHUP reloads the
// TLS certificate and key.
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <thread>

#include <unistd.h>

#include <condition_variable>
#include <mutex>

#include "api/metrics.hpp"
#include "api/router.hpp"
#include "audit/audit_log.hpp"
#include "config.hpp"
#include "http/transport.hpp"
#include "notify.hpp"
#include "periodic.hpp"
#include "storage/pg_store.hpp"
#include "storage/sqlite_store.hpp"
#include "tls/certificate.hpp"
#include "webhooks/webhooks.hpp"

using namespace tokenauth::server;

namespace {

constexpr std::size_t max_body = 64 * 1024;

/// What the dispatcher decides for every request: the fields every response carries, the
/// request id, and the JSON answers to a request it could not parse or whose handler threw.
void configure_http(request_dispatcher& http, event_log& log) {
    http.set_default_headers({{"Cache-Control", "no-store"}});
    // Every request gets an id before routing (the client's X-Request-Id when well formed):
    // in the response header, on every log line while it runs, in its error body.
    http.set_before_routing([](const http_request& req, http_response& res) {
        res.set_header("X-Request-Id", request_id::begin(req.get_header_value("X-Request-Id")));
    });
    http.set_error_handler([&log](const http_request& req, http_response& res) {
        if (res.status == 400) return send_error(res, {400, "bad_request_error", "the request could not be parsed"});
        log.write("internal_error", {{"path", req.path.substr(0, 256)}});
        send_error(res, {500, "internal_error", "the server could not complete the request"});
    });
}

std::string server_name(const config& c) {
    if (!c.server_name.empty()) return c.server_name;
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    return std::string(host) + ":" + std::to_string(c.port);
}

/// Writes the access tokens' last-used times from memory to the database; records each
/// token's first use in the audit trail.
void save_uses(store& db, line_sink& audit, event_log& log) {
    try {
        for (const tokenauth::token_id& id : db.save_uses())
            audit.write("token_first_used",
                        {{"actor", nullptr}, {"target", {{"token_id", to_string(id)}}}, {"outcome", "success"}});
    } catch (const std::exception& e) {
        log.write("last_used_save_failed", {{"what", e.what()}});
    }
}

/// The expiry warnings due now, each an audit event (token_expiring, token_expired) given once
/// across restarts and servers (the store records each).
void warn_expiries(store& db, line_sink& audit, event_log& log, const tokenauth::clock& clock,
                   const std::vector<std::int64_t>& thresholds) {
    try {
        for (const expiry_warning& w : db.claim_expiry_warnings(clock.now(), thresholds)) {
            nlohmann::json target = {{"token_id", to_string(w.id)},
                                     {"user", std::to_string(w.user)},
                                     {"expiration_time", tokenauth::format_rfc3339(w.expiration)}};
            if (w.threshold > 0) target["within_seconds"] = w.threshold;
            const char* event = w.threshold > 0 ? "token_expiring" : "token_expired";
            audit.write(event, {{"actor", nullptr}, {"target", target}, {"outcome", "warned"}});
            log.write(event, std::move(target));
        }
    } catch (const std::exception& e) {
        log.write("expiry_warning_failed", {{"what", e.what()}});
    }
}

/// The store --database names: SQLite (embedded, the default) or PostgreSQL (shared).
std::unique_ptr<published_store> open_store(const config& c, event_log& log) {
    if (is_postgresql(c.database)) {
        pg_store::options o;
        o.on_follow_error = [&log](const std::string& what) { log.write("follower_error", {{"what", what}}); };
        o.on_snapshot = [&log](std::int64_t seq) {
            log.write("follower_snapshot", {{"at_change", seq}, {"why", "changes not yet applied were pruned from the log"}});
        };
        o.conninfo = c.database;
        o.admin_password = c.admin_password;
        o.session_key_file = c.session_key_file;
        o.max_staleness = std::chrono::milliseconds(c.max_staleness_ms);
        o.change_log_retention = c.change_log_retention;
        return std::make_unique<pg_store>(o);
    }
    sqlite_store::options o{c.data_dir, c.admin_password, c.session_key_file, c.database.substr(std::strlen("sqlite:"))};
    return std::make_unique<sqlite_store>(o);
}

/// --migrate-from sqlite:PATH --database postgresql://...: copies, reports, exits.
int migrate(const config& c, event_log& log) {
    const std::string path = c.migrate_from.substr(std::strlen("sqlite:"));
    const auto slash = path.rfind('/');
    sqlite_store::options from{slash == std::string::npos ? std::string(".") : path.substr(0, slash), std::nullopt,
                               c.session_key_file, path};
    sqlite_store source(from);
    pg_store::options to;
    to.conninfo = c.database;
    to.session_key_file = c.session_key_file;
    to.follow = false;
    pg_store target(to);
    target.import_from(source);
    const auto d = source.snapshot();
    log.write("migrated", {{"from", path}, {"users", d->users.size()}, {"groups", d->groups.size()},
                           {"roles", d->roles.size()}, {"tokens", source.tokens().size()}});
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
#if defined(__GLIBC__)
    // Buffers of 1 MiB and more (a large response, the JSON it was built from) are mapped on
    // their own and unmapped when freed: glibc's moving threshold would otherwise keep them
    // in its arenas after the first (the transport also trims after a large response).
    ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
    int exit_code = 0;
    const auto cfg = parse_config(argc, argv, exit_code);
    if (!cfg) return exit_code;
    if (!cfg->verify_audit.empty()) return audit_log::verify(cfg->verify_audit, std::cout);
    std::vector<webhooks::endpoint> receivers;
    std::vector<std::string> receiver_urls;
    try {
        for (const std::string& spec : cfg->webhooks) {
            receivers.push_back(webhooks::parse_endpoint(spec));
            receiver_urls.push_back(receivers.back().url);
        }
    } catch (const std::exception& e) {
        std::cerr << "tokenauth-server: " << e.what() << "\n";
        return 2;
    }
    ::umask(077);  // every file the server creates is private: 0600 files, 0700 directories

    // Block the stop signals in every thread; one thread waits for them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);  // not a stop: reloads the TLS certificate and key
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    event_log log;
    try {
        if (!cfg->migrate_from.empty()) return migrate(*cfg, log);
        // The data dir holds the TLS files, the audit log and (SQLite) the database.
        if (::mkdir(cfg->data_dir.c_str(), 0700) != 0 && errno != EEXIST)
            throw std::runtime_error("cannot create data dir " + cfg->data_dir + ": " + std::strerror(errno));
        const std::unique_ptr<published_store> store = open_store(*cfg, log);
        published_store& db = *store;
        if (const auto generated = db.take_generated_admin_password()) {
            std::cerr << "tokenauth-server: first start: user 'admin' has the generated password: "
                      << generated->str()
                      << "\n(shown only this once; set TOKENAUTH_ADMIN_PASSWORD before the first start to choose it)\n";
        }
        // Names stored before uniqueness keys that collide with an older name: kept, reported.
        for (const std::string& note : db.name_collisions()) log.write("name_collision", {{"detail", note}});
        std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> tls(nullptr, SSL_CTX_free);
        // Contexts replaced by a reload: kept until the transport is gone (it may be handing
        // one to a new connection as it is replaced).
        std::vector<std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>> retired_tls;
        if (!cfg->http) {
            if (ensure_self_signed_certificate(cfg->tls_cert, cfg->tls_key))
                log.write("tls_certificate_generated", {{"cert", cfg->tls_cert}});
            tls.reset(make_tls_context(cfg->tls_cert, cfg->tls_key));
        }
        transport_options topts;
        topts.workers = cfg->threads;
        topts.head_timeout = topts.handshake_timeout = std::chrono::seconds(cfg->head_timeout);
        topts.request_timeout = std::chrono::seconds(std::max(cfg->request_timeout, cfg->head_timeout));
        topts.max_connections = static_cast<std::size_t>(cfg->max_connections);
        topts.max_connections_per_address = static_cast<std::size_t>(cfg->max_connections_per_address);
        topts.idle_timeout = std::chrono::seconds(cfg->idle_timeout);
        topts.write_timeout = std::chrono::seconds(cfg->write_timeout);
        topts.limits.max_body = max_body;
        topts.shutdown_timeout = std::chrono::seconds(cfg->shutdown_timeout);
        topts.heartbeat_every = notify::watchdog_every();
        topts.heartbeat = [] { notify::send("WATCHDOG=1"); };
        auto http = std::make_unique<transport>(
            topts, tls.get(),
            [](const framing_error& e) { return error_text({e.status, e.error_class, e.description}); }, log);
        tokenauth::system_clock clock;
        const tokenauth::validator validator(db.tokens(), clock, db.key(), db);
        // Before the abuse controls: their failure log flushes into it when they end.
        audit_log audit(cfg->data_dir, server_name(*cfg), static_cast<std::uint64_t>(cfg->audit_max_bytes), log);
        failure_throttle::policy per_user, per_address, bearer;
        per_user.threshold = static_cast<std::size_t>(cfg->login_failures_per_user);
        per_user.window = per_address.window = std::chrono::seconds(cfg->login_failure_window);
        per_address.threshold = static_cast<std::size_t>(cfg->login_failures_per_address);
        bearer.threshold = static_cast<std::size_t>(cfg->auth_failures_per_minute);
        bearer.window = std::chrono::seconds(60);
        failure_throttle::policy revoke_quota;  // GitHub's limit: 60 reports an hour per address
        revoke_quota.threshold = 60;
        revoke_quota.window = revoke_quota.first_delay = revoke_quota.max_delay = std::chrono::seconds(3600);
        const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
        abuse_controls abuse{failure_throttle(per_user),
                             failure_throttle(per_address),
                             failure_throttle(bearer),
                             password_gate(cfg->max_password_checks > 0 ? static_cast<std::size_t>(cfg->max_password_checks) : cpus),
                             failure_log(log),
                             failure_throttle(revoke_quota),
                             cfg->trusted_proxies};
        abuse.failures.mirror_to(&audit);
        policy rules;
        rules.delegation = cfg->delegation_qumulo ? delegation_mode::qumulo : delegation_mode::contained;
        rules.max_token_lifetime = cfg->max_token_lifetime * 1'000'000'000;
        rules.k8s_prefix = cfg->k8s_prefix;
        rules.k8s_audience = cfg->k8s_audience;
        server_metrics metrics;
        // The audit trail as the API and the periodic jobs see it: each event also goes to the
        // webhook outbox when receivers get it.
        webhooks::notifier events(audit, db, receiver_urls, log);
        std::unique_ptr<webhooks::deliverer> delivery;
        if (!receivers.empty()) {
            webhooks::delivery_options o;
            o.retry_base = std::chrono::milliseconds(cfg->webhook_retry_base_ms);
            o.max_attempts = cfg->webhook_max_attempts;
            o.timeout = std::chrono::seconds(cfg->webhook_timeout);
            o.retention = std::chrono::hours(cfg->webhook_retention / 3600 + (cfg->webhook_retention % 3600 != 0));
            o.ca_file = cfg->webhook_ca_file;
            delivery = std::make_unique<webhooks::deliverer>(db, receivers, o, log);
            events.on_enqueued([&delivery] { delivery->wake(); });
        }
        services svc{db, validator, clock, log, abuse, events, rules, metrics};
        periodic saver(std::chrono::seconds(cfg->last_used_interval), [&] { save_uses(db, events, log); },
                       periodic::at_stop::run_once_more);
        periodic warner(std::chrono::seconds(cfg->expiry_warning_interval),
                        [&] { warn_expiries(db, events, log, clock, cfg->expiry_warnings); }, periodic::at_stop::skip);
        router routes(http->routes(), svc);
        configure_http(http->routes(), log);
        // The dispatcher tries a method's routes in order, a regular expression each: the
        // endpoints every proxied or authenticated request reaches come first.
        register_version_and_session(routes);
        register_edge(routes);
        register_access_tokens(routes);
        register_users_and_groups(routes);
        register_roles(routes);
        register_identity(routes);
        register_ui(routes);
        const metrics_sources scrape{db, [&http] { return http->current(); }, [&audit] { return audit.bytes(); }};
        register_metrics(routes, scrape, auth::required);
        routes.add_fallbacks();

        const int port = http->open(cfg->host, cfg->port);
        if (port <= 0) {
            std::cerr << "tokenauth-server: cannot listen on " << cfg->host << ":" << cfg->port << "\n";
            return 1;
        }
        // --metrics-listen: plain HTTP, GET /metrics only, no authentication, its own loop.
        std::unique_ptr<transport> metrics_http;
        std::unique_ptr<router> metrics_routes;
        int metrics_port = 0;
        if (!cfg->metrics_host.empty()) {
            transport_options mopts = topts;
            mopts.workers = 2;
            mopts.heartbeat = nullptr;
            mopts.heartbeat_every = std::chrono::milliseconds(0);
            metrics_http = std::make_unique<transport>(
                mopts, nullptr,
                [](const framing_error& e) { return error_text({e.status, e.error_class, e.description}); }, log);
            metrics_routes = std::make_unique<router>(metrics_http->routes(), svc);
            configure_http(metrics_http->routes(), log);
            register_metrics(*metrics_routes, scrape, auth::none);
            metrics_routes->add_fallbacks();
            metrics_port = metrics_http->open(cfg->metrics_host, cfg->metrics_port);
            if (metrics_port <= 0) {
                std::cerr << "tokenauth-server: cannot listen on " << cfg->metrics_host << ":" << cfg->metrics_port
                          << " (--metrics-listen)\n";
                return 1;
            }
        }
        std::thread metrics_loop;
        if (metrics_http) metrics_loop = std::thread([&metrics_http] { metrics_http->serve(); });
        struct join_metrics {
            std::unique_ptr<transport>& t;
            std::thread& loop;
            ~join_metrics() {
                if (!loop.joinable()) return;
                t->shut_down();
                loop.join();
            }
        } metrics_stop{metrics_http, metrics_loop};
        nlohmann::json listening = {{"address", cfg->host},
                                    {"port", port},
                                    {"scheme", cfg->http ? "http" : "https"},
                                    {"data_dir", cfg->data_dir},
                                    {"tokens", db.tokens().size()},
                                    {"threads", cfg->threads},
                                    {"max_connections", http->max_connections()}};
        if (metrics_port > 0) listening["metrics_port"] = metrics_port;
        log.write("listening", std::move(listening));
        notify::send("READY=1");

        // SIGHUP (systemctl reload, a renewed certificate): new handshakes get the files'
        // certificate and key; connections stay up. A pair that does not load is refused and
        // the one in use kept. SIGINT and SIGTERM stop.
        auto reload_tls = [&] {
            notify::send("RELOADING=1");
            struct ready_again {
                ~ready_again() { notify::send("READY=1"); }
            } after;
            if (!tls) return log.write("reload", {{"tls", "none (--http)"}});
            try {
                std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> next(make_tls_context(cfg->tls_cert, cfg->tls_key),
                                                                       SSL_CTX_free);
                http->replace_tls(next.get());
                retired_tls.push_back(std::move(tls));
                tls = std::move(next);
                log.write("tls_reloaded", {{"cert", cfg->tls_cert}});
            } catch (const std::exception& e) {
                log.write("tls_reload_failed", {{"cert", cfg->tls_cert}, {"reason", e.what()}, {"kept", "the previous pair"}});
            }
        };
        std::thread waiter([&] {
            for (;;) {
                int sig = 0;
                sigwait(&stop_signals, &sig);
                if (sig == SIGHUP) {
                    reload_tls();
                    continue;
                }
                log.write("stopping", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
                notify::send("STOPPING=1");
                http->shut_down();
                return;
            }
        });
        const bool ok = http->serve();
        if (waiter.joinable()) {
            pthread_kill(waiter.native_handle(), SIGTERM);  // wakes the waiter if listen ended by itself
            waiter.join();
        }
        warner.stop();
        saver.stop();
        log.write("stopped", {{"clean", ok}});
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "tokenauth-server: " << e.what() << "\n";
        return 1;
    }
}
