// One HTTP/1.1 POST to a webhook receiver, over TLS with the system's CA store and host-name
// verification (or plain TCP, which config allows only to loopback). No redirect is followed
// (a 3xx is a failure like any non-2xx) and the response body is never read past the status
// line: it is the receiver's, and never logged.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace tokenauth::server::webhooks {

/// A receiver's URL, split.
struct url_parts {
    bool tls = true;
    std::string host;  ///< a name, an IPv4 address, or an IPv6 address without brackets
    std::string port;
    std::string target;  ///< the path and query, "/" at least
};

/// Splits an http:// or https:// URL (no user info, no fragment); false when it is not one.
bool split_url(const std::string& url, url_parts& out);

/// What the receiver answered: its status, or 0 and why there was none.
struct post_result {
    int status = 0;
    std::string error;  ///< connect, TLS or read failure, timeout; never the receiver's body
};

/// POSTs body with these headers; each of connecting, the TLS handshake, sending and reading
/// the status line gets at most `timeout`. ca_file: a PEM bundle to trust instead of the
/// system's (empty: the system's).
post_result post(const url_parts& url, const std::vector<std::pair<std::string, std::string>>& headers,
                 const std::string& body, std::chrono::milliseconds timeout, const std::string& ca_file);

}  // namespace tokenauth::server::webhooks
