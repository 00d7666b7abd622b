// One notion of a name for users, groups and roles: what is accepted, the form that is
// stored and shown (NFC), and the key that decides uniqueness and lookups (NFKC with Unicode
// case folding, ICU's NFKC_Casefold). Everything that compares names goes through key().
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tokenauth::server::names {

/// What a name is for: role names are also path segments (/v1/auth/roles/{name}); a label
/// (an access token's name) is text for people, identifying nothing, so ':' and '\' may
/// stand in it and its length counts characters.
enum class kind { principal, role, label };

/// The longest name, in UTF-8 bytes, after normalisation.
inline constexpr std::size_t max_bytes = 256;
/// The longest label, in code points, after normalisation.
inline constexpr std::size_t max_label_characters = 100;

struct checked {
    std::string error;  ///< empty when the name is accepted; else why not ("must not ...")
    std::string name;   ///< the name as stored and shown: NFC
    std::string key;    ///< the uniqueness key
    explicit operator bool() const noexcept { return error.empty(); }
};

/// Checks a name as entered. Refused: invalid UTF-8; empty; longer than max_bytes after
/// NFC (a label: max_label_characters); white space at either end; control (Cc), format
/// (Cf), private-use, surrogate or unassigned code points, line and paragraph separators;
/// except in a label, ':' and '\'; for roles also '/', "." and ".."; a name whose key is
/// empty (only ignorable characters).
checked check(std::string_view raw, kind k);

/// The uniqueness key of any text, with no check and no trimming (lookups by a name a
/// client sent): NFKC_Casefold of its NFC form. Text that is not UTF-8 gets a key no valid
/// name has.
std::string key(std::string_view text);

}  // namespace tokenauth::server::names
