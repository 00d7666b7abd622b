// tokenauth for Boost.Beast servers: authenticate(validator, request) gives the caller's
// principal or the response to send instead.
//
//   auto who = tokenauth::beast_adapter::authenticate(validator, request);
//   if (!who.principal) return send(std::move(*who.refusal));
//   serve(request, *who.principal);
//
// A refusal is RFC 6750's: 401 with WWW-Authenticate (error="invalid_token" when a credential
// was sent), 503 with Retry-After when the store is stale, a small JSON body naming the error
// code (never the credential). Needs Boost.Beast (header-only; Debian: libboost-dev).
#pragma once

#include "../detail/config.hpp"

#include <boost/beast/http.hpp>

#include <optional>
#include <string>

#include "../validator.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN
namespace beast_adapter {

namespace http = boost::beast::http;

/// What authenticate() decided: a principal, or the refusal to send.
struct decision {
    std::optional<tokenauth::principal> principal;
    std::optional<http::response<http::string_body>> refusal;
};

/// The refusal for a failed validation, answering request (its version and keep-alive).
template <class Body, class Fields>
http::response<http::string_body> refusal_for(const http::request<Body, Fields>& request, errc code) {
    http::response<http::string_body> res{code == errc::store_stale ? http::status::service_unavailable
                                                                    : http::status::unauthorized,
                                          request.version()};
    if (code == errc::store_stale) {
        res.set(http::field::retry_after, "1");
    } else {
        res.set(http::field::www_authenticate, code == errc::missing_credentials
                                                   ? "Bearer realm=\"tokenauth\""
                                                   : "Bearer realm=\"tokenauth\", error=\"invalid_token\"");
    }
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(request.keep_alive());
    res.body() = std::string("{\"error\":\"") + to_identifier(code) + "\"}";
    res.prepare_payload();
    return res;
}

/// Validates request's Authorization header (exactly one).
template <class Body, class Fields>
decision authenticate(const validator& v, const http::request<Body, Fields>& request) {
    decision d;
    const auto range = request.equal_range(http::field::authorization);
    const auto count = std::distance(range.first, range.second);
    if (count > 1) {
        d.refusal = refusal_for(request, errc::malformed);
        return d;
    }
    const auto header = count == 0 ? boost::beast::string_view{} : range.first->value();
    const auto who = v.validate(std::string_view(header.data(), header.size()));
    if (who)
        d.principal = *who;
    else
        d.refusal = refusal_for(request, who.code());
    return d;
}

}  // namespace beast_adapter
TOKENAUTH_ABI_END
}  // namespace tokenauth
