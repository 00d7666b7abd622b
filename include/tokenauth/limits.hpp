// tokenauth: every size limit in one place. Each can be overridden by defining the macro
// before the first tokenauth include (or on the compiler command line).
#pragma once

#include <cstddef>

/// Longest Authorization header value the validator looks at; longer is rejected first.
#ifndef TOKENAUTH_MAX_AUTHORIZATION_LENGTH
#define TOKENAUTH_MAX_AUTHORIZATION_LENGTH 256
#endif

/// Longest time string the time parsers accept.
#ifndef TOKENAUTH_MAX_TIME_LENGTH
#define TOKENAUTH_MAX_TIME_LENGTH 64
#endif

/// Longest identity string the identity parser accepts.
#ifndef TOKENAUTH_MAX_IDENTITY_LENGTH
#define TOKENAUTH_MAX_IDENTITY_LENGTH 1024
#endif
#if TOKENAUTH_MAX_IDENTITY_LENGTH < 64
#error "TOKENAUTH_MAX_IDENTITY_LENGTH must be at least 64"
#endif

namespace tokenauth {
inline constexpr std::size_t max_authorization_length = TOKENAUTH_MAX_AUTHORIZATION_LENGTH;
inline constexpr std::size_t max_time_length = TOKENAUTH_MAX_TIME_LENGTH;
inline constexpr std::size_t max_identity_length = TOKENAUTH_MAX_IDENTITY_LENGTH;
/// Longest name in an identity: leaves room for the longest prefix ("ldap_group:"), so the
/// canonical string of any accepted identity parses again.
inline constexpr std::size_t max_identity_name_length = TOKENAUTH_MAX_IDENTITY_LENGTH - 16;
}  // namespace tokenauth
