// The server's TLS: a self-signed certificate for first start (EC P-256 key, 10 years,
// CN=tokenauth, subjectAltName localhost, 127.0.0.1 and ::1; files written with mode 0600),
// and the server context the transport's handshakes use.
#pragma once

#include <openssl/ssl.h>

#include <string>

namespace tokenauth::server {

/// Creates cert_path and key_path unless both exist. Throws std::runtime_error on failure.
/// Returns true when it generated them.
bool ensure_self_signed_certificate(const std::string& cert_path, const std::string& key_path);

/// A TLS server context with the certificate and key: TLS 1.2 and 1.3, AEAD suites only
/// (on TLS 1.2: ECDHE with AES-GCM or ChaCha20-Poly1305), no renegotiation, no
/// compression. Throws std::runtime_error naming what failed.
SSL_CTX* make_tls_context(const std::string& cert_file, const std::string& key_file);

}  // namespace tokenauth::server
