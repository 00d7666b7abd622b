// tokenauth: from an Authorization header value to an authenticated principal.
//
//   "Bearer access-v1:..."   parse -> store lookup -> constant-time secret check ->
//                            client address within the token's network bounds? ->
//                            disabled? -> expired? -> record the use -> principal (with
//                            the token's scope: see scope_table in privilege.hpp)
//   "Bearer session-v1:..."  decode -> the user's binding and generation -> constant-time
//                            MAC check (covers the binding) -> expired? -> generation
//                            current? -> principal
//
// The length limit is checked before anything else. Rejection never throws and never
// allocates; each reason is its own errc.
#pragma once

#include "detail/config.hpp"

#include <cstdint>
#include <string_view>

#include "detail/text.hpp"
#include "error.hpp"
#include "limits.hpp"
#include "network.hpp"
#include "session.hpp"
#include "store.hpp"
#include "time.hpp"
#include "token.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN

/// How a principal authenticated.
enum class credential_kind { access_token, session };

/// An authenticated caller.
struct principal {
    std::uint64_t auth_id = 0;             ///< the user
    credential_kind kind = credential_kind::access_token;
    token_id token;                        ///< the access token's id (zero for sessions)
    timestamp expires_at = never_expires;  ///< when the credential stops being valid
    std::uint32_t scope = 0;               ///< the token's scope_table index; 0: unrestricted
};

/// What the validator needs to know of a user to accept its sessions.
struct session_user {
    std::uint64_t generation = 0;  ///< bumped to end every earlier session
    session_binding binding;       ///< fixed at the user's creation, covered by the MAC
};

/// Tells the validator each user's session state.
class session_user_source {
public:
    virtual ~session_user_source() = default;
    /// The user's current session state, or false when the user does not exist. Must be
    /// thread-safe and must neither throw nor allocate.
    [[nodiscard]] virtual bool session_user_of(std::uint64_t auth_id, session_user& out) const noexcept = 0;
};

/// Validates Authorization header values. Holds references only: the store, clock and
/// session sources must outlive it. validate() is safe to call from many threads at once.
/**
 * Example:
 * @code
 *   tokenauth::memory_token_store store;
 *   tokenauth::system_clock clock;
 *   tokenauth::validator v(store, clock);
 *   auto who = v.validate(request.get_header_value("Authorization"));
 *   if (!who) return reply(401, who.detail());
 *   serve(who->auth_id);
 * @endcode
 */
class validator {
public:
    validator(const token_store& store, const clock& clock) noexcept : store_(&store), clock_(&clock) {}

    /// Also accept session-v1 tokens signed with key, checked against users' bindings and
    /// generations.
    validator(const token_store& store, const clock& clock, const session_key& key,
              const session_user_source& users) noexcept
        : store_(&store), clock_(&clock), session_key_(&key), users_(&users) {}

    /// Validates "Bearer <token>" (scheme case-insensitive, exactly one space). Fails with
    /// header_too_long, missing_credentials, malformed, bad_scheme, bad_prefix, any
    /// token parse error, store_stale, unknown_token, bad_secret, disabled, expired,
    /// bad_signature, session_revoked or unknown_user; and with address_not_allowed for
    /// an access token with network bounds (no client address is known here).
    [[nodiscard]] result<principal> validate(std::string_view authorization) const noexcept {
        return validate(authorization, nullptr);
    }

    /// validate() for a request from client: an access token with network bounds is
    /// accepted only from an address within them (address_not_allowed otherwise).
    [[nodiscard]] result<principal> validate(std::string_view authorization, const ip_address& client) const noexcept {
        return validate(authorization, &client);
    }

    /// validate() with the client address when known (nullptr: unknown).
    [[nodiscard]] result<principal> validate(std::string_view authorization, const ip_address* client) const noexcept {
        std::string_view token;
        if (const errc e = split_bearer(authorization, token); e != errc::ok) return e;
        return validate_token(token, client);
    }

    /// The credential of an Authorization header "Bearer <credential>", or an error:
    /// header_too_long, missing_credentials, malformed (no space, or more than one), or
    /// bad_scheme. errc::ok on success, with credential set.
    static errc split_bearer(std::string_view authorization, std::string_view& credential) noexcept {
        if (authorization.size() > max_authorization_length) return errc::header_too_long;
        if (authorization.empty()) return errc::missing_credentials;
        // The scheme ends at the first space (a short scan: a library call costs more here).
        std::size_t space = 0;
        while (space < authorization.size() && authorization[space] != ' ') ++space;
        if (space == authorization.size()) return errc::malformed;
        if (!detail::iequals(authorization.substr(0, space), "bearer")) return errc::bad_scheme;
        const std::string_view token = authorization.substr(space + 1);
        // Exactly one space; what follows is the token parser's to judge (a space or tab
        // inside a token is bad_encoding or bad_length there).
        if (token.empty() || token.front() == ' ' || token.front() == '\t') return errc::malformed;
        credential = token;
        return errc::ok;
    }

    /// Validates a bare token ("access-v1:..." or "session-v1:..."), without the scheme,
    /// from client (nullptr: unknown).
    [[nodiscard]] result<principal> validate_token(std::string_view token,
                                                   const ip_address* client = nullptr) const noexcept {
        if (token.size() > max_authorization_length) return errc::header_too_long;
        if (token.substr(0, access_token_prefix.size()) == access_token_prefix) return validate_access(token, client);
        if (session_key_ != nullptr && token.substr(0, session_token_prefix.size()) == session_token_prefix)
            return validate_session(token);
        return errc::bad_prefix;
    }

private:
    result<principal> validate_access(std::string_view text, const ip_address* client) const noexcept {
        const result<access_token> parsed = parse_access_token(text);
        if (!parsed) return parsed.error();
        if (store_->stale()) return errc::store_stale;  // fail closed: it may have missed a revocation
        token_record rec;
        // The secret is checked before the token's state, so a caller without the secret
        // learns nothing about whether a token is disabled or expired.
        const timestamp now = clock_->now();
        switch (store_->verify_use(*parsed, rec, now)) {  // records the use if it is accepted
        case lookup_result::unknown: return errc::unknown_token;
        case lookup_result::bad_secret: return errc::bad_secret;
        case lookup_result::found: break;
        }
        // Outside its networks a token's state is not told either.
        if (rec.network != 0 && !store_->address_allowed(rec.network, client)) return errc::address_not_allowed;
        if (!rec.enabled) return errc::disabled;
        if (is_expired(rec.expires_at, now)) return errc::expired;
        if (rec.network != 0) store_->record_use(parsed->id, now);  // verify_use left it to us
        principal p;
        p.auth_id = rec.user_auth_id;
        p.kind = credential_kind::access_token;
        p.token = parsed->id;
        p.expires_at = rec.expires_at;
        p.scope = rec.scope;
        return p;
    }

    result<principal> validate_session(std::string_view text) const noexcept {
        if (store_->stale()) return errc::store_stale;  // its users' state may be out of date too
        std::uint8_t payload[session_payload_size];
        const errc decoded = detail::decode_prefixed(text, session_token_prefix, session_token_version, payload);
        if (decoded != errc::ok) return decoded;
        const session_claims claims = detail::session_claims_of(payload);
        // An unknown user is checked against an all-zero binding, which no user has: the
        // MAC fails as for any forgery, so made-up auth ids tell nothing about which exist.
        session_user user;
        const bool known = users_->session_user_of(claims.auth_id, user);
        if (!known) user = session_user{};
        const errc authentic = detail::authenticate_session_payload(*session_key_, payload, user.binding, clock_->now());
        if (authentic != errc::ok) return authentic;
        if (!known) return errc::unknown_user;
        if (user.generation != claims.generation) return errc::session_revoked;
        principal p;
        p.auth_id = claims.auth_id;
        p.kind = credential_kind::session;
        p.expires_at = claims.expires_at;
        return p;
    }

    const token_store* store_;
    const clock* clock_;
    const session_key* session_key_ = nullptr;
    const session_user_source* users_ = nullptr;
};

TOKENAUTH_ABI_END
}  // namespace tokenauth
