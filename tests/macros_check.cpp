// Compiled, never run: the public headers leave none of their internal macros defined.
// (TOKENAUTH_MAX_* in limits.hpp stay: they are the documented way to override limits.)
#include <tokenauth/identity_json.hpp>
#include <tokenauth/tokenauth.hpp>

#if defined(TOKENAUTH_VECTOR_BASE64) || defined(TOKENAUTH_PRIVILEGES) || defined(TOKENAUTH_X)
#error "a tokenauth header leaks an internal macro"
#endif
