// tokenauth-cli: auth_find_identity and auth_expand_identity (qq's names, flags and output).
#include <algorithm>
#include <cctype>
#include <iostream>

#include "common.hpp"

namespace tokenauth::cli {

namespace {

struct options {
    std::string identifier;
    std::string auth_id;
    std::string uid;
    std::string gid;
    std::string sid;
    std::string name;
    std::string domain;
    bool json_output = false;
};

/// The identity document the flags and the positional identifier describe together.
json identity_document(const options& o) {
    json id = o.identifier.empty() ? json::object() : tokenauth::identity_to_json(parse_identity_or_throw(o.identifier));
    auto number = [](const std::string& flag, const std::string& v) {
        const auto n = text::parse_decimal(v, UINT32_MAX);
        if (!n) throw cli_error{"Error: " + flag + " must be a number from 0 to 4294967295"};
        return *n;
    };
    if (!o.auth_id.empty()) id["auth_id"] = o.auth_id;
    if (!o.uid.empty()) id["uid"] = number("--uid", o.uid);
    if (!o.gid.empty()) id["gid"] = number("--gid", o.gid);
    if (!o.sid.empty()) id["sid"] = o.sid;
    if (!o.name.empty()) id["name"] = o.name;
    if (!o.domain.empty()) id["domain"] = o.domain;
    for (auto it = id.begin(); it != id.end();)
        it = it->is_null() ? id.erase(it) : std::next(it);
    if (id.empty()) throw cli_error{"Error: give an identifier or one of --auth-id, --uid, --gid, --sid, --name"};
    return id;
}

std::string field(const json& j, const char* key) {
    if (!j.contains(key) || j[key].is_null()) return "";
    return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

/// qq's plain form of auth_find_identity: one "key: value" line per field present.
void print_found(const json& id) {
    std::cout << "domain: " << field(id, "domain") << "\n";
    if (!field(id, "name").empty()) std::cout << "name: " << field(id, "name") << "\n";
    std::cout << "auth_id: " << field(id, "auth_id") << "\n";
    if (!field(id, "uid").empty()) std::cout << "UID: " << field(id, "uid") << "\n";
    if (!field(id, "gid").empty()) std::cout << "GID: " << field(id, "gid") << "\n";
    if (!field(id, "sid").empty()) std::cout << "SID: " << field(id, "sid") << "\n";
}

/// An identity's numeric form (uid:N, gid:N, auth_id:N or the SID), the SID first when preferred.
std::string numeric_form(const json& id, bool prefer_sid) {
    if (prefer_sid && !field(id, "sid").empty()) return field(id, "sid");
    if (!field(id, "uid").empty()) return "uid:" + field(id, "uid");
    if (!field(id, "gid").empty()) return "gid:" + field(id, "gid");
    if (!field(id, "auth_id").empty()) return "auth_id:" + field(id, "auth_id");
    return field(id, "sid");
}

/// "name (numeric)" when the identity has a name, else the numeric form alone.
std::string verbose_name(const json& id, bool prefer_sid = false) {
    const std::string name = field(id, "name");
    return name.empty() ? numeric_form(id, prefer_sid) : name + " (" + numeric_form(id, prefer_sid) + ")";
}

void print_identity_list(const json& ids) {
    if (!ids.is_array() || ids.empty()) {
        std::cout << "None\n";
        return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const json& id : ids) rows.push_back({field(id, "name"), numeric_form(id, false)});
    std::sort(rows.begin(), rows.end());
    rows.insert(rows.begin(), {"Name", "ID"});
    print_table(rows);
}

/// qq's plain form of auth_expand_identity: the identity, its mappings, then two tables.
void print_expanded(const json& r) {
    std::string type = field(r, "type");
    for (std::size_t i = 1; i < type.size(); ++i) type[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(type[i])));
    const auto mapping = [&](const char* key, bool prefer_sid) {
        return r.contains(key) && r[key].is_object() ? verbose_name(r[key], prefer_sid) : std::string("None");
    };
    std::cout << "Identity:    " << verbose_name(r.value("id", json::object())) << "\n"
              << "Type:        " << type << "\n"
              << "NFS Mapping: " << mapping("nfs_id", false) << "\n"
              << "SMB Mapping: " << mapping("smb_id", true) << "\n\n"
              << "Equivalent Identities:\n";
    print_identity_list(r.value("equivalent_ids", json::array()));
    std::cout << "\nGroup Membership:\n";
    print_identity_list(r.value("group_ids", json::array()));
}

void add_lookup(CLI::App& app, const char* command, const char* help, const globals& g, action_slot& action,
                bool expand) {
    const auto o = std::make_shared<options>();
    auto* cmd = app.add_subcommand(command, help);
    cmd->add_option("identifier", o->identifier,
                    "a name or SID, optionally with a domain prefix (local:name, ad:name, world:Everyone) or an "
                    "id type (uid:1001, gid:2001, auth_id:513, SID:S-1-1-0)");
    cmd->add_option("--auth-id", o->auth_id, "the internal auth_id");
    cmd->add_option("--uid", o->uid, "an NFS uid");
    cmd->add_option("--gid", o->gid, "an NFS gid");
    cmd->add_option("--sid", o->sid, "an SMB SID");
    cmd->add_option("--name", o->name, "a local, AD or LDAP name");
    cmd->add_option("--domain", o->domain, "which domain the name is sought in")
        ->check(CLI::IsMember({"LOCAL", "WORLD", "POSIX_USER", "POSIX_GROUP", "ACTIVE_DIRECTORY"}));
    cmd->add_flag("--json", o->json_output, "print the result as a JSON object");
    cmd->callback([o, &g, &action, expand] {
        action = [o, &g, expand] {
            connection c(g);
            const json id = identity_document(*o);
            const json answer = expand ? c.call("POST", "/v1/identity/expand", json{{"id", id}})
                                       : c.call("POST", "/v1/identity/find", id);
            if (o->json_output) print_json(answer);
            else if (expand) print_expanded(answer);
            else print_found(answer);
        };
    });
}

}  // namespace

void add_identity_commands(CLI::App& app, const globals& g, action_slot& action) {
    add_lookup(app, "auth_find_identity", "Find all representations of an auth_id", g, action, false);
    add_lookup(app, "auth_expand_identity", "Find equivalent identities and full group membership", g, action, true);
}

}  // namespace tokenauth::cli
