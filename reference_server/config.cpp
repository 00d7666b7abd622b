#include "config.hpp"

#include "build_info.hpp"
#include "text.hpp"

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

namespace tokenauth::server {

bool is_postgresql(const std::string& database) {
    return database.rfind("postgresql://", 0) == 0 || database.rfind("postgres://", 0) == 0;
}

bool is_loopback(const std::string& host) {
    return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

namespace {
/// HOST:PORT (an IPv6 host in brackets) into host and port 0..65535; false after telling why.
bool parse_host_port(const std::string& text, const char* flag, std::string& host, int& port) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) {
        std::cerr << "tokenauth-server: " << flag << " must be HOST:PORT\n";
        return false;
    }
    host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    try {
        std::size_t used = 0;
        port = std::stoi(text.substr(colon + 1), &used);
        if (used != text.size() - colon - 1 || port < 0 || port > 65535) throw std::out_of_range("port");
    } catch (const std::exception&) {
        std::cerr << "tokenauth-server: " << flag << " port must be 0 to 65535\n";
        return false;
    }
    return true;
}
}  // namespace

std::optional<config> parse_config(int argc, char** argv, int& exit_code) {
    config c;
    std::string listen = "127.0.0.1:8000";
    CLI::App app{"tokenauth-server: the reference server for tokenauth access tokens (HTTPS REST API and web UI; SQLite or PostgreSQL storage)"};
    app.set_version_flag("--version", std::string("tokenauth-server ") + build::version);
    app.footer(
        "Environment:\n"
        "  TOKENAUTH_ADMIN_PASSWORD  password of the 'admin' user, used only when the data dir is first created;\n"
        "                            if unset, a random one is generated and printed once to stderr\n"
        "  TOKENAUTH_LISTEN, TOKENAUTH_DATA_DIR, TOKENAUTH_THREADS  defaults for the flags of the same name\n\n"
        "First start on an empty data dir creates users admin (500) and guest (501), groups Users (513) and\n"
        "Guests (514), roles Administrators and Observers, a machine SID, the session key file session.key\n"
        "(unless --session-key-file names one) and (unless --tls-cert/--tls-key are given) a self-signed\n"
        "certificate. The data dir is mode 0700, its files 0600.\n"
        "Logs: one JSON object per line on stderr; security events also in DATA_DIR/audit.log (hash-chained,\n"
        "see --verify-audit). SIGINT/SIGTERM: finish in-flight requests, save last-used times and exit.");
    app.add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port)")
        ->envname("TOKENAUTH_LISTEN")
        ->capture_default_str();
    app.add_option("--data-dir", c.data_dir, "directory for the database, keys and certificate")
        ->envname("TOKENAUTH_DATA_DIR")
        ->capture_default_str();
    app.add_option("--tls-cert", c.tls_cert, "PEM certificate (default: DATA_DIR/tls-cert.pem, self-signed on first start)");
    app.add_option("--tls-key", c.tls_key, "PEM private key (default: DATA_DIR/tls-key.pem)");
    app.add_flag("--http", c.http, "serve plain HTTP instead of HTTPS (loopback addresses only)");
    app.add_flag("--allow-insecure-http", c.allow_insecure_http, "allow --http on a non-loopback address");
    app.add_option("--threads", c.threads, "worker threads that run requests (connections wait in the event loop, not on a worker)")
        ->envname("TOKENAUTH_THREADS")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    app.add_option("--head-timeout", c.head_timeout,
                   "seconds a client has for the TLS handshake, and for each request head from its first byte")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    app.add_option("--request-timeout", c.request_timeout,
                   "seconds a client has for each whole request (head and body) from its first byte")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    app.add_option("--max-connections", c.max_connections,
                   "open client connections in all; more are closed at once. The server raises its open-file "
                   "limit (RLIMIT_NOFILE) to the hard limit and stays below it")
        ->check(CLI::Range(16, 1000000))
        ->capture_default_str();
    app.add_option("--idle-timeout", c.idle_timeout, "seconds an idle keep-alive connection stays open")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    app.add_option("--write-timeout", c.write_timeout,
                   "seconds a client may go without taking any bytes of a response before it is dropped (a "
                   "streamed list: of its next piece)")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    app.add_option("--max-connections-per-address", c.max_connections_per_address,
                   "open connections one client address may hold; more are closed at once")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    app.add_option("--login-failures-per-user", c.login_failures_per_user,
                   "failed logins one address may make for one user name within the window before 429 "
                   "(the delay doubles from 1 s to 15 min; a success resets it)")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    app.add_option("--login-failures-per-address", c.login_failures_per_address,
                   "failed logins one address may make within the window, over all user names, before 429")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    app.add_option("--login-failure-window", c.login_failure_window, "seconds over which failed logins are counted")
        ->check(CLI::Range(1, 86400))
        ->capture_default_str();
    app.add_option("--shutdown-timeout", c.shutdown_timeout,
                   "seconds that requests in flight may take to finish after SIGTERM or SIGINT (new ones are refused)")
        ->check(CLI::Range(0, 3600))
        ->capture_default_str();
    app.add_option("--auth-failures-per-minute", c.auth_failures_per_minute,
                   "failed bearer credentials one address may send per minute before 429 (0: no limit, for benchmarks)")
        ->check(CLI::Range(0, 100000000))
        ->capture_default_str();
    app.add_option("--max-password-checks", c.max_password_checks,
                   "password hashes (64 MiB of Argon2id each) at once; twice as many may wait up to 1 s, the rest get 503 at once (default: one per CPU)")
        ->check(CLI::Range(1, 1024));
    app.add_option("--trusted-proxy", c.trusted_proxies,
                   "IP address of a load balancer whose X-Forwarded-For names the client (repeatable)")
        ->check(CLI::Validator(
            [](std::string& s) {
                unsigned char buf[sizeof(in6_addr)];
                const bool ip = ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
                return ip ? std::string() : s + " is not an IPv4 or IPv6 address";
            },
            "IP"));
    std::string delegation = "contained";
    app.add_option("--delegation", delegation,
                   "contained: nobody grants, or acts as a user with, privileges they do not hold (403); "
                   "qumulo: each write privilege acts on any user, as in Qumulo Core")
        ->check(CLI::IsMember({"contained", "qumulo"}))
        ->capture_default_str();
    std::string lifetime;
    app.add_option("--max-token-lifetime", lifetime,
                   "longest access-token lifetime from creation (e.g. 365d, 12h); tokens created without an "
                   "expiration get it (default: unlimited)");
    app.add_option("--session-key-file", c.session_key_file,
                   "file holding the session-signing key (64 hex digits; created when missing; default: "
                   "DATA_DIR/session.key). Give several servers the same file");
    app.add_option("--last-used-interval", c.last_used_interval,
                   "seconds between batched writes of access tokens' last-used times (also written at shutdown)")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    std::string expiry_warnings = "30d,7d,1d";
    app.add_option("--expiry-warnings", expiry_warnings,
                   "warn (an audit event) once when an enabled access token comes within each of these of its "
                   "expiry, and once when it expires: durations such as 30d,7d,1d (seconds accepted), or none")
        ->capture_default_str();
    app.add_option("--expiry-warning-interval", c.expiry_warning_interval,
                   "seconds between looks for access tokens crossing an --expiry-warnings threshold")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    app.add_option("--webhook", c.webhooks,
                   "send security events (access_token.*, user.password_changed) to this receiver, signed as "
                   "Standard Webhooks: URL,SECRET_FILE with https (http only to loopback) and a file holding "
                   "whsec_<base64> (two lines while rotating the secret); repeat for more receivers");
    app.add_option("--webhook-retry-base-ms", c.webhook_retry_base_ms,
                   "milliseconds before a failed webhook delivery's first retry; doubled after each failure "
                   "(at most an hour), half of it random")
        ->check(CLI::Range(10, 3'600'000))
        ->capture_default_str();
    app.add_option("--webhook-max-attempts", c.webhook_max_attempts,
                   "attempts before a webhook delivery is given up (kept as dead)")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    app.add_option("--webhook-timeout", c.webhook_timeout,
                   "seconds for each of connecting to a receiver, the TLS handshake, sending, and its answer")
        ->check(CLI::Range(1, 300))
        ->capture_default_str();
    std::string webhook_retention = "7d";
    app.add_option("--webhook-retention", webhook_retention,
                   "how long delivered and dead webhook deliveries stay in the outbox (a duration such as 7d)")
        ->capture_default_str();
    app.add_option("--webhook-ca-file", c.webhook_ca_file,
                   "PEM file of the CAs to trust for webhook receivers, instead of the system's");
    app.add_option("--k8s-prefix", c.k8s_prefix,
                   "put before every user and group name a Kubernetes TokenReview answer gives "
                   "(POST /v1/auth/tokenreviews); names that would start with system: are never given")
        ->check(CLI::Validator(
            [](std::string& s) { return s.rfind("system:", 0) == 0 ? "the prefix must not start with system:" : ""; },
            "PREFIX"))
        ->capture_default_str();
    app.add_option("--k8s-audience", c.k8s_audience,
                   "the audience a TokenReview's spec.audiences must contain when it names any (default: none, "
                   "so only reviews without audiences succeed)");
    app.add_option("--audit-max-bytes", c.audit_max_bytes, "size at which DATA_DIR/audit.log rotates")
        ->check(CLI::Range(std::int64_t{4096}, std::int64_t{1} << 40))
        ->capture_default_str();
    app.add_option("--server-name", c.server_name, "this server's name in audit events (default: the host name)");
    app.add_option("--verify-audit", c.verify_audit,
                   "check the hash chain of DATA_DIR's audit log, name the first broken line, and exit (0: intact)");
    app.add_option("--database", c.database,
                   "sqlite:PATH (default: sqlite:DATA_DIR/tokenauth.db) or a libpq URI postgresql://... that several "
                   "servers share (then --session-key-file is required)")
        ->envname("TOKENAUTH_DATABASE");
    double staleness = 5;
    app.add_option("--max-staleness", staleness,
                   "PostgreSQL: seconds without reaching the database after which authenticated requests get 503 "
                   "(revocations made elsewhere could be missed); it recovers by itself")
        ->check(CLI::Range(0.5, 3600.0))
        ->capture_default_str();
    app.add_option("--change-log-retention", c.change_log_retention,
                   "PostgreSQL: changes the shared change log keeps; older ones are deleted, and a server or replica "
                   "that was further behind loads a snapshot instead of applying them")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{1'000'000'000}))
        ->capture_default_str();
    std::string metrics_listen;
    app.add_option("--metrics-listen", metrics_listen,
                   "HOST:PORT of a plain-HTTP listener serving only GET /metrics, without authentication "
                   "(loopback only, unless --metrics-listen-any); on the main listener /metrics needs "
                   "PRIVILEGE_METRICS_READ");
    app.add_flag("--metrics-listen-any", c.metrics_listen_any,
                 "allow --metrics-listen on an address other than loopback (anyone who reaches it reads the metrics)");
    app.add_option("--migrate-from", c.migrate_from,
                   "sqlite:PATH: copy that SQLite store into the (empty) PostgreSQL --database, then exit");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        exit_code = app.exit(e);
        return std::nullopt;
    }
    c.delegation_qumulo = delegation == "qumulo";
    c.max_staleness_ms = static_cast<int>(staleness * 1000);
    if (c.database.empty()) c.database = "sqlite:" + c.data_dir + "/tokenauth.db";
    if (c.database.rfind("sqlite:", 0) != 0 && !is_postgresql(c.database)) {
        std::cerr << "tokenauth-server: --database must be sqlite:PATH or postgresql://...\n";
        exit_code = 2;
        return std::nullopt;
    }
    if (is_postgresql(c.database) && c.session_key_file.empty()) {
        std::cerr << "tokenauth-server: a PostgreSQL --database needs --session-key-file (the same file on every server)\n";
        exit_code = 2;
        return std::nullopt;
    }
    if (!c.migrate_from.empty() && (c.migrate_from.rfind("sqlite:", 0) != 0 || !is_postgresql(c.database))) {
        std::cerr << "tokenauth-server: --migrate-from sqlite:PATH copies into a --database postgresql://...\n";
        exit_code = 2;
        return std::nullopt;
    }
    if (!lifetime.empty()) {
        const auto seconds = text::parse_duration_seconds(lifetime);
        if (!seconds) {
            std::cerr << "tokenauth-server: --max-token-lifetime must be a positive duration such as 365d, 12h, 30m or 45s\n";
            exit_code = 2;
            return std::nullopt;
        }
        c.max_token_lifetime = *seconds;
    }
    c.expiry_warnings.clear();
    if (expiry_warnings != "none") {
        for (const std::string& part : text::split(expiry_warnings, ',')) {
            const auto seconds = text::parse_duration_seconds(part);
            if (!seconds) {
                std::cerr << "tokenauth-server: --expiry-warnings takes durations such as 30d,7d,1d (or none)\n";
                exit_code = 2;
                return std::nullopt;
            }
            c.expiry_warnings.push_back(*seconds);
        }
        std::sort(c.expiry_warnings.begin(), c.expiry_warnings.end());
        c.expiry_warnings.erase(std::unique(c.expiry_warnings.begin(), c.expiry_warnings.end()), c.expiry_warnings.end());
    }
    if (const auto seconds = text::parse_duration_seconds(webhook_retention)) {
        c.webhook_retention = *seconds;
    } else {
        std::cerr << "tokenauth-server: --webhook-retention takes a duration such as 7d\n";
        exit_code = 2;
        return std::nullopt;
    }
    if (!c.verify_audit.empty()) return c;
    if (!parse_host_port(listen, "--listen", c.host, c.port)) {
        exit_code = 2;
        return std::nullopt;
    }
    if (!metrics_listen.empty()) {
        if (!parse_host_port(metrics_listen, "--metrics-listen", c.metrics_host, c.metrics_port)) {
            exit_code = 2;
            return std::nullopt;
        }
        if (!is_loopback(c.metrics_host) && !c.metrics_listen_any) {
            std::cerr << "tokenauth-server: refusing an unauthenticated metrics listener on non-loopback address "
                      << c.metrics_host << "; add --metrics-listen-any to allow it\n";
            exit_code = 2;
            return std::nullopt;
        }
    }
    if ((c.tls_cert.empty()) != (c.tls_key.empty())) {
        std::cerr << "tokenauth-server: give both --tls-cert and --tls-key, or neither\n";
        exit_code = 2;
        return std::nullopt;
    }
    if (c.http && !is_loopback(c.host) && !c.allow_insecure_http) {
        std::cerr << "tokenauth-server: refusing plain HTTP on non-loopback address " << c.host
                  << " (bearer tokens would cross the network in clear text); add --allow-insecure-http to force it\n";
        exit_code = 2;
        return std::nullopt;
    }
    if (const char* pw = std::getenv("TOKENAUTH_ADMIN_PASSWORD"); pw != nullptr && *pw != '\0') c.admin_password = pw;
    if (c.tls_cert.empty()) {
        c.tls_cert = c.data_dir + "/tls-cert.pem";
        c.tls_key = c.data_dir + "/tls-key.pem";
    }
    return c;
}

}  // namespace tokenauth::server
