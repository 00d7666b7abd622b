#include <catch2/catch.hpp>

#include <tokenauth/time.hpp>

using tokenauth::errc;
using tokenauth::timestamp;

namespace {
constexpr timestamp s(std::int64_t seconds) { return seconds * tokenauth::nanos_per_second; }
constexpr timestamp jan_1_2023 = s(1672531200);
}  // namespace

TEST_CASE("RFC 3339 inputs parse to the right instant", "[time]") {
    struct row {
        const char* input;
        timestamp expected;
    };
    const row rows[] = {
        {"2023-01-01T00:00:00Z", jan_1_2023},
        {"2023-01-01t00:00:00z", jan_1_2023},
        {"2023-01-01 00:00:00Z", jan_1_2023},
        {"2023-01-01T00:00:00+00:00", jan_1_2023},
        {"2023-01-01T01:00:00+01:00", jan_1_2023},
        {"2022-12-31T19:00:00-05:00", jan_1_2023},
        {"2023-01-01T05:30:00+0530", jan_1_2023},
        {"2023-01-01T00:00:00.5Z", jan_1_2023 + 500'000'000},
        {"2023-01-01T00:00:00.000001Z", jan_1_2023 + 1'000},
        {"2023-01-01T00:00:00.123456789Z", jan_1_2023 + 123'456'789},
        {"2022-10-27T15:18:09.725513764Z", s(1666883889) + 725'513'764},
        {"1970-01-01T00:00:00Z", 0},
        {"1969-12-31T23:59:59.999999999Z", -1},
        {"2024-02-29T00:00:00Z", s(1709164800)},
        {"2000-02-29T12:00:00Z", s(951825600)},
        {"2262-04-11T23:47:16.854775807Z", INT64_MAX},
        {"1677-09-21T00:12:43.145224192Z", INT64_MIN},
    };
    for (const auto& r : rows) {
        INFO(r.input);
        const auto t = tokenauth::parse_rfc3339(r.input);
        REQUIRE(t.ok());
        CHECK(*t == r.expected);
    }
}

TEST_CASE("RFC 3339 rejects impossible, incomplete and out-of-range times with a message", "[time]") {
    struct row {
        const char* input;
        errc expected;
        const char* detail_part;
    };
    const row rows[] = {
        {"2023-02-30T00:00:00Z", errc::bad_time, "day"},
        {"2023-02-29T00:00:00Z", errc::bad_time, "day"},  // not a leap year
        {"1900-02-29T00:00:00Z", errc::bad_time, "day"},  // century, not a leap year
        {"2023-04-31T00:00:00Z", errc::bad_time, "day"},
        {"2023-13-01T00:00:00Z", errc::bad_time, "month"},
        {"2023-00-01T00:00:00Z", errc::bad_time, "month"},
        {"2023-01-00T00:00:00Z", errc::bad_time, "day"},
        {"2023-01-01T24:00:00Z", errc::bad_time, "hour"},
        {"2023-01-01T00:60:00Z", errc::bad_time, "minute"},
        {"2023-01-01T00:00:60Z", errc::bad_time, "second"},
        {"2023-01-01T00:00:00", errc::bad_time, "offset"},
        {"2023-01-01T00:00:00+24:00", errc::bad_time, "offset"},
        {"2023-01-01T00:00:00.Z", errc::bad_time, "digits"},
        {"2023-01-01T00:00:00.1234567890Z", errc::bad_time, "9"},
        {"2023-01-01T00:00Z", errc::bad_time, "HH:MM:SS"},
        {"2023-01-01", errc::bad_time, "'T'"},
        {"2023-1-01T00:00:00Z", errc::bad_time, "YYYY-MM-DD"},
        {"23-01-01T00:00:00Z", errc::bad_time, "YYYY-MM-DD"},
        {"2023-01-01T00:00:00Zjunk", errc::bad_time, "unexpected"},
        {"", errc::bad_time, "YYYY"},
        {"9999-12-31T23:59:59Z", errc::time_out_of_range, "range"},
        {"2262-04-11T23:47:16.854775808Z", errc::time_out_of_range, "range"},
        {"1677-09-21T00:12:43.145224191Z", errc::time_out_of_range, "range"},
        {"0000-01-01T00:00:00Z", errc::time_out_of_range, "range"},
    };
    for (const auto& r : rows) {
        INFO(r.input);
        const auto t = tokenauth::parse_rfc3339(r.input);
        CHECK(t.code() == r.expected);
        CHECK(std::string(t.detail()).find(r.detail_part) != std::string::npos);
    }
    CHECK(tokenauth::parse_rfc3339(std::string(100, '2')).code() == errc::bad_time);
}

TEST_CASE("times format as RFC 3339 UTC with trimmed nanoseconds", "[time]") {
    CHECK(tokenauth::format_rfc3339(jan_1_2023) == "2023-01-01T00:00:00Z");
    CHECK(tokenauth::format_rfc3339(s(1666883889) + 725'513'764) == "2022-10-27T15:18:09.725513764Z");
    CHECK(tokenauth::format_rfc3339(jan_1_2023 + 500'000'000) == "2023-01-01T00:00:00.5Z");
    CHECK(tokenauth::format_rfc3339(jan_1_2023 + 1'000) == "2023-01-01T00:00:00.000001Z");
    CHECK(tokenauth::format_rfc3339(-1) == "1969-12-31T23:59:59.999999999Z");
    CHECK(tokenauth::format_rfc3339(INT64_MAX) == "2262-04-11T23:47:16.854775807Z");
    CHECK(tokenauth::format_rfc3339(INT64_MIN) == "1677-09-21T00:12:43.145224192Z");
    CHECK(tokenauth::format_rfc3339(jan_1_2023, tokenauth::utc_suffix::plus_zero) == "2023-01-01T00:00:00+00:00");
}

TEST_CASE("format then parse is the identity across the whole range", "[time]") {
    for (timestamp t : {timestamp{0}, timestamp{1}, timestamp{-1}, INT64_MAX, INT64_MIN, jan_1_2023 + 7,
                        s(951825600) + 999'999'999, s(4102444800), s(-2208988800)}) {
        INFO(t);
        CHECK(tokenauth::parse_rfc3339(tokenauth::format_rfc3339(t)).value() == t);
    }
    std::uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 20000; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const auto t = static_cast<timestamp>(x);
        INFO(t);
        REQUIRE(tokenauth::parse_rfc3339(tokenauth::format_rfc3339(t)).value() == t);
    }
}

TEST_CASE("human expiration inputs parse as UTC", "[time]") {
    const timestamp jan_20_2024 = s(1705708800);
    struct row {
        const char* input;
        timestamp expected;
    };
    const row rows[] = {
        {"Jan 01 2023", jan_1_2023},
        {"jan 1 2023", jan_1_2023},
        {"January 01 2023", jan_1_2023},
        {"Jan 01, 2023", jan_1_2023},
        {"Jan 20 2024", jan_20_2024},
        {"01/01/2023 00:00", jan_1_2023},
        {"01/01/2023", jan_1_2023},
        {"1/20/2024", jan_20_2024},
        {"1/20/2024 12:00", jan_20_2024 + s(12 * 3600)},
        {"2024-01-20 12:00", jan_20_2024 + s(12 * 3600)},
        {"2024-01-20 12:00:30", jan_20_2024 + s(12 * 3600 + 30)},
        {"2024-01-20", jan_20_2024},
        {"2024-01-20T12:00:00", jan_20_2024 + s(12 * 3600)},
        {"2024-01-20T12:00:00+01:00", jan_20_2024 + s(11 * 3600)},
        {"  Jan 20 2024  ", jan_20_2024},
        {"Jan 20 2024 23:59:59", jan_20_2024 + s(86399)},
    };
    for (const auto& r : rows) {
        INFO(r.input);
        const auto t = tokenauth::parse_human_time(r.input);
        REQUIRE(t.ok());
        CHECK(*t == r.expected);
    }
}

TEST_CASE("human inputs reject impossible dates with a clear message", "[time]") {
    struct row {
        const char* input;
        const char* detail_part;
    };
    const row rows[] = {
        {"Feb 30 2023", "day"},       {"02/30/2023", "day"},       {"13/01/2023", "month"},
        {"2023-13-01 00:00", "month"}, {"01/01/2023 24:00", "hour"}, {"Jan 01 2023 12:60", "minute"},
        {"Foo 01 2023", "month name"}, {"Jan 2023", "year"},        {"Jan 01 23", "year"},
        {"tomorrow", "month name"},    {"", "empty"},               {"12", "expected"},
        {"01/01/2023 00:00 PM", "unexpected"}, {"01-01-2023", "expected"},
    };
    for (const auto& r : rows) {
        INFO(r.input);
        const auto t = tokenauth::parse_human_time(r.input);
        CHECK(t.code() == errc::bad_time);
        CHECK(std::string(t.detail()).find(r.detail_part) != std::string::npos);
    }
    CHECK(tokenauth::parse_human_time("Jan 01 9999").code() == errc::time_out_of_range);
}

TEST_CASE("expiry is inclusive of its instant and checked against an injected clock", "[time]") {
    tokenauth::manual_clock clock(jan_1_2023);
    CHECK_FALSE(tokenauth::is_expired(tokenauth::never_expires, clock.now()));
    CHECK_FALSE(tokenauth::is_expired(tokenauth::never_expires, std::numeric_limits<tokenauth::timestamp>::max()));
    CHECK_FALSE(tokenauth::is_expired(jan_1_2023, clock.now()));
    clock.advance(1);
    CHECK(tokenauth::is_expired(jan_1_2023, clock.now()));
    const tokenauth::system_clock real;
    CHECK(real.now() > jan_1_2023);
}
