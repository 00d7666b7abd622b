// tokenauth: every size limit in one place. Each can be overridden by defining its macro, as
// a decimal integer literal, before the first tokenauth include (or on the compiler command
// line); detail/config.hpp holds the defaults. An override changes the name of the inline
// namespace (tokenauth::v..._l<limits>), so translation units built with different limits
// do not link together rather than break the one-definition rule.
#pragma once

#include <cstddef>

#include "detail/config.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN
/// TOKENAUTH_MAX_AUTHORIZATION_LENGTH: the longest Authorization header value the validator
/// looks at; longer is rejected first.
inline constexpr std::size_t max_authorization_length = TOKENAUTH_MAX_AUTHORIZATION_LENGTH;
/// TOKENAUTH_MAX_TIME_LENGTH: the longest time string the time parsers accept.
inline constexpr std::size_t max_time_length = TOKENAUTH_MAX_TIME_LENGTH;
/// TOKENAUTH_MAX_IDENTITY_LENGTH: the longest identity string the identity parser accepts.
inline constexpr std::size_t max_identity_length = TOKENAUTH_MAX_IDENTITY_LENGTH;
/// Longest name in an identity: leaves room for the longest prefix ("ldap_group:"), so the
/// canonical string of any accepted identity parses again.
inline constexpr std::size_t max_identity_name_length = TOKENAUTH_MAX_IDENTITY_LENGTH - 16;
TOKENAUTH_ABI_END
}  // namespace tokenauth
