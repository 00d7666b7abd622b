// Typed decoders for every request body: plain functions from text to a struct or an
// api_error (400 naming the bad field). They never throw, so fuzzers call them directly.
#pragma once

#include <tokenauth/identity.hpp>
#include <tokenauth/privilege.hpp>
#include <tokenauth/time.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api_error.hpp"

namespace tokenauth::server {

/// A decoded value or the error that explains why there is none.
template <class T>
struct decoded {
    std::optional<T> value;
    api_error error{};
    explicit operator bool() const noexcept { return value.has_value(); }
};

struct token_create_body {
    api_identity user;
    std::optional<timestamp> expiration;
    std::optional<privilege_set> privileges;  ///< the token's scope; none: unrestricted
    std::optional<std::string> name;          ///< a label for people (names::kind::label), NFC
    std::optional<std::string> allowed_cidrs; ///< canonical (tokenauth::to_string(network_bounds)); none: any
};
struct token_modify_body {
    std::optional<std::optional<timestamp>> expiration;  ///< outer: present; inner: null = never
    std::optional<bool> enabled;
    std::optional<std::optional<std::string>> name;  ///< outer: present; inner: null = none
    std::optional<std::optional<std::string>> allowed_cidrs;  ///< outer: present; inner: null = any address
};
/// POST /v1/auth/access-tokens/{id}/rotate (an empty body is {}).
struct token_rotate_body {
    std::optional<std::optional<timestamp>> expiration;  ///< outer: present; inner: null = never
    std::int64_t grace_seconds = 0;                       ///< 0 to max_rotation_grace_seconds
};
inline constexpr std::int64_t max_rotation_grace_seconds = 86'400;
struct login_body {
    std::string username;
    std::string password;
};
struct change_password_body {
    std::string old_password;
    std::string new_password;
};
struct user_body {
    std::optional<std::string> id;  ///< PUT only; must match the path
    std::string name;
    std::optional<std::uint64_t> primary_group;  ///< nullopt / "0": the default group
    std::string uid;                             ///< "" for none
    std::optional<std::string> home_directory;
    std::optional<std::string> password;  ///< null/absent: none (POST) or unchanged (PUT)
};
struct group_body {
    std::optional<std::string> id;
    std::string name;
    std::string gid;
};
struct role_body {
    std::optional<std::string> name;
    std::optional<std::string> description;
    std::optional<privilege_set> privileges;
};

inline constexpr std::size_t max_name_length = 256;
inline constexpr std::size_t max_password_length = 1024;

/// A Kubernetes TokenReview (authentication.k8s.io/v1 or v1beta1).
struct token_review_body {
    std::string api_version;
    std::string token;
    std::vector<std::string> audiences;
};

decoded<token_create_body> decode_token_create(std::string_view body) noexcept;
/// RFC 7662's request, an application/x-www-form-urlencoded body: `token` ("" when absent)
/// and this server's addition `client_address` (the address the token was presented from,
/// for tokens with network bounds). 400 when malformed, repeated or not an address. Other
/// fields (token_type_hint) are ignored.
struct introspection_body {
    std::string token;
    std::optional<std::string> client_address;
};
decoded<introspection_body> decode_introspection(std::string_view body) noexcept;
decoded<token_review_body> decode_token_review(std::string_view body) noexcept;
/// POST /v1/auth/access-tokens/revoke: {"credentials": [up to 500 strings]}.
inline constexpr std::size_t max_revoke_credentials = 500;
decoded<std::vector<std::string>> decode_revoke(std::string_view body) noexcept;
decoded<token_modify_body> decode_token_modify(std::string_view body) noexcept;
decoded<token_rotate_body> decode_token_rotate(std::string_view body) noexcept;
decoded<login_body> decode_login(std::string_view body) noexcept;
decoded<change_password_body> decode_change_password(std::string_view body) noexcept;
decoded<std::string> decode_set_password(std::string_view body) noexcept;
/// POST (for_update false) or PUT (true) of /v1/users/.
decoded<user_body> decode_user(std::string_view body, bool for_update) noexcept;
decoded<group_body> decode_group(std::string_view body, bool for_update) noexcept;
/// {"member_id": "1001"} of POST /v1/groups/{id}/members/.
decoded<std::uint64_t> decode_group_member(std::string_view body) noexcept;
/// A role for POST/PUT (all fields required) or PATCH (partial).
decoded<role_body> decode_role(std::string_view body, bool partial) noexcept;
/// A bare api_identity document (role members, identity/find).
decoded<api_identity> decode_identity(std::string_view body) noexcept;
/// {"id": api_identity} of identity/expand.
decoded<api_identity> decode_identity_expand(std::string_view body) noexcept;
/// {"text": "uid:1000"} of identity/parse: the text as a person typed it, parsed by
/// tokenauth::parse_identity (the grammar of the CLI, and through this endpoint of the web UI).
decoded<api_identity> decode_identity_text(std::string_view body) noexcept;

}  // namespace tokenauth::server
