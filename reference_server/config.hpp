// tokenauth-server's configuration: flags and environment, defaults, validation, --help.
#pragma once

#include <optional>
#include <string>

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
    int max_connections_per_address = 256;
    std::optional<std::string> admin_password;  ///< from TOKENAUTH_ADMIN_PASSWORD
};

/// Parses argv and the environment. Returns the config, or an exit code to stop with
/// (0 after --help, 2 after printing a usage error to stderr).
std::optional<config> parse_config(int argc, char** argv, int& exit_code);

/// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback(const std::string& host);

}  // namespace tokenauth::server
