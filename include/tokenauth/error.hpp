// tokenauth: error codes and the value-or-error result type.
//
// Every failure in the library is an `errc` value. Rejection never throws and never
// allocates: a `result<T>` holds either a value or an `error` (an errc plus a static detail
// string that explains the problem to a human without echoing any input).
#pragma once

#include "detail/config.hpp"

#include <cstdlib>
#include <exception>
#include <new>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace tokenauth {
TOKENAUTH_ABI_BEGIN

/// Every way a credential or an input can be rejected. Values are stable across versions.
enum class errc : int {
    ok = 0,
    // Authorization header
    missing_credentials = 1,  ///< no Authorization header, or an empty one
    header_too_long,          ///< longer than TOKENAUTH_MAX_AUTHORIZATION_LENGTH
    bad_scheme,               ///< scheme is not "Bearer"
    malformed,                ///< not "Bearer" + one space + token
    bad_prefix,               ///< token prefix is neither access-v1: nor session-v1:
    // Token encoding
    bad_length,               ///< token text has the wrong length for its prefix
    bad_encoding,             ///< a character outside the standard base64 alphabet
    bad_padding,              ///< '=' padding missing, misplaced or excessive
    noncanonical_encoding,    ///< non-zero bits in the last character's padding bits
    bad_checksum,             ///< the integrity check over the payload does not match
    unsupported_version,      ///< payload version byte is not one this library knows
    // Credential state
    unknown_token,            ///< no token with this id exists
    bad_secret,               ///< the token id exists but the secret does not match
    expired,                  ///< the token or session is past its expiration time
    disabled,                 ///< the token exists but is disabled
    bad_signature,            ///< a session token's MAC does not verify
    session_revoked,          ///< the session's generation is no longer current
    unknown_user,             ///< the session names a user that does not exist
    // Input parsing
    bad_time,                 ///< a time string is not one of the accepted forms
    time_out_of_range,        ///< a well-formed time outside the representable range
    bad_identity,             ///< an identity string or document is not valid
    unknown_privilege,        ///< a privilege name that does not exist
    bad_token_id,             ///< a token id string is not a valid decimal id
    too_long,                 ///< an input exceeds its length limit
    // Store state (appended: codes keep their values)
    store_stale,              ///< the token store may have missed revocations (a replica behind its source)
    address_not_allowed,      ///< the token is bound to networks the client address is outside (or unknown)
    bad_address,              ///< an IP address or network prefix is not valid
};

/// A static, human-readable description of an error code. Never fails or allocates.
constexpr const char* describe(errc e) noexcept {
    switch (e) {
    case errc::ok: return "ok";
    case errc::missing_credentials: return "missing credentials";
    case errc::header_too_long: return "authorization header too long";
    case errc::bad_scheme: return "authorization scheme is not Bearer";
    case errc::malformed: return "malformed authorization header";
    case errc::bad_prefix: return "unknown token prefix";
    case errc::bad_length: return "token has the wrong length";
    case errc::bad_encoding: return "token is not valid base64";
    case errc::bad_padding: return "token base64 padding is wrong";
    case errc::noncanonical_encoding: return "token base64 is not canonical";
    case errc::bad_checksum: return "token checksum does not match";
    case errc::unsupported_version: return "unsupported token version";
    case errc::unknown_token: return "unknown token";
    case errc::bad_secret: return "token secret does not match";
    case errc::expired: return "credential has expired";
    case errc::disabled: return "access token is disabled";
    case errc::bad_signature: return "session token signature does not verify";
    case errc::session_revoked: return "session has been ended";
    case errc::unknown_user: return "credential names an unknown user";
    case errc::bad_time: return "invalid time";
    case errc::time_out_of_range: return "time out of range";
    case errc::bad_identity: return "invalid identity";
    case errc::unknown_privilege: return "unknown privilege";
    case errc::bad_token_id: return "invalid token id";
    case errc::too_long: return "input too long";
    case errc::store_stale: return "token store is out of date";
    case errc::address_not_allowed: return "token is not allowed from this address";
    case errc::bad_address: return "invalid IP address or network prefix";
    }
    return "unknown error";  // not an enumerator
}

/// describe(e) as a string (every tokenauth to_string returns std::string).
inline std::string to_string(errc e) { return describe(e); }

/// A short snake_case identifier for an error code, for logs and machine-readable bodies.
constexpr const char* to_identifier(errc e) noexcept {
    switch (e) {
    case errc::ok: return "ok";
    case errc::missing_credentials: return "missing_credentials";
    case errc::header_too_long: return "header_too_long";
    case errc::bad_scheme: return "bad_scheme";
    case errc::malformed: return "malformed";
    case errc::bad_prefix: return "bad_prefix";
    case errc::bad_length: return "bad_length";
    case errc::bad_encoding: return "bad_encoding";
    case errc::bad_padding: return "bad_padding";
    case errc::noncanonical_encoding: return "noncanonical_encoding";
    case errc::bad_checksum: return "bad_checksum";
    case errc::unsupported_version: return "unsupported_version";
    case errc::unknown_token: return "unknown_token";
    case errc::bad_secret: return "bad_secret";
    case errc::expired: return "expired";
    case errc::disabled: return "disabled";
    case errc::bad_signature: return "bad_signature";
    case errc::session_revoked: return "session_revoked";
    case errc::unknown_user: return "unknown_user";
    case errc::bad_time: return "bad_time";
    case errc::time_out_of_range: return "time_out_of_range";
    case errc::bad_identity: return "bad_identity";
    case errc::unknown_privilege: return "unknown_privilege";
    case errc::bad_token_id: return "bad_token_id";
    case errc::too_long: return "too_long";
    case errc::store_stale: return "store_stale";
    case errc::address_not_allowed: return "address_not_allowed";
    case errc::bad_address: return "bad_address";
    }
    return "unknown_error";  // not an enumerator
}

namespace detail {
class tokenauth_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "tokenauth"; }
    std::string message(int ev) const override { return describe(static_cast<errc>(ev)); }
};
}  // namespace detail

/// The std::error_category of tokenauth::errc. Never fails.
inline const std::error_category& error_category() noexcept {
    static const detail::tokenauth_category instance;
    return instance;
}

/// Makes a std::error_code from an errc (found by ADL). Never fails.
inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// What a failed result carries: a code and a static detail string (never built from input;
/// never a secret). It has no default: an error is always made from its code, and the only
/// one that reads as no failure is errc::ok, which result<T>::error() gives for a success.
struct error {
    errc code;
    const char* detail;
    /// The code, with detail or, when none is given, describe(code).
    constexpr error(errc c, const char* d = nullptr) noexcept : code(c), detail(d != nullptr ? d : describe(c)) {}
    /// The code as a std::error_code of error_category() (empty for errc::ok).
    std::error_code error_code() const noexcept {
        return code == errc::ok ? std::error_code() : std::error_code(static_cast<int>(code), error_category());
    }
};

/// A value or an error, like std::expected<T, error> (C++23) and absl::StatusOr<T>:
///  - value() is the checked accessor: on an error it throws std::system_error built from
///    error() (under -fno-exceptions it calls std::abort);
///  - operator* and operator-> are unchecked (the caller has tested ok() first);
///  - error() is the tokenauth::error, as std::expected's error() is (errc::ok and "" when a
///    value is held); code() and detail() are its two parts;
///  - T need not be default-constructible;
///  - a result is never "ok" without a value: building one from errc::ok is a bug in the
///    caller and terminates.
/// Holds no heap memory of its own; [[nodiscard]] so that rejections are seen.
template <class T>
class [[nodiscard]] result {
public:
    using value_type = T;

    result(const T& value) : has_(true) { new (&value_) T(value); }       // NOLINT: implicit by design
    result(T&& value) : has_(true) { new (&value_) T(std::move(value)); }  // NOLINT: implicit by design
    result(tokenauth::error e) noexcept : error_(e) { check_failure(); }  // NOLINT: implicit by design
    result(errc code, const char* detail = nullptr) noexcept : error_(code, detail) {  // NOLINT: implicit by design
        check_failure();
    }
    result(const result& other) : has_(other.has_), error_(other.error_) {
        if (has_) new (&value_) T(other.value_);
    }
    result(result&& other) noexcept(std::is_nothrow_move_constructible_v<T>) : has_(other.has_), error_(other.error_) {
        if (has_) new (&value_) T(std::move(other.value_));
    }
    result& operator=(const result& other) {
        if (this != &other) {
            reset();
            if (other.has_) new (&value_) T(other.value_);
            has_ = other.has_;
            error_ = other.error_;
        }
        return *this;
    }
    result& operator=(result&& other) noexcept(std::is_nothrow_move_constructible_v<T>) {
        if (this != &other) {
            reset();
            if (other.has_) new (&value_) T(std::move(other.value_));
            has_ = other.has_;
            error_ = other.error_;
        }
        return *this;
    }
    ~result() { reset(); }

    /// True when the result holds a value.
    [[nodiscard]] bool ok() const noexcept { return has_; }
    [[nodiscard]] bool has_value() const noexcept { return has_; }
    explicit operator bool() const noexcept { return has_; }
    /// The error code (errc::ok when a value is held).
    [[nodiscard]] errc code() const noexcept { return has_ ? errc::ok : error_.code; }
    /// The error: code and detail, to pass on as another result type's (errc::ok and "" when
    /// a value is held). error().error_code() is the std::error_code.
    [[nodiscard]] tokenauth::error error() const noexcept { return has_ ? tokenauth::error(errc::ok, "") : error_; }
    /// The static detail text of the error ("" when a value is held).
    [[nodiscard]] const char* detail() const noexcept { return has_ ? "" : error_.detail; }

    /// The value; throws std::system_error when there is none.
    const T& value() const& {
        check_value();
        return value_;
    }
    T& value() & {
        check_value();
        return value_;
    }
    T&& value() && {
        check_value();
        return std::move(value_);
    }
    /// The value, or fallback when there is none.
    template <class U>
    T value_or(U&& fallback) const& {
        return has_ ? value_ : static_cast<T>(std::forward<U>(fallback));
    }
    /// Unchecked access. Precondition: ok().
    const T& operator*() const& noexcept { return value_; }
    T& operator*() & noexcept { return value_; }
    T&& operator*() && noexcept { return std::move(value_); }
    const T* operator->() const noexcept { return &value_; }
    T* operator->() noexcept { return &value_; }

    /// As std::expected: equal to a value when it holds an equal one; an error never is.
    template <class U, class = std::enable_if_t<!std::is_same_v<std::decay_t<U>, result>>>
    friend bool operator==(const result& r, const U& v) {
        return r.has_ && r.value_ == v;
    }
    template <class U, class = std::enable_if_t<!std::is_same_v<std::decay_t<U>, result>>>
    friend bool operator!=(const result& r, const U& v) {
        return !(r == v);
    }

private:
    void check_failure() const noexcept {
        if (error_.code == errc::ok) std::terminate();  // a result cannot be "ok" without a value
    }
    void check_value() const {
        if (has_) return;
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
        throw std::system_error(error_.error_code(), error_.detail);
#else
        std::abort();
#endif
    }
    void reset() noexcept {
        if (has_) value_.~T();
        has_ = false;
    }

    union {
        T value_;
    };
    bool has_ = false;
    tokenauth::error error_{errc::ok, ""};
};

TOKENAUTH_ABI_END
}  // namespace tokenauth

namespace std {
template <>
struct is_error_code_enum<tokenauth::errc> : true_type {};
}  // namespace std
