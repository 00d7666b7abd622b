#include "names.hpp"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <cstdint>
#include <cstdio>
#include <stdexcept>

namespace tokenauth::server::names {
namespace {

const icu::Normalizer2& normalizer(bool casefold) {
    static const icu::Normalizer2* const nfc = [] {
        UErrorCode status = U_ZERO_ERROR;
        const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(status);
        if (U_FAILURE(status) || n == nullptr) throw std::runtime_error("ICU has no NFC normalizer");
        return n;
    }();
    static const icu::Normalizer2* const fold = [] {
        UErrorCode status = U_ZERO_ERROR;
        const icu::Normalizer2* n = icu::Normalizer2::getNFKCCasefoldInstance(status);
        if (U_FAILURE(status) || n == nullptr) throw std::runtime_error("ICU has no NFKC_Casefold normalizer");
        return n;
    }();
    return casefold ? *fold : *nfc;
}

bool valid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
    const auto n = static_cast<std::int32_t>(s.size());
    for (std::int32_t i = 0; i < n;) {
        UChar32 c;
        U8_NEXT(p, i, n, c);
        if (c < 0) return false;
    }
    return true;
}

/// NFKC_Casefold of an NFC string, as UTF-8.
std::string folded(const icu::UnicodeString& in) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::UnicodeString out = normalizer(true).normalize(in, status);
    if (U_FAILURE(status)) throw std::runtime_error("ICU could not normalise a name");
    std::string utf8;
    out.toUTF8String(utf8);
    return utf8;
}

/// The NFC form of valid UTF-8.
icu::UnicodeString nfc(std::string_view utf8) {
    UErrorCode status = U_ZERO_ERROR;
    icu::UnicodeString out = normalizer(false).normalize(
        icu::UnicodeString::fromUTF8(icu::StringPiece(utf8.data(), static_cast<std::int32_t>(utf8.size()))), status);
    if (U_FAILURE(status)) throw std::runtime_error("ICU could not normalise a name");
    return out;
}

std::string code_point(UChar32 c) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(c));
    return buf;
}

/// Why a code point may not stand in a name, or nullptr.
const char* refused(UChar32 c, kind k) {
    switch (u_charType(c)) {
    case U_CONTROL_CHAR: return "a control character";
    case U_FORMAT_CHAR: return "a format character";
    case U_PRIVATE_USE_CHAR: return "a private-use character";
    case U_SURROGATE: return "a surrogate";
    case U_UNASSIGNED: return "an unassigned code point";
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR: return "a line or paragraph separator";
    default: break;
    }
    if (k != kind::label && (c == ':' || c == '\\')) return "':' or '\\'";
    if (k == kind::role && c == '/') return "'/'";
    return nullptr;
}

}  // namespace

checked check(std::string_view raw, kind k) {
    checked out;
    if (raw.empty()) {
        out.error = "must not be empty";
        return out;
    }
    if (!valid_utf8(raw)) {
        out.error = "must be valid UTF-8";
        return out;
    }
    const icu::UnicodeString nfc_text = nfc(raw);
    nfc_text.toUTF8String(out.name);
    if (k == kind::label) {
        if (static_cast<std::size_t>(nfc_text.countChar32()) > max_label_characters) {
            out.error = "must be at most " + std::to_string(max_label_characters) + " characters";
            return out;
        }
    } else if (out.name.size() > max_bytes) {
        out.error = "must be at most " + std::to_string(max_bytes) + " bytes of UTF-8";
        return out;
    }
    const UChar32 first = nfc_text.char32At(0);
    const UChar32 last = nfc_text.char32At(nfc_text.moveIndex32(nfc_text.length(), -1));
    if (u_isUWhiteSpace(first) || u_isUWhiteSpace(last)) {
        out.error = "must not begin or end with white space";
        return out;
    }
    for (std::int32_t i = 0; i < nfc_text.length(); i = nfc_text.moveIndex32(i, 1)) {
        const UChar32 c = nfc_text.char32At(i);
        if (const char* why = refused(c, k)) {
            out.error = std::string("must not contain ") + why + " (" + code_point(c) + ")";
            return out;
        }
    }
    if (k == kind::role && (out.name == "." || out.name == "..")) {
        out.error = "must not be '.' or '..'";
        return out;
    }
    out.key = folded(nfc_text);
    if (out.key.empty()) {
        out.error = "must contain a character that is not ignorable";
        return out;
    }
    return out;
}

std::string key(std::string_view text) {
    // No valid name contains U+0000, so a key that starts with it matches none.
    if (!valid_utf8(text)) return std::string(1, '\0') + std::string(text);
    // The key is NFKC_Casefold of the NFC form, exactly as check() computes it. Folding the raw
    // text directly differs for some canonically equivalent inputs: U+0345 U+0301 is reordered
    // by NFC to U+0301 U+0345, while folding first turns U+0345 into U+03B9 (combining class 0),
    // which then composes with U+0301.
    return folded(nfc(text));
}

}  // namespace tokenauth::server::names
