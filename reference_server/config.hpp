// tokenauth-server's configuration: flags and environment, defaults, validation, --help.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tokenauth::server {

struct config {
    std::string host = "127.0.0.1";
    int port = 8000;  ///< 0: any free port (printed in the "listening" log line)
    std::string data_dir = "./data";
    std::string tls_cert;  ///< "" : <data_dir>/tls-cert.pem, generated on first start
    std::string tls_key;   ///< "" : <data_dir>/tls-key.pem
    bool http = false;
    bool allow_insecure_http = false;
    int threads = 16;  ///< workers: a connection holds one only while a complete request runs
    int head_timeout = 10;      ///< seconds for a TLS handshake, and for a request head from its first byte
    int request_timeout = 30;   ///< seconds for a whole request (head and body) from its first byte
    int shutdown_timeout = 10;  ///< seconds requests in flight may take to finish after SIGTERM
    int max_connections = 4096;  ///< open client connections in all (lowered to what RLIMIT_NOFILE allows)
    int max_connections_per_address = 256;
    int idle_timeout = 5;        ///< seconds an idle keep-alive connection stays open
    int write_timeout = 10;      ///< seconds a client may take no bytes of a response before it is dropped
    int login_failures_per_user = 5;       ///< per (address, user) within the window; then 429
    int login_failures_per_address = 50;   ///< per address within the window; then 429
    int login_failure_window = 300;        ///< seconds
    int auth_failures_per_minute = 100;    ///< failed bearer credentials per address; 0: unlimited
    int max_password_checks = 0;           ///< concurrent Argon2id hashes; 0: one per CPU
    std::vector<std::string> trusted_proxies;
    std::optional<std::string> admin_password;  ///< from TOKENAUTH_ADMIN_PASSWORD
    bool delegation_qumulo = false;             ///< --delegation qumulo
    std::int64_t max_token_lifetime = 0;        ///< seconds; 0: unlimited
    std::string session_key_file;               ///< "": <data_dir>/session.key
    int last_used_interval = 60;                ///< seconds between saves of last-used times
    std::vector<std::int64_t> expiry_warnings{86400, 7 * 86400, 30 * 86400};  ///< seconds, ascending; empty: none
    int expiry_warning_interval = 60;           ///< seconds between looks for tokens crossing one
    std::vector<std::string> webhooks;          ///< --webhook URL,SECRET_FILE (webhooks.hpp parses them)
    int webhook_retry_base_ms = 5000;           ///< the first retry's delay, doubled with each failure
    int webhook_max_attempts = 12;              ///< then a delivery is dead
    int webhook_timeout = 10;                   ///< seconds for each of connect, TLS, send, status line
    std::int64_t webhook_retention = 7 * 86400; ///< seconds delivered and dead outbox rows are kept
    std::string webhook_ca_file;                ///< trust these CAs for receivers instead of the system's
    std::int64_t audit_max_bytes = 64 << 20;    ///< audit.log rotates beyond this size
    std::string server_name;                    ///< names this server in audit events (default: host name)
    std::string verify_audit;                   ///< --verify-audit DATA_DIR: check and exit
    std::string database;                       ///< sqlite:PATH (default) or postgresql://...
    int max_staleness_ms = 5000;                ///< PostgreSQL: 503 after this long without the database
    std::int64_t change_log_retention = 100000; ///< PostgreSQL: changes the log keeps
    std::string k8s_prefix = "tokenauth:";      ///< --k8s-prefix: before names in TokenReview answers
    std::string k8s_audience;                   ///< --k8s-audience: the audience TokenReviews may name
    std::string migrate_from;                   ///< --migrate-from sqlite:PATH: copy into --database, exit
    std::string metrics_host;                   ///< --metrics-listen: "" for no metrics listener
    int metrics_port = 0;
    bool metrics_listen_any = false;            ///< --metrics-listen-any: a non-loopback metrics address allowed
};

/// True for a libpq URI (postgresql:// or postgres://).
bool is_postgresql(const std::string& database);

/// Parses argv and the environment. Returns the config, or an exit code to stop with
/// (0 after --help, 2 after printing a usage error to stderr).
std::optional<config> parse_config(int argc, char** argv, int& exit_code);

/// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback(const std::string& host);

}  // namespace tokenauth::server
