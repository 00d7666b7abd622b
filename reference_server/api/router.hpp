// The route table and the per-request context every handler receives: who is calling,
// the directory snapshot, and helpers for authorization, body decoding and JSON replies.
#pragma once

#include <nlohmann/json.hpp>
#include <tokenauth/identity_json.hpp>
#include <tokenauth/validator.hpp>

#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "../http/api_error.hpp"
#include "../http/decoders.hpp"
#include "../http/dispatcher.hpp"
#include "../http/log.hpp"
#include "../http/method.hpp"
#include "../http/throttle.hpp"
#include "../metrics/metrics.hpp"
#include "../storage/store.hpp"

namespace tokenauth::server {

/// Limits on what unauthenticated and failing clients can make the server do.
struct abuse_controls {
    failure_throttle login_pairs;       ///< failed logins per (client address, user name)
    failure_throttle login_addresses;   ///< failed logins per client address
    failure_throttle bearer_addresses;  ///< failed bearer credentials per client address
    password_gate passwords;            ///< concurrent Argon2id hashes
    failure_log failures;               ///< failure events, aggregated per client address
    failure_throttle revokes;           ///< revocation reports per client address (60 an hour)
    std::vector<std::string> trusted_proxies;  ///< peers whose X-Forwarded-For is believed
};

/// Who may delegate what (see authorization.cpp).
enum class delegation_mode {
    contained,  ///< nobody grants, or acts as someone with, privileges they do not hold
    qumulo,     ///< Qumulo's semantics: each write privilege acts on any user
};

/// The server's security policy.
struct policy {
    delegation_mode delegation = delegation_mode::contained;
    timestamp max_token_lifetime = 0;  ///< nanoseconds from creation; 0: unlimited
    std::string k8s_prefix = "tokenauth:";  ///< before every user and group name a TokenReview answers
    std::string k8s_audience;               ///< the audience TokenReviews may ask for ("": none)
};

/// What the handlers share: storage (to read; writes go through request_context::write),
/// the validator, the clock, the event log, the audit trail, the abuse controls, the policy
/// and the counters /metrics reports.
class services {
public:
    services(store& s, const tokenauth::validator& v, const tokenauth::clock& c, event_log& l, abuse_controls& a,
             line_sink& t, server::policy p, server_metrics& m)
        : db(s), validator(v), clock(c), log(l), abuse(a), audit(t), policy(p), metrics(m), writes_(s) {}

    store_reader& db;
    const tokenauth::validator& validator;
    const tokenauth::clock& clock;
    event_log& log;
    abuse_controls& abuse;
    line_sink& audit;
    server::policy policy;
    server_metrics& metrics;

private:
    friend class request_context;
    store& writes_;
};

/// What a write does, as the containment rule (authorization.cpp) sees it.
struct write_effect {
    const char* what = "this change";  ///< for the 403: "modifying this access token"
    /// Privileges the write puts within someone's reach without their holder: a token made
    /// usable again (enabled, expiry later or removed), a user's password or name set (who
    /// can then log in as that user), a user or group removed or renamed.
    privilege_set acts_as;
    /// The change to users, groups, roles or memberships, applied to a copy of the
    /// directory: every privilege it gives or takes away is checked, and the last
    /// administrator is kept.
    std::function<void(directory&)> edit;
};

/// The client's address: the peer's, or with a trusted proxy as the peer, the rightmost
/// X-Forwarded-For entry that is not itself a trusted proxy.
std::string client_address(const http_request& req, const std::vector<std::string>& trusted_proxies);

/// One request in flight.
class request_context {
public:
    request_context(services& s, const http_request& req, http_response& res) : svc(s), req(req), res(res) {}

    services& svc;
    const http_request& req;
    http_response& res;
    principal who;                        ///< valid when authenticated
    std::shared_ptr<const directory> dir;  ///< taken after authentication
    std::string client;                   ///< client_address() of the request

    /// What the caller may do: the user's privileges, narrowed by the token's scope.
    privilege_set caller_privileges() const;
    /// 403 unless the caller holds p (through any role, directly or via a group).
    void require(privilege p) const;
    /// The one way to storage's writes: decides the write's effect first. 400 when the edit
    /// would leave no administrator; with contained delegation, 403
    /// (privilege_escalation_error, naming what is missing) unless the caller holds every
    /// privilege in acts_as and every privilege the edit gives or takes away from anyone.
    store& write(const write_effect& effect) const;
    /// The path capture i (1-based), already percent-decoded by the dispatcher.
    std::string capture(std::size_t i) const { return req.matches[i].str(); }
    /// Decodes the body with a decoder, throwing its 400 on failure.
    template <class T>
    T body(decoded<T> d) const {
        if (!d) throw d.error;
        return std::move(*d.value);
    }
    void reply(const nlohmann::json& j, int status = 200) const;
    /// Records a change the caller made: in the operational log (fields plus "by", the
    /// caller's auth_id) and in the audit trail (with the actor, client and outcome).
    void audit(const char* event, nlohmann::json fields) const;
    /// The local principal an identity names, or 404 saying why none does.
    resolved resolve(const api_identity& id) const;
    /// 200 with an empty body (DELETE and friends).
    void reply_empty() const { res.status = 200; }
    /// An unsigned integer query parameter from min to max; fallback when absent; 400 else.
    std::uint64_t query_uint(const char* key, std::uint64_t fallback, std::uint64_t min, std::uint64_t max) const;
    /// The validator's answer for an Authorization header value, counted in the metrics.
    result<principal> validate(std::string_view header) const;
    /// validate() for a credential used from another address than the request's (a token a
    /// reviewer sends): nullptr when that address is not known, so bounded tokens fail.
    result<principal> validate_from(std::string_view header, const ip_address* address) const;
    /// Argon2id through the password gate: 503 with Retry-After when every slot stays busy.
    std::string hash_password(const std::string& password) const;
    bool verify_password(const std::string& hash, const std::string& password) const;
    /// Every check of a password a client sent (login, change-password, ...): 429 with
    /// Retry-After while (client, name) or the client is throttled; otherwise verifies
    /// against u's hash (a dummy hash when u is null or has none, at the same cost) and
    /// counts a failure against both budgets. event names the failure log line.
    bool check_password(const char* event, const user_row* u, std::string_view name, const std::string& password) const;
};

using handler = std::function<void(request_context&)>;

/// Validates the request's Authorization header and sets ctx.who: 503 while the store is
/// stale (a shared database out of reach for too long), 429 with Retry-After while
/// the client address is throttled, 401 (counted against the address) for a bad credential.
/// Routes with auth::required run it before the handler; the others may call it themselves.
void authenticate(request_context& ctx);

enum class auth { required, none };

/// Registers handlers on the dispatcher with authentication, error mapping and
/// logging wrapped around each.
class router {
public:
    router(request_dispatcher& http, services& svc) : http_(http), svc_(svc) {}

    void get(const std::string& pattern, handler h, auth a = auth::required) { add(http_method::get, pattern, std::move(h), a); }
    void post(const std::string& pattern, handler h, auth a = auth::required) { add(http_method::post, pattern, std::move(h), a); }
    void put(const std::string& pattern, handler h) { add(http_method::put, pattern, std::move(h), auth::required); }
    void patch(const std::string& pattern, handler h) { add(http_method::patch, pattern, std::move(h), auth::required); }
    void del(const std::string& pattern, handler h) { add(http_method::del, pattern, std::move(h), auth::required); }
    /// The same handler for every routed method (GET, and so HEAD, POST, PUT, PATCH, DELETE,
    /// OPTIONS).
    void any(const std::string& pattern, const handler& h, auth a) {
        for (http_method m : routed_methods) add(m, pattern, h, a);
    }

    /// Registers, after every route, the answers for requests no route took: 405 with
    /// `Allow` when the path has routes for other methods, else 404. Call once, last.
    void add_fallbacks();
    /// The methods routed for path ("GET, POST"), or "" for none.
    std::string allowed_methods(const std::string& path) const;
    /// 405 with Allow when the path has routes, else 404.
    void answer_unrouted(const http_request& req, http_response& res) const;

private:
    void add(http_method method, const std::string& pattern, handler h, auth a);
    /// Wraps a handler: the request context, errors as JSON, the duration metric of route.
    request_dispatcher::handler wrap(handler h, auth a, std::size_t route);

    request_dispatcher& http_;
    services& svc_;
    std::vector<std::pair<std::regex, http_method>> routes_;  ///< (pattern, method), in order
};

/// The JSON error body of the spec.
nlohmann::json error_body(const api_error& e);
/// error_body as text; bytes that are not UTF-8 (echoed input) become U+FFFD.
std::string error_text(const api_error& e);
void send_error(http_response& res, const api_error& e);

/// 404 for an object that does not exist.
api_error not_found(const std::string& what);
/// Parses a decimal id from a path segment, or 404s.
std::uint64_t parse_path_id(const std::string& s, const char* what);

/// The paging.next link of a listing: path_and_query (ending in '?' or '&') + limit + after.
std::string paging_link(std::string path_and_query, std::uint64_t limit, std::uint64_t after);

// JSON shapes shared by several resources.
nlohmann::json user_json(const directory& d, const user_row& u);
nlohmann::json group_json(const directory& d, const group_row& g);

// Each resource registers its routes.
void register_version_and_session(router& r);
void register_access_tokens(router& r);
void register_users_and_groups(router& r);
void register_roles(router& r);
void register_identity(router& r);
void register_ui(router& r);
void register_edge(router& r);

}  // namespace tokenauth::server
