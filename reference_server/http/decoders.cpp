#include "decoders.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include <tokenauth/identity_json.hpp>
#include <tokenauth/network.hpp>
#include "../names.hpp"
#include "../text.hpp"

namespace tokenauth::server {
namespace {

using nlohmann::json;

api_error bad(std::string description) { return bad_request(std::move(description)); }

/// Parses the body as a JSON object, or explains why it is not one. A key that appears
/// twice in one object is refused: parsers disagree on which one wins (nlohmann takes the
/// last), so {"user": A, "user": B} would mean different things to a proxy and to us.
std::optional<json> parse_object(std::string_view body, api_error& err) {
    std::vector<std::vector<std::string>> keys;  // the keys seen, per open object
    std::optional<std::string> duplicate;
    const json::parser_callback_t check = [&](int, json::parse_event_t event, json& parsed) {
        switch (event) {
        case json::parse_event_t::object_start: keys.emplace_back(); break;
        case json::parse_event_t::object_end:
            if (!keys.empty()) keys.pop_back();
            break;
        case json::parse_event_t::key: {
            if (keys.empty() || duplicate) break;
            auto& seen = keys.back();
            const auto& key = parsed.get_ref<const std::string&>();
            if (std::find(seen.begin(), seen.end(), key) != seen.end()) duplicate = key;
            else seen.push_back(key);
            break;
        }
        default: break;
        }
        return true;
    };
    json j = json::parse(body.begin(), body.end(), check, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        err = bad("request body is not valid JSON");
        return std::nullopt;
    }
    if (duplicate) {
        err = bad("request body has the key '" + duplicate->substr(0, 64) + "' twice in one object");
        return std::nullopt;
    }
    if (!j.is_object()) {
        err = bad("request body must be a JSON object");
        return std::nullopt;
    }
    return j;
}

const json* field(const json& j, const char* key) {
    const auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
}

/// A string field; nullopt with err set when present with another type or too long.
bool string_field(const json& j, const char* key, std::optional<std::string>& out, api_error& err,
                  std::size_t max = max_name_length) {
    const json* f = field(j, key);
    if (f == nullptr || f->is_null()) return true;
    if (!f->is_string()) {
        err = bad(std::string("'") + key + "' must be a string");
        return false;
    }
    if (f->get_ref<const std::string&>().size() > max) {
        err = bad(std::string("'") + key + "' is too long");
        return false;
    }
    out = f->get<std::string>();
    return true;
}

bool required_string(const json& j, const char* key, std::string& out, api_error& err,
                     std::size_t max = max_name_length) {
    std::optional<std::string> v;
    if (!string_field(j, key, v, err, max)) return false;
    if (!v) {
        err = bad(std::string("'") + key + "' is required");
        return false;
    }
    out = std::move(*v);
    return true;
}

/// An RFC 3339 expiration with offset, or null.
bool time_field(const json& f, std::optional<timestamp>& out, api_error& err) {
    if (f.is_null()) {
        out.reset();
        return true;
    }
    if (!f.is_string()) {
        err = bad("'expiration_time' must be an RFC 3339 string or null");
        return false;
    }
    const auto t = parse_rfc3339(f.get_ref<const std::string&>());
    if (!t) {
        err = bad(std::string("'expiration_time' is not a valid RFC 3339 time with offset: ") + t.detail());
        return false;
    }
    out = *t;
    return true;
}

/// A user, group or role name (names.hpp): replaced by its stored form (NFC), or err set.
bool valid_name(std::string& name, names::kind k, api_error& err) {
    names::checked c = names::check(name, k);
    if (!c) {
        err = bad("'name' " + c.error);
        return false;
    }
    name = std::move(c.name);
    return true;
}

/// An "expiration_time" that changes one: absent (the outer optional stays empty), null
/// (never), or an RFC 3339 time.
bool expiration_change(const json& j, std::optional<std::optional<timestamp>>& out, api_error& err) {
    const json* e = field(j, "expiration_time");
    if (e == nullptr) return true;
    std::optional<timestamp> t;
    if (!time_field(*e, t, err)) return false;
    out = t;
    return true;
}

/// A token's "name": absent (the outer optional stays empty), null, or a label.
bool token_name_field(const json& j, std::optional<std::optional<std::string>>& out, api_error& err) {
    const json* f = field(j, "name");
    if (f == nullptr) return true;
    if (f->is_null()) {
        out.emplace();
        return true;
    }
    std::optional<std::string> name;
    // The byte bound first (4 bytes a character at most), then the character count.
    if (!string_field(j, "name", name, err, 4 * names::max_label_characters) ||
        !valid_name(*name, names::kind::label, err))
        return false;
    out = std::move(name);
    return true;
}

/// A token's "allowed_cidrs": absent (the outer optional stays empty), null (any address), or
/// an array of 1 to 16 IPv4 or IPv6 prefixes, kept canonical and sorted.
bool allowed_cidrs_field(const json& j, std::optional<std::optional<std::string>>& out, api_error& err) {
    const json* f = field(j, "allowed_cidrs");
    if (f == nullptr) return true;
    if (f->is_null()) {
        out.emplace();
        return true;
    }
    const std::string rule = "'allowed_cidrs' must be null or a list of 1 to " +
                             std::to_string(max_network_prefixes) + " network prefixes such as \"10.0.0.0/8\"";
    if (!f->is_array() || f->empty() || f->size() > max_network_prefixes) {
        err = bad(rule);
        return false;
    }
    network_bounds b;
    for (const json& item : *f) {
        ip_prefix p;
        if (!item.is_string() || parse_ip_prefix(item.get_ref<const std::string&>(), p) != errc::ok) {
            const std::string shown = item.is_string() ? item.get_ref<const std::string&>().substr(0, 64) : item.dump().substr(0, 64);
            err = bad(rule + "; '" + shown + "' is not one (an address, or an address whose bits after the prefix are all zero, then '/' and the length)");
            return false;
        }
        (void)add_prefix(b, p);  // at most 16 items: never too many
    }
    out = to_string(b);
    return true;
}

/// A decimal id given as a string or a number.
std::optional<std::uint64_t> id_value(const json& f) {
    if (f.is_string()) return text::parse_decimal(f.get_ref<const std::string&>(), UINT64_MAX);
    if (f.is_number_unsigned()) return f.get<std::uint64_t>();
    if (f.is_number_integer() && f.get<std::int64_t>() >= 0) return f.get<std::uint64_t>();
    return std::nullopt;
}

/// A decimal uid/gid string ("" for none); numbers are accepted too.
bool posix_id_field(const json& j, const char* key, std::string& out, api_error& err) {
    const json* f = field(j, key);
    if (f == nullptr || f->is_null() || (f->is_string() && f->get_ref<const std::string&>().empty())) {
        out.clear();
        return true;
    }
    const auto v = id_value(*f);
    if (!v || *v > UINT32_MAX) {
        err = bad(std::string("'") + key + "' must be a 32-bit unsigned integer or \"\"");
        return false;
    }
    out = std::to_string(*v);
    return true;
}

template <class T, class F>
decoded<T> guarded(std::string_view body, F&& f) noexcept {
    decoded<T> out;
    try {
        api_error err;
        const auto j = parse_object(body, err);
        if (!j) {
            out.error = std::move(err);
            return out;
        }
        f(*j, out);
    } catch (const std::exception&) {
        out.value.reset();
        out.error = bad("request body could not be decoded");
    }
    return out;
}

}  // namespace

/// An optional "privileges" array of privilege names (null or absent: none given).
static bool privileges_field(const json& j, std::optional<privilege_set>& out, api_error& error) {
    const json* p = field(j, "privileges");
    if (p == nullptr || p->is_null()) return true;
    if (!p->is_array()) {
        error = bad("'privileges' must be an array of privilege names");
        return false;
    }
    privilege_set set;
    for (const json& e : *p) {
        const auto priv = parse_privilege(e.is_string() ? e.get_ref<const std::string&>() : std::string_view());
        if (!priv) {
            error = bad("'privileges' holds an unknown privilege: " +
                        (e.is_string() ? e.get<std::string>().substr(0, 80) : e.dump().substr(0, 80)));
            return false;
        }
        set.insert(*priv);
    }
    out = set;
    return true;
}

decoded<token_create_body> decode_token_create(std::string_view body) noexcept {
    return guarded<token_create_body>(body, [](const json& j, decoded<token_create_body>& out) {
        token_create_body b;
        const json* user = field(j, "user");
        if (user == nullptr || user->is_null()) {
            out.error = bad("'user' is required: the identity of the user who will hold the token");
            return;
        }
        const auto id = identity_from_json(*user);
        if (!id) {
            out.error = bad(std::string("'user': ") + id.detail());
            return;
        }
        b.user = *id;
        if (const json* e = field(j, "expiration_time"))
            if (!time_field(*e, b.expiration, out.error)) return;
        if (!privileges_field(j, b.privileges, out.error)) return;
        std::optional<std::optional<std::string>> name;
        if (!token_name_field(j, name, out.error)) return;
        if (name) b.name = std::move(*name);
        std::optional<std::optional<std::string>> cidrs;
        if (!allowed_cidrs_field(j, cidrs, out.error)) return;
        if (cidrs) b.allowed_cidrs = std::move(*cidrs);
        out.value = std::move(b);
    });
}

namespace {
int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

decoded<introspection_body> decode_introspection(std::string_view body) noexcept {
    decoded<introspection_body> out;
    try {
        introspection_body b;
        bool seen_token = false;
        while (!body.empty()) {
            const std::size_t amp = body.find('&');
            const std::string_view pair = body.substr(0, amp);
            body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
            const std::size_t eq = pair.find('=');
            const std::string_view key = pair.substr(0, eq);
            std::string* target = nullptr;
            bool seen = false;
            if (key == "token") {
                target = &b.token;
                seen = std::exchange(seen_token, true);
            } else if (key == "client_address") {
                seen = b.client_address.has_value();
                target = &b.client_address.emplace();
            } else {
                continue;
            }
            if (seen) {
                out.error = bad("the form has more than one '" + std::string(key) + "'");
                return out;
            }
            const std::string_view raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
            for (std::size_t i = 0; i < raw.size(); ++i) {
                if (raw[i] != '%') {
                    *target += raw[i] == '+' ? ' ' : raw[i];
                    continue;
                }
                const int hi = i + 2 < raw.size() ? hex_digit(raw[i + 1]) : -1;
                const int lo = i + 2 < raw.size() ? hex_digit(raw[i + 2]) : -1;
                if (hi < 0 || lo < 0) {
                    out.error = bad("the form has a malformed percent-encoding");
                    return out;
                }
                *target += static_cast<char>(hi * 16 + lo);
                i += 2;
            }
        }
        ip_address ignored;
        if (b.client_address && parse_ip_address(*b.client_address, ignored) != errc::ok) {
            out.error = bad("'client_address' must be an IPv4 or IPv6 address");
            return out;
        }
        out.value = std::move(b);
    } catch (const std::exception&) {  // bad_alloc
        out.error = bad("the form could not be read");
    }
    return out;
}

decoded<token_review_body> decode_token_review(std::string_view body) noexcept {
    return guarded<token_review_body>(body, [](const json& j, decoded<token_review_body>& out) {
        token_review_body b;
        const json* spec = field(j, "spec");
        const json* kind = field(j, "kind");
        if (!required_string(j, "apiVersion", b.api_version, out.error) ||
            (b.api_version != "authentication.k8s.io/v1" && b.api_version != "authentication.k8s.io/v1beta1") ||
            kind == nullptr || *kind != "TokenReview" || spec == nullptr || !spec->is_object() ||
            !required_string(*spec, "token", b.token, out.error, max_authorization_length)) {
            out.error = bad("expected an authentication.k8s.io/v1 or v1beta1 TokenReview with spec.token");
            return;
        }
        if (const json* a = field(*spec, "audiences"); a != nullptr && !a->is_null()) {
            if (!a->is_array() || a->size() > 64) {
                out.error = bad("spec.audiences must be an array of at most 64 strings");
                return;
            }
            for (const json& v : *a) {
                if (!v.is_string() || v.get_ref<const std::string&>().size() > max_name_length) {
                    out.error = bad("spec.audiences must be an array of strings");
                    return;
                }
                b.audiences.push_back(v.get<std::string>());
            }
        }
        out.value = std::move(b);
    });
}

decoded<std::vector<std::string>> decode_revoke(std::string_view body) noexcept {
    return guarded<std::vector<std::string>>(body, [](const json& j, decoded<std::vector<std::string>>& out) {
        const json* c = field(j, "credentials");
        if (c == nullptr || !c->is_array()) {
            out.error = bad("'credentials' is required: an array of exposed access tokens");
            return;
        }
        if (c->size() > max_revoke_credentials) {
            out.error = bad("at most " + std::to_string(max_revoke_credentials) + " credentials per request");
            return;
        }
        std::vector<std::string> list;
        for (const json& e : *c) {
            if (!e.is_string()) {
                out.error = bad("'credentials' must hold strings");
                return;
            }
            list.push_back(e.get<std::string>());
        }
        out.value = std::move(list);
    });
}

decoded<token_modify_body> decode_token_modify(std::string_view body) noexcept {
    return guarded<token_modify_body>(body, [](const json& j, decoded<token_modify_body>& out) {
        token_modify_body b;
        if (!expiration_change(j, b.expiration, out.error)) return;
        if (const json* e = field(j, "enabled"); e != nullptr && !e->is_null()) {
            if (!e->is_boolean()) {
                out.error = bad("'enabled' must be true or false");
                return;
            }
            b.enabled = e->get<bool>();
        }
        if (!token_name_field(j, b.name, out.error)) return;
        if (!allowed_cidrs_field(j, b.allowed_cidrs, out.error)) return;
        out.value = std::move(b);
    });
}

decoded<token_rotate_body> decode_token_rotate(std::string_view body) noexcept {
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return {token_rotate_body{}, {}};
    return guarded<token_rotate_body>(body, [](const json& j, decoded<token_rotate_body>& out) {
        token_rotate_body b;
        if (!expiration_change(j, b.expiration, out.error)) return;
        if (const json* g = field(j, "grace_seconds"); g != nullptr && !g->is_null()) {
            if (!g->is_number_integer() || g->get<std::int64_t>() < 0 ||
                g->get<std::int64_t>() > max_rotation_grace_seconds) {
                out.error = bad("'grace_seconds' must be a whole number from 0 to " +
                                std::to_string(max_rotation_grace_seconds));
                return;
            }
            b.grace_seconds = g->get<std::int64_t>();
        }
        out.value = std::move(b);
    });
}

decoded<login_body> decode_login(std::string_view body) noexcept {
    return guarded<login_body>(body, [](const json& j, decoded<login_body>& out) {
        login_body b;
        if (!required_string(j, "username", b.username, out.error)) return;
        if (!required_string(j, "password", b.password, out.error, max_password_length)) return;
        out.value = std::move(b);
    });
}

decoded<change_password_body> decode_change_password(std::string_view body) noexcept {
    return guarded<change_password_body>(body, [](const json& j, decoded<change_password_body>& out) {
        change_password_body b;
        if (!required_string(j, "old_password", b.old_password, out.error, max_password_length)) return;
        if (!required_string(j, "new_password", b.new_password, out.error, max_password_length)) return;
        if (b.new_password.empty()) {
            out.error = bad("'new_password' must not be empty");
            return;
        }
        out.value = std::move(b);
    });
}

decoded<std::string> decode_set_password(std::string_view body) noexcept {
    return guarded<std::string>(body, [](const json& j, decoded<std::string>& out) {
        std::string pw;
        if (!required_string(j, "new_password", pw, out.error, max_password_length)) return;
        if (pw.empty()) {
            out.error = bad("'new_password' must not be empty");
            return;
        }
        out.value = std::move(pw);
    });
}

decoded<user_body> decode_user(std::string_view body, bool for_update) noexcept {
    return guarded<user_body>(body, [for_update](const json& j, decoded<user_body>& out) {
        user_body b;
        if (for_update && !string_field(j, "id", b.id, out.error)) return;
        if (!required_string(j, "name", b.name, out.error) || !valid_name(b.name, names::kind::principal, out.error)) return;
        if (const json* g = field(j, "primary_group"); g != nullptr && !g->is_null()) {
            const auto v = id_value(*g);
            if (!v) {
                out.error = bad("'primary_group' must be a group id (\"0\" for the default group)");
                return;
            }
            if (*v != 0) b.primary_group = *v;
        }
        if (!posix_id_field(j, "uid", b.uid, out.error)) return;
        if (!string_field(j, "home_directory", b.home_directory, out.error, 4096)) return;
        if (!string_field(j, "password", b.password, out.error, max_password_length)) return;
        out.value = std::move(b);
    });
}

decoded<group_body> decode_group(std::string_view body, bool for_update) noexcept {
    return guarded<group_body>(body, [for_update](const json& j, decoded<group_body>& out) {
        group_body b;
        if (for_update && !string_field(j, "id", b.id, out.error)) return;
        if (!required_string(j, "name", b.name, out.error) || !valid_name(b.name, names::kind::principal, out.error)) return;
        if (!posix_id_field(j, "gid", b.gid, out.error)) return;
        out.value = std::move(b);
    });
}

decoded<std::uint64_t> decode_group_member(std::string_view body) noexcept {
    return guarded<std::uint64_t>(body, [](const json& j, decoded<std::uint64_t>& out) {
        const json* m = field(j, "member_id");
        const auto v = m ? id_value(*m) : std::nullopt;
        if (!v) {
            out.error = bad("'member_id' must be the id of a user or group");
            return;
        }
        out.value = *v;
    });
}

decoded<role_body> decode_role(std::string_view body, bool partial) noexcept {
    return guarded<role_body>(body, [partial](const json& j, decoded<role_body>& out) {
        role_body b;
        if (!string_field(j, "name", b.name, out.error) || !string_field(j, "description", b.description, out.error, 4096))
            return;
        if (b.name && !valid_name(*b.name, names::kind::role, out.error)) return;
        if (!privileges_field(j, b.privileges, out.error)) return;
        if (!partial && (!b.name || !b.description || !b.privileges)) {
            out.error = bad("'name', 'description' and 'privileges' are required");
            return;
        }
        out.value = std::move(b);
    });
}

decoded<api_identity> decode_identity(std::string_view body) noexcept {
    return guarded<api_identity>(body, [](const json& j, decoded<api_identity>& out) {
        const auto id = identity_from_json(j);
        if (!id) {
            out.error = bad(std::string("identity: ") + id.detail());
            return;
        }
        out.value = *id;
    });
}

decoded<api_identity> decode_identity_expand(std::string_view body) noexcept {
    return guarded<api_identity>(body, [](const json& j, decoded<api_identity>& out) {
        const json* id_json = field(j, "id");
        if (id_json == nullptr) {
            out.error = bad("'id' is required: the identity to expand");
            return;
        }
        const auto id = identity_from_json(*id_json);
        if (!id) {
            out.error = bad(std::string("'id': ") + id.detail());
            return;
        }
        out.value = *id;
    });
}

decoded<api_identity> decode_identity_text(std::string_view body) noexcept {
    return guarded<api_identity>(body, [](const json& j, decoded<api_identity>& out) {
        std::optional<std::string> text;
        if (!string_field(j, "text", text, out.error)) return;
        if (!text) {
            out.error = bad("'text' is required: a name, local:NAME, auth_id:N, uid:N, gid:N or a SID");
            return;
        }
        const auto id = parse_identity(*text);
        if (!id) {
            out.error = bad(std::string("identity: ") + id.detail());
            return;
        }
        out.value = *id;
    });
}

}  // namespace tokenauth::server
