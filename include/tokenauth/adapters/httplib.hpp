// tokenauth for cpp-httplib servers: with_principal(validator, handler) wraps a handler that
// takes the caller's principal as an argument; requests without a valid bearer never reach it.
//
//   server.Get("/data", tokenauth::httplib_adapter::with_principal(validator,
//       [](const httplib::Request&, httplib::Response& res, const tokenauth::principal& who) { ... }));
//
// A refusal is RFC 6750's: 401 with WWW-Authenticate (error="invalid_token" when a credential
// was sent), 503 with Retry-After when the store is stale (a replica behind its source), and
// a small JSON body naming the error code (never the credential). Needs cpp-httplib; the
// validator (and its store) must outlive the server.
#pragma once

#include "../detail/config.hpp"

#include <httplib.h>

#include <string>
#include <utility>

#include "../validator.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN
namespace httplib_adapter {

/// Writes the refusal for a failed validation into res.
inline void refuse(httplib::Response& res, errc code) {
    if (code == errc::store_stale) {
        res.status = 503;
        res.set_header("Retry-After", "1");
    } else {
        res.status = 401;
        res.set_header("WWW-Authenticate", code == errc::missing_credentials
                                               ? "Bearer realm=\"tokenauth\""
                                               : "Bearer realm=\"tokenauth\", error=\"invalid_token\"");
    }
    res.set_content(std::string("{\"error\":\"") + to_identifier(code) + "\"}", "application/json");
}

/// A cpp-httplib handler that validates the request's Authorization header, then calls
/// handler(request, response, principal); the principal is an argument, never a thread-local.
template <class Handler>
httplib::Server::Handler with_principal(const validator& v, Handler handler) {
    return [&v, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
        // Two Authorization headers would be read differently by different parsers: refused.
        if (req.get_header_value_count("Authorization") > 1) return refuse(res, errc::malformed);
        const auto who = v.validate(req.get_header_value("Authorization"));
        if (!who) return refuse(res, who.code());
        handler(req, res, *who);
    };
}

}  // namespace httplib_adapter
TOKENAUTH_ABI_END
}  // namespace tokenauth
