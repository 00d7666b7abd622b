// Storage: the first start of an empty data dir: built-in users, groups, roles, the machine
// SID and the session key.
#include "../names.hpp"
#include "privileges_text.hpp"
#include "sqlite_store.hpp"

namespace tokenauth::server {

void sqlite_store::seed(const options& opts) {
    {
        auto& s = db_->prepare("SELECT count(*) FROM meta WHERE key = 'seeded'");
        s.step();
        if (s.int64(0) != 0) return;
    }
    first_start f = prepare_first_start(opts.admin_password);
    generated_admin_password_ = std::move(f.generated_password);
    const std::string& machine_sid = f.machine_sid;
    const std::string& admin_hash = f.admin_hash;
    const auto& admin_binding = f.admin_binding;
    const auto& guest_binding = f.guest_binding;

    transaction t(*db_);
    db_->prepare("INSERT INTO meta (key, value) VALUES ('machine_sid', ?)").bind(1, machine_sid).run();
    const char* add_group = "INSERT INTO principals (auth_id, kind, name, name_key) VALUES (?, 'group', ?, ?)";
    db_->prepare(add_group).bind(1, users_group_id).bind(2, "Users").bind(3, names::key("Users")).run();
    db_->prepare(add_group).bind(1, guests_group_id).bind(2, "Guests").bind(3, names::key("Guests")).run();
    const char* add_user = "INSERT INTO principals (auth_id, kind, name, primary_group, password_hash, session_binding, "
                           "name_key) VALUES (?, 'user', ?, ?, ?, ?, ?)";
    db_->prepare(add_user)
        .bind(1, admin_auth_id)
        .bind(2, "admin")
        .bind(3, users_group_id)
        .bind(4, admin_hash)
        .bind_blob(5, admin_binding.bytes, sizeof admin_binding.bytes)
        .bind(6, names::key("admin"))
        .run();
    db_->prepare(add_user)
        .bind(1, guest_auth_id)
        .bind(2, "guest")
        .bind(3, guests_group_id)
        .bind_null(4)
        .bind_blob(5, guest_binding.bytes, sizeof guest_binding.bytes)
        .bind(6, names::key("guest"))
        .run();
    const char* add_role = "INSERT INTO roles (name, description, privileges, name_key) VALUES (?, ?, ?, ?)";
    db_->prepare(add_role)
        .bind(1, "Administrators")
        .bind(2, "Can manage every part of the system")
        .bind(3, privileges_to_text(privilege_set::all()))
        .bind(4, names::key("Administrators"))
        .run();
    db_->prepare(add_role)
        .bind(1, "Observers")
        .bind(2, "Can read every part of the system but change nothing")
        .bind(3, privileges_to_text(read_privileges()))
        .bind(4, names::key("Observers"))
        .run();
    db_->prepare("INSERT INTO role_members (role, auth_id) VALUES ('Administrators', ?)").bind(1, admin_auth_id).run();
    db_->prepare("INSERT INTO meta (key, value) VALUES ('seeded', 1)").run();
    t.commit();
}

}  // namespace tokenauth::server
