// A self-signed TLS certificate for first start: EC P-256 key, 10 years, CN=tokenauth,
// subjectAltName localhost, 127.0.0.1 and ::1. Files are written with mode 0600.
#pragma once

#include <string>

namespace tokenauth::server {

/// Creates cert_path and key_path unless both exist. Throws std::runtime_error on failure.
/// Returns true when it generated them.
bool ensure_self_signed_certificate(const std::string& cert_path, const std::string& key_path);

}  // namespace tokenauth::server
