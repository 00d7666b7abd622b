// How the server holds the secrets it shows once: a created bearer token and a generated admin
// password travel as secret_text (named, move-only, wiped), never as a bare std::string.
#include <catch2/catch.hpp>

#include <string>
#include <type_traits>
#include <utility>

#include "storage/published.hpp"
#include "storage/store.hpp"

using tokenauth::server::created_token;
using tokenauth::server::published_store;
using tokenauth::server::secret_text;
using tokenauth::server::store;

namespace {

template <class T, class = void>
struct has_public_generated_password : std::false_type {};
template <class T>
struct has_public_generated_password<T, std::void_t<decltype(std::declval<T&>().generated_admin_password)>>
    : std::true_type {};

}  // namespace

TEST_CASE("a created bearer and a generated password are secret_text: named, move-only, wiped", "[secrets]") {
    // The store names what it returns; nothing can copy the bearer out by accident.
    using create_result = decltype(std::declval<store&>().create_token(0, 0, 0, tokenauth::server::token_fields{}));
    STATIC_REQUIRE(std::is_same_v<create_result, created_token>);
    STATIC_REQUIRE(std::is_same_v<decltype(created_token::bearer), secret_text>);
    STATIC_REQUIRE(!std::is_copy_constructible_v<secret_text>);
    STATIC_REQUIRE(!std::is_copy_assignable_v<secret_text>);
    // The generated admin password is taken once, not a public field anyone may read or set.
    STATIC_REQUIRE(!has_public_generated_password<published_store>::value);
    STATIC_REQUIRE(std::is_same_v<decltype(std::declval<published_store&>().take_generated_admin_password()),
                                  std::optional<secret_text>>);

    // clear() (and so the destructor) overwrites the characters in the buffer it keeps.
    secret_text s(std::string(82, 'x'));
    const char* buffer = s.str().data();
    s.clear();
    CHECK(s.str().empty());
    CHECK(s.str().data() == buffer);  // the same buffer, kept by clear()
    for (int i = 0; i < 82; ++i) {
        INFO(i);
        REQUIRE(buffer[i] == '\0');
    }
    // A move leaves nothing behind in the source.
    secret_text a(std::string(82, 'y'));
    secret_text b(std::move(a));
    CHECK(a.str().empty());  // NOLINT(bugprone-use-after-move): what a move leaves is the point
    CHECK(b.str() == std::string(82, 'y'));
}
