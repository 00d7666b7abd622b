// Storage: users, groups, roles and memberships. Every write is one transaction; what it
// changed is read back inside it into a copy of the directory (sharing everything else),
// published after the commit.
#include "../names.hpp"
#include "../text.hpp"
#include "privileges_text.hpp"
#include "sqlite_store.hpp"

namespace tokenauth::server {

namespace {
/// Takes the next auth id from the counter in meta, which only grows: an id (and the SID
/// made from it) is never given twice, even after the highest one is deleted. Runs inside
/// the caller's write transaction, so the counter and the insert commit together.
std::uint64_t next_auth_id(connection& db) {
    auto& s = db.prepare("SELECT value FROM meta WHERE key = 'next_auth_id'");
    if (!s.step()) throw std::runtime_error("database has no auth id counter");
    const std::int64_t next = s.int64(0);
    s.reset();
    db.prepare("UPDATE meta SET value = ? WHERE key = 'next_auth_id'").bind(1, next + 1).run();
    return static_cast<std::uint64_t>(next);
}
// A rename takes the new name's key; an unchanged name keeps the key it has (none, for a
// name stored before keys whose key an older row holds). Parameters: the name, its key.
#define SET_NAME_AND_KEY "name_key = CASE WHEN name = ?1 THEN name_key ELSE ?2 END, name = ?1"
std::string name_taken(const std::string& name) { return "a user or group named '" + name + "' already exists"; }
std::string role_taken(const std::string& name) { return "a role named '" + name + "' already exists"; }
}  // namespace

std::uint64_t sqlite_store::next_auth_id_value() {
    std::lock_guard lock(db_mu_);
    auto& s = db_->prepare("SELECT value FROM meta WHERE key = 'next_auth_id'");
    if (!s.step()) throw std::runtime_error("database has no auth id counter");
    const auto next = static_cast<std::uint64_t>(s.int64(0));
    s.reset();
    return next;
}

template <class F>
std::shared_ptr<const directory> sqlite_store::write_directory(F&& body, const std::string& conflict_message) {
    std::lock_guard lock(db_mu_);
    transaction t(*db_);
    std::shared_ptr<directory> next = next_directory();
    try {
        body(*db_, *next);
    } catch (const db_error& e) {
        // A principal deleted between the caller's snapshot and this write.
        if (e.code() == SQLITE_CONSTRAINT_FOREIGNKEY)
            throw storage_error(storage_error::kind::not_found,
                                "the user, group or role named in the request no longer exists");
        if (e.is_constraint() && !conflict_message.empty())
            throw storage_error(storage_error::kind::conflict, conflict_message);
        throw;
    }
    // What changed was read inside the transaction (this connection sees its own writes);
    // the new snapshot is published after the commit, which cannot fail.
    t.commit();
    publish_directory(next);
    return next;  // the directory this write produced, whatever writes follow
}

user_row sqlite_store::create_user(user_row u) {
    write_directory([&](connection& db, directory& d) {
        u.auth_id = next_auth_id(db);
        u.binding = session_binding::generate();
        db.prepare("INSERT INTO principals (auth_id, kind, name, primary_group, uid, home_directory, password_hash, "
                   "session_binding, name_key) VALUES (?, 'user', ?, ?, ?, ?, ?, ?, ?)")
            .bind(1, u.auth_id)
            .bind(2, u.name)
            .bind(3, u.primary_group)
            .bind(4, u.uid)
            .bind(5, u.home_directory)
            .bind(6, u.password_hash)
            .bind_blob(7, u.binding.bytes, sizeof u.binding.bytes)
            .bind(8, names::key(u.name))
            .run();
        reload_principal(d, u.auth_id);
    }, name_taken(u.name));
    return u;
}

user_row sqlite_store::update_user(const user_row& u, bool password_changed) {
    const auto written = write_directory([&](connection& db, directory& d) {
        db.prepare("UPDATE principals SET " SET_NAME_AND_KEY ", primary_group = ?, uid = ?, home_directory = ?, "
                   "password_hash = ?, generation = generation + ? WHERE auth_id = ? AND kind = 'user'")
            .bind(1, u.name)
            .bind(2, names::key(u.name))
            .bind(3, u.primary_group)
            .bind(4, u.uid)
            .bind(5, u.home_directory)
            .bind(6, u.password_hash)
            .bind(7, password_changed ? 1 : 0)
            .bind(8, u.auth_id)
            .run();
        reload_principal(d, u.auth_id);
    }, name_taken(u.name));
    return *written->user(u.auth_id);
}

void sqlite_store::delete_user(std::uint64_t id) {
    std::vector<token_id> doomed;
    write_directory([&](connection& db, directory& d) {
        auto& s = db.prepare("SELECT id FROM access_tokens WHERE user_id = ?");
        s.bind(1, id);
        while (s.step()) {
            token_id tid;
            s.blob_into(0, tid.bytes, "an access token id");
            doomed.push_back(tid);
        }
        s.reset();
        // ON DELETE CASCADE removes the user's tokens and memberships in the same commit.
        db.prepare("DELETE FROM principals WHERE auth_id = ? AND kind = 'user'").bind(1, id).run();
        reload_principal(d, id);
    });
    // After the commit: the tokens leave the index; the rebuilt snapshot no longer knows the
    // user, so its sessions end too.
    for (const auto& tid : doomed) index_erase(tid);
}

user_row sqlite_store::set_password(std::uint64_t id, const std::string& hash) {
    const auto written = write_directory([&](connection& db, directory& d) {
        db.prepare("UPDATE principals SET password_hash = ?, generation = generation + 1 WHERE auth_id = ? AND kind = 'user'")
            .bind(1, hash)
            .bind(2, id)
            .run();
        reload_principal(d, id);
    });
    const user_row* u = written->user(id);
    if (u == nullptr) throw storage_error(storage_error::kind::not_found, "no user with id " + std::to_string(id));
    return *u;
}

group_row sqlite_store::create_group(group_row g) {
    write_directory([&](connection& db, directory& d) {
        g.auth_id = next_auth_id(db);
        db.prepare("INSERT INTO principals (auth_id, kind, name, gid, name_key) VALUES (?, 'group', ?, ?, ?)")
            .bind(1, g.auth_id)
            .bind(2, g.name)
            .bind(3, g.gid)
            .bind(4, names::key(g.name))
            .run();
        reload_principal(d, g.auth_id);
    }, name_taken(g.name));
    return g;
}

group_row sqlite_store::update_group(const group_row& g) {
    write_directory([&](connection& db, directory& d) {
        db.prepare("UPDATE principals SET " SET_NAME_AND_KEY ", gid = ? WHERE auth_id = ? AND kind = 'group'")
            .bind(1, g.name)
            .bind(2, names::key(g.name))
            .bind(3, g.gid)
            .bind(4, g.auth_id)
            .run();
        reload_principal(d, g.auth_id);
    }, name_taken(g.name));
    return g;
}

void sqlite_store::delete_group(std::uint64_t id) {
    write_directory([&](connection& db, directory& d) {
        auto& s = db.prepare("SELECT count(*) FROM principals WHERE kind = 'user' AND primary_group = ?");
        s.bind(1, id).step();
        const std::int64_t primaries = s.int64(0);
        s.reset();
        if (primaries > 0)
            throw storage_error(storage_error::kind::in_use, "the group is the primary group of " +
                                                                 std::to_string(primaries) +
                                                                 " user(s); change their primary group first");
        db.prepare("DELETE FROM principals WHERE auth_id = ? AND kind = 'group'").bind(1, id).run();
        reload_principal(d, id);
    });
}

void sqlite_store::add_group_member(std::uint64_t group, std::uint64_t member) {
    write_directory([&](connection& db, directory& d) {
        db.prepare("INSERT OR IGNORE INTO group_members (group_id, member_id) VALUES (?, ?)").bind(1, group).bind(2, member).run();
        d.add_group_member(group, member);
    });
}

void sqlite_store::remove_group_member(std::uint64_t group, std::uint64_t member) {
    write_directory([&](connection& db, directory& d) {
        db.prepare("DELETE FROM group_members WHERE group_id = ? AND member_id = ?").bind(1, group).bind(2, member).run();
        d.remove_group_member(group, member);
    });
}

void sqlite_store::create_role(const tokenauth::role& r) {
    write_directory([&](connection& db, directory& d) {
        db.prepare("INSERT INTO roles (name, description, privileges, name_key) VALUES (?, ?, ?, ?)")
            .bind(1, r.name)
            .bind(2, r.description)
            .bind(3, privileges_to_text(r.privileges))
            .bind(4, names::key(r.name))
            .run();
        reload_role(d, r.name);
    }, role_taken(r.name));
}

void sqlite_store::update_role(const std::string& name, const tokenauth::role& r) {
    write_directory([&](connection& db, directory& d) {
        db.prepare("UPDATE roles SET " SET_NAME_AND_KEY ", description = ?, privileges = ? WHERE name = ?")
            .bind(1, r.name)
            .bind(2, names::key(r.name))
            .bind(3, r.description)
            .bind(4, privileges_to_text(r.privileges))
            .bind(5, name)
            .run();
        reload_role(d, name);
        if (r.name != name) reload_role(d, r.name);
    }, role_taken(r.name));
}

void sqlite_store::delete_role(const std::string& name) {
    write_directory([&](connection& db, directory& d) {
        db.prepare("DELETE FROM roles WHERE name = ?").bind(1, name).run();
        d.erase_role(name);
    });
}

void sqlite_store::add_role_member(const std::string& role, std::uint64_t member) {
    write_directory([&](connection& db, directory& d) {
        db.prepare("INSERT OR IGNORE INTO role_members (role, auth_id) VALUES ((SELECT name FROM roles WHERE name = ?), ?)")
            .bind(1, role)
            .bind(2, member)
            .run();
        d.add_role_member(role, member);
    });
}

void sqlite_store::remove_role_member(const std::string& role, std::uint64_t member) {
    write_directory([&](connection& db, directory& d) {
        db.prepare("DELETE FROM role_members WHERE role = ? AND auth_id = ?").bind(1, role).bind(2, member).run();
        d.remove_role_member(role, member);
    });
}

}  // namespace tokenauth::server
