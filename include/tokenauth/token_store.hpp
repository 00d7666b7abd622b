// tokenauth: where the validator looks tokens up. token_store is the interface a server
// implements over its own storage (memory_token_store.hpp is the library's own, in memory).
#pragma once

#include <cstdint>

#include "detail/config.hpp"
#include "network.hpp"
#include "secret.hpp"
#include "time.hpp"
#include "token.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN

/// What the validator needs to know about one access token. Holds no secret, only its hash.
struct token_record {
    token_id id;
    secret_hash hash;
    std::uint64_t user_auth_id = 0;
    timestamp expires_at = never_expires;
    bool enabled = true;
    std::uint32_t scope = 0;  ///< a scope_table index; 0: the user's full privileges
    std::uint32_t network = 0;  ///< a network_table index; 0: usable from any address
    hash_scheme scheme = current_hash_scheme;  ///< how hash was computed
};

/// The record to store for a token: its id, the hash of its secret (never the secret
/// itself), its user, expiry, state and scope.
[[nodiscard]] inline token_record make_token_record(const access_token& t, std::uint64_t user,
                                                   timestamp expires_at = never_expires, bool enabled = true,
                                                   std::uint32_t scope = 0) noexcept {
    token_record r;
    r.id = t.id;
    r.hash = hash_access_token(t);
    r.user_auth_id = user;
    r.expires_at = expires_at;
    r.enabled = enabled;
    r.scope = scope;
    return r;
}

/// What token_store::verify found.
enum class lookup_result { found, unknown, bad_secret };

/// Looks tokens up by id. Implementations must be safe to call from many threads at once
/// and must neither throw nor allocate in find() or verify().
class token_store {
public:
    virtual ~token_store() = default;
    /// Copies the record for id into out and returns true, or returns false when unknown.
    [[nodiscard]] virtual bool find(const token_id& id, token_record& out) const noexcept = 0;

    /// Looks up t.id and checks t.secret against the stored hash in constant time; copies
    /// the record into out when found. The default composes find() and verify_secret(): an
    /// unknown id is hashed (with the current scheme) against a dummy hash, so that it costs
    /// what a known id of the current scheme costs and the time of a request does not tell
    /// which ids exist. A store may override it (to overlap its memory access with the
    /// hashing, say) but must keep that property.
    [[nodiscard]] virtual lookup_result verify(const access_token& t, token_record& out) const noexcept {
        static constexpr secret_hash dummy{};
        const bool known = find(t.id, out);
        const bool match =
            verify_secret(t.id.bytes, t.secret, known ? out.hash : dummy, known ? out.scheme : current_hash_scheme);
        if (!known) return lookup_result::unknown;
        return match ? lookup_result::found : lookup_result::bad_secret;
    }

    /// Keeps now as the last use of token id (the validator accepted it). Must neither block
    /// for long, throw nor allocate. The default does nothing.
    virtual void record_use(const token_id& id, timestamp now) const noexcept {
        (void)id;
        (void)now;
    }

    /// True while the store may have missed revocations (a replica that has lost its
    /// source for longer than its bound): the validator then refuses every access token
    /// with errc::store_stale. Must be cheap; the default, for stores that cannot fall
    /// behind, is false.
    [[nodiscard]] virtual bool stale() const noexcept { return false; }

    /// verify(), then record_use() when the token was found enabled and unexpired at now and
    /// has no network bounds: what the validator calls. A store may do both in one lookup.
    /// The validator records a bounded token's use itself, once the address is allowed.
    [[nodiscard]] virtual lookup_result verify_use(const access_token& t, token_record& out,
                                                   timestamp now) const noexcept {
        const lookup_result r = verify(t, out);
        if (r == lookup_result::found && out.network == 0 && out.enabled && !is_expired(out.expires_at, now))
            record_use(t.id, now);
        return r;
    }

    /// True when a token whose record names network index `network` may be used from client
    /// (nullptr: the address is not known). Must be cheap, thread-safe and fail closed; the
    /// default knows no bounds, so it allows only network 0.
    [[nodiscard]] virtual bool address_allowed(std::uint32_t network, const ip_address* client) const noexcept {
        (void)client;
        return network == 0;
    }
};

TOKENAUTH_ABI_END
}  // namespace tokenauth
