// tokenauth: times. A timestamp is a signed 64-bit count of nanoseconds since
// 1970-01-01T00:00:00Z, so the representable range is 1677-09-21T00:12:43.145224192Z to
// 2262-04-11T23:47:16.854775807Z. Parsers reject anything outside it.
#pragma once

#include "detail/config.hpp"

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "detail/int128.hpp"
#include "error.hpp"
#include "limits.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN

/// Nanoseconds since the Unix epoch, UTC.
using timestamp = std::int64_t;

inline constexpr std::int64_t nanos_per_second = 1'000'000'000;

/// A source of the current time. Expiry checks take one so tests can move time.
class clock {
public:
    virtual ~clock() = default;
    /// The current time. Never fails.
    virtual timestamp now() const noexcept = 0;
};

/// The real clock (std::chrono::system_clock).
class system_clock final : public clock {
public:
    timestamp now() const noexcept override {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
};

/// A clock that returns what it was set to; for tests and simulations. Not thread-safe
/// against concurrent set().
class manual_clock final : public clock {
public:
    explicit manual_clock(timestamp t = 0) noexcept : now_(t) {}
    timestamp now() const noexcept override { return now_; }
    void set(timestamp t) noexcept { now_ = t; }
    void advance(std::int64_t ns) noexcept { now_ += ns; }

private:
    timestamp now_;
};

/// The expiration time meaning "never expires": the library's one way to say it (records,
/// principals and sessions alike).
inline constexpr timestamp never_expires = std::numeric_limits<timestamp>::max();

/// True when a credential expiring at `expires` (never_expires: never) is expired at `now`.
/// A credential is valid up to and including its expiration instant.
[[nodiscard]] constexpr bool is_expired(timestamp expires, timestamp now) noexcept {
    return expires != never_expires && now > expires;
}

namespace detail {

constexpr bool is_leap_year(std::int64_t y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr int days_in_month(std::int64_t y, int m) noexcept {
    constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

/// Days since 1970-01-01 of a proleptic Gregorian date (valid y/m/d). Works on 400-year
/// eras so it needs no loop.
constexpr std::int64_t days_from_civil(std::int64_t y, int m, int d) noexcept {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const std::int64_t yoe = y - era * 400;                                  // [0, 399]
    const std::int64_t mp = (m + 9) % 12;                                    // March = 0
    const std::int64_t doy = (153 * mp + 2) / 5 + d - 1;                     // [0, 365]
    const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          // [0, 146096]
    return era * 146097 + doe - 719468;
}

struct civil_date {
    std::int64_t year;
    int month;
    int day;
};

/// Inverse of days_from_civil.
constexpr civil_date civil_from_days(std::int64_t z) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const std::int64_t doe = z - era * 146097;
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;
    const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    return {yoe + era * 400 + (m <= 2), m, d};
}

/// A small forward-only reader over a string; every read checks bounds.
class cursor {
public:
    explicit constexpr cursor(std::string_view s) noexcept : s_(s) {}
    constexpr bool done() const noexcept { return i_ >= s_.size(); }
    constexpr char peek() const noexcept { return done() ? '\0' : s_[i_]; }
    constexpr bool eat(char c) noexcept {
        if (peek() != c || done()) return false;
        ++i_;
        return true;
    }
    /// Reads between min and max decimal digits; false when fewer than min are there.
    constexpr bool digits(int min, int max, std::int64_t& out, int* count = nullptr) noexcept {
        std::int64_t v = 0;
        int n = 0;
        while (n < max && !done() && s_[i_] >= '0' && s_[i_] <= '9') {
            v = v * 10 + (s_[i_] - '0');
            ++i_;
            ++n;
        }
        if (count) *count = n;
        out = v;
        return n >= min;
    }
    constexpr bool digit_next() const noexcept { return !done() && s_[i_] >= '0' && s_[i_] <= '9'; }
    constexpr void skip_spaces() noexcept {
        while (!done() && s_[i_] == ' ') ++i_;
    }
    constexpr std::string_view rest() const noexcept { return s_.substr(i_ < s_.size() ? i_ : s_.size()); }
    constexpr void advance(std::size_t n) noexcept { i_ += n; }

private:
    std::string_view s_;
    std::size_t i_ = 0;
};

struct civil_time {
    std::int64_t year = 1970;
    std::int64_t month = 1, day = 1, hour = 0, minute = 0, second = 0, nanos = 0;
    std::int64_t offset_seconds = 0;  // local time minus UTC
};

/// Checks the fields and turns them into a timestamp, with a precise message on failure.
inline result<timestamp> to_timestamp(const civil_time& t) noexcept {
    if (t.month < 1 || t.month > 12) return {errc::bad_time, "month must be 1 to 12"};
    if (t.day < 1 || t.day > days_in_month(t.year, static_cast<int>(t.month)))
        return {errc::bad_time, "day does not exist in that month"};
    if (t.hour > 23) return {errc::bad_time, "hour must be 0 to 23"};
    if (t.minute > 59) return {errc::bad_time, "minute must be 0 to 59"};
    if (t.second > 59) return {errc::bad_time, "second must be 0 to 59 (leap seconds are not accepted)"};
    const std::int64_t days = days_from_civil(t.year, static_cast<int>(t.month), static_cast<int>(t.day));
    // |days| < 4e6 for 4-digit years, so seconds fit easily; nanoseconds may not.
    const std::int64_t secs = days * 86400 + t.hour * 3600 + t.minute * 60 + t.second - t.offset_seconds;
    const char* range = "time is outside 1677-09-21 to 2262-04-11, the range of 64-bit nanoseconds";
    const int128 ns = static_cast<int128>(secs) * nanos_per_second + t.nanos;
    if (ns > std::numeric_limits<std::int64_t>::max() || ns < std::numeric_limits<std::int64_t>::min())
        return {errc::time_out_of_range, range};
    return static_cast<timestamp>(ns);
}

/// Reads "YYYY-MM-DD".
constexpr bool read_ymd(cursor& c, civil_time& t) noexcept {
    return c.digits(4, 4, t.year) && c.eat('-') && c.digits(2, 2, t.month) && c.eat('-') && c.digits(2, 2, t.day);
}

/// Reads "HH:MM" and optionally ":SS".
constexpr bool read_hm_opt_s(cursor& c, civil_time& t) noexcept {
    if (!(c.digits(1, 2, t.hour) && c.eat(':') && c.digits(2, 2, t.minute))) return false;
    if (c.eat(':')) return c.digits(2, 2, t.second);
    return true;
}

inline std::optional<int> month_from_name(std::string_view s) noexcept {
    constexpr std::string_view names[] = {"january", "february", "march",     "april",   "may",      "june",
                                          "july",    "august",   "september", "october", "november", "december"};
    for (int m = 0; m < 12; ++m) {
        const std::string_view full = names[m];
        if (s.size() != 3 && s.size() != full.size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < s.size() && same; ++i) {
            char ch = s[i];
            if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
            same = ch == full[i];
        }
        if (same) return m + 1;
    }
    return std::nullopt;
}

}  // namespace detail

namespace detail {

/// Reads an ISO 8601 date-time: "YYYY-MM-DD", then 'T', 't' or ' ', "HH:MM:SS" with 0 to 9
/// fractional digits, then 'Z', 'z', +HH:MM or +HHMM. The lenient form (for user input)
/// also takes a date alone, "HH:MM" without seconds, and no zone (meaning UTC).
inline result<timestamp> parse_iso8601(std::string_view s, bool lenient) noexcept {
    if (s.size() > max_time_length) return {errc::bad_time, "time string is too long"};
    cursor c(s);
    civil_time t;
    if (!read_ymd(c, t) || c.digit_next()) return {errc::bad_time, "expected a date as YYYY-MM-DD"};
    if (lenient && c.done()) return to_timestamp(t);
    if (!(c.eat('T') || c.eat('t') || c.eat(' '))) return {errc::bad_time, "expected 'T' between date and time"};
    if (!(c.digits(2, 2, t.hour) && c.eat(':') && c.digits(2, 2, t.minute)))
        return {errc::bad_time, "expected a time as HH:MM:SS"};
    const bool has_seconds = c.eat(':');
    if (has_seconds && !c.digits(2, 2, t.second)) return {errc::bad_time, "expected a time as HH:MM:SS"};
    if (!has_seconds && !lenient) return {errc::bad_time, "expected a time as HH:MM:SS"};
    if (has_seconds && c.eat('.')) {
        int n = 0;
        if (!c.digits(1, 9, t.nanos, &n)) return {errc::bad_time, "expected digits after '.'"};
        if (c.digit_next()) return {errc::bad_time, "at most 9 fractional digits"};
        for (; n < 9; ++n) t.nanos *= 10;
    }
    if (c.done()) {
        if (!lenient) return {errc::bad_time, "time has no UTC offset (add Z or +HH:MM)"};
        return to_timestamp(t);
    }
    if (!(c.eat('Z') || c.eat('z'))) {
        const bool neg = c.peek() == '-';
        if (!(c.eat('+') || c.eat('-'))) return {errc::bad_time, "expected Z or a +HH:MM offset"};
        std::int64_t oh = 0, om = 0;
        if (!c.digits(2, 2, oh)) return {errc::bad_time, "expected a +HH:MM offset"};
        c.eat(':');
        if (!c.digits(2, 2, om)) return {errc::bad_time, "expected a +HH:MM offset"};
        if (oh > 23 || om > 59) return {errc::bad_time, "offset out of range"};
        t.offset_seconds = (neg ? -1 : 1) * (oh * 3600 + om * 60);
    }
    if (!c.done()) return {errc::bad_time, "unexpected characters after the time"};
    return to_timestamp(t);
}

}  // namespace detail

/// Parses an RFC 3339 time with a UTC offset: "2024-01-20T12:00:00Z",
/// "2024-01-20T12:00:00.123456+01:00" (0 to 9 fractional digits; 'T', 't' or a space
/// between date and time; 'Z', 'z', +HH:MM or +HHMM). Fails with bad_time (with a message
/// saying what is wrong: no offset, impossible date, ...) or time_out_of_range.
inline result<timestamp> parse_rfc3339(std::string_view s) noexcept { return detail::parse_iso8601(s, false); }

/// How format_rfc3339 writes the zone.
enum class utc_suffix { z, plus_zero };

/// Formats as RFC 3339 UTC: "2022-10-27T15:18:09.725513764Z", fractional digits only when
/// non-zero, trailing zeros trimmed. With utc_suffix::plus_zero the zone is "+00:00".
/// Never fails.
inline std::string format_rfc3339(timestamp ts, utc_suffix suffix = utc_suffix::z) {
    std::int64_t secs = ts / nanos_per_second;
    std::int64_t nanos = ts % nanos_per_second;
    if (nanos < 0) {
        nanos += nanos_per_second;
        secs -= 1;
    }
    std::int64_t days = secs / 86400;
    std::int64_t sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days -= 1;
    }
    const detail::civil_date d = detail::civil_from_days(days);
    char buf[48];
    int n = 0;
    auto put = [&](std::int64_t v, int width) {
        for (int i = width - 1; i >= 0; --i) {
            buf[n + i] = static_cast<char>('0' + v % 10);
            v /= 10;
        }
        n += width;
    };
    put(d.year, 4);
    buf[n++] = '-';
    put(d.month, 2);
    buf[n++] = '-';
    put(d.day, 2);
    buf[n++] = 'T';
    put(sod / 3600, 2);
    buf[n++] = ':';
    put(sod / 60 % 60, 2);
    buf[n++] = ':';
    put(sod % 60, 2);
    if (nanos != 0) {
        buf[n++] = '.';
        put(nanos, 9);
        while (buf[n - 1] == '0') --n;
    }
    if (suffix == utc_suffix::z) {
        buf[n++] = 'Z';
    } else {
        for (char ch : {'+', '0', '0', ':', '0', '0'}) buf[n++] = ch;
    }
    return std::string(buf, static_cast<std::size_t>(n));
}

/// Parses a time as a user types it, in UTC: any RFC 3339 time; "Jan 01 2023",
/// "January 1 2023"; "01/01/2023", "1/20/2024", "01/01/2023 00:00"; "2024-01-20",
/// "2024-01-20 12:00", "2024-01-20T12:00:00". A time of day, when present, is HH:MM or
/// HH:MM:SS. Fails with bad_time or time_out_of_range and a message.
inline result<timestamp> parse_human_time(std::string_view s) noexcept {
    if (s.size() > max_time_length) return {errc::bad_time, "time string is too long"};
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    if (s.empty()) return {errc::bad_time, "empty time"};
    detail::cursor c(s);
    detail::civil_time t;
    const char ch = c.peek();
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')) {
        // "Mon DD YYYY"
        std::size_t len = 0;
        const std::string_view rest = c.rest();
        while (len < rest.size() && rest[len] != ' ') ++len;
        const auto month = detail::month_from_name(rest.substr(0, len));
        if (!month)
            return {errc::bad_time,
                    "unknown month name (use e.g. 'Jan 01 2023', '01/01/2023 00:00', '2024-01-20 12:00' or RFC 3339)"};
        t.month = *month;
        c.advance(len);
        c.skip_spaces();
        if (!c.digits(1, 2, t.day)) return {errc::bad_time, "expected a day after the month name"};
        c.eat(',');
        c.skip_spaces();
        if (!c.digits(4, 4, t.year) || c.digit_next()) return {errc::bad_time, "expected a 4-digit year"};
    } else {
        std::int64_t first = 0;
        int n = 0;
        c.digits(1, 4, first, &n);
        if (n == 4 && c.peek() == '-') {
            // "YYYY-MM-DD", optionally with a time and a zone: ISO 8601, leniently.
            return detail::parse_iso8601(s, true);
        } else if (n >= 1 && n <= 2 && c.eat('/')) {
            // "MM/DD/YYYY"
            t.month = first;
            if (!(c.digits(1, 2, t.day) && c.eat('/') && c.digits(4, 4, t.year)) || c.digit_next())
                return {errc::bad_time, "expected a date as MM/DD/YYYY"};
        } else {
            return {errc::bad_time,
                    "expected RFC 3339, 'Jan 01 2023', 'MM/DD/YYYY [HH:MM]' or 'YYYY-MM-DD [HH:MM]'"};
        }
    }
    if (!c.done()) {
        if (!c.eat(' ')) return {errc::bad_time, "unexpected characters after the date"};
        c.skip_spaces();
        if (!detail::read_hm_opt_s(c, t)) return {errc::bad_time, "expected a time as HH:MM[:SS]"};
        if (!c.done()) return {errc::bad_time, "unexpected characters after the time"};
    }
    return detail::to_timestamp(t);
}

TOKENAUTH_ABI_END
}  // namespace tokenauth
