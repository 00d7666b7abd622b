// tokenauth-cli: auth_find_identity and auth_expand_identity (qq's names, flags and output).
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
            // Both outputs are the server's JSON answer; --json is accepted for qq's scripts.
            print_json(expand ? c.call("POST", "/v1/identity/expand", json{{"id", id}})
                              : c.call("POST", "/v1/identity/find", id));
        };
    });
}

}  // namespace

void add_identity_commands(CLI::App& app, const globals& g, action_slot& action) {
    add_lookup(app, "auth_find_identity", "Find all representations of an auth_id", g, action, false);
    add_lookup(app, "auth_expand_identity", "Find equivalent identities and full group membership", g, action, true);
}

}  // namespace tokenauth::cli
