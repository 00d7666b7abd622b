// Storage: opening the database, and publishing what readers see (the directory snapshot,
// the token index, users' session state) after each commit.
#include <sodium.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "../text.hpp"
#include "privileges_text.hpp"
#include "sqlite_store.hpp"

namespace tokenauth::server {

namespace {

void chmod_if_exists(const std::string& path, mode_t mode) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) ::chmod(path.c_str(), mode);
}

}  // namespace

sqlite_store::sqlite_store(const options& opts) {
    ensure_sodium_init();
    if (::mkdir(opts.data_dir.c_str(), 0700) != 0 && errno != EEXIST)
        throw std::runtime_error("cannot create data dir " + opts.data_dir + ": " + std::strerror(errno));
    ::chmod(opts.data_dir.c_str(), 0700);
    const std::string path = opts.database_path.empty() ? opts.data_dir + "/tokenauth.db" : opts.database_path;
    db_ = std::make_unique<connection>(path);
    db_path_ = path;
    db_->exec("PRAGMA journal_mode=WAL");
    db_->exec("PRAGMA synchronous=FULL");
    db_->exec("PRAGMA foreign_keys=ON");
    migrate();
    seed(opts);
    for (const char* suffix : {"", "-wal", "-shm"}) chmod_if_exists(path + suffix, 0600);

    load_session_key(opts.session_key_file.empty() ? opts.data_dir + "/session.key" : opts.session_key_file);
    std::lock_guard lock(db_mu_);
    reload_directory();
    load_tokens();
}

sqlite_store::~sqlite_store() = default;

void sqlite_store::load_session_key(const std::string& path) {
    // A database written before v3 holds the key in meta: move it into the file (written
    // and synced first), then delete it from the database.
    auto& old = db_->prepare("SELECT value FROM meta WHERE key = 'session_key'");
    const bool in_db = old.step();
    if (in_db) old.blob_into(0, key_.bytes, "the session key");
    old.reset();
    session_key from_file;
    if (read_session_key_file(path, from_file)) {
        key_ = from_file;
    } else {
        if (!in_db) key_ = session_key::generate();
        write_session_key_file(path, key_);
    }
    if (in_db) {
        // Overwritten, not only unlinked from the b-tree, and checkpointed out of the WAL.
        db_->reset_all();
        db_->exec("PRAGMA secure_delete = ON");
        db_->exec("DELETE FROM meta WHERE key = 'session_key'");
        db_->exec("PRAGMA wal_checkpoint(TRUNCATE)");
    }
}

void sqlite_store::reload_directory() { publish_directory(load_directory()); }

namespace {
constexpr const char* principal_columns =
    "SELECT auth_id, kind, name, primary_group, uid, home_directory, password_hash, generation, gid, session_binding, "
    "name_key FROM principals";

/// Puts the principal on the statement's row into the directory.
void put_principal(directory& d, statement& p) {
    const auto id = static_cast<std::uint64_t>(p.int64(0));
    if (p.text(1) == "user") {
        user_row u;
        u.auth_id = id;
        u.name = p.text(2);
        u.primary_group = static_cast<std::uint64_t>(p.int64(3));
        u.uid = p.text(4);
        u.home_directory = p.opt_text(5);
        u.password_hash = p.opt_text(6);
        u.generation = static_cast<std::uint64_t>(p.int64(7));
        p.blob_into(9, u.binding.bytes, "a user's session binding");
        d.put_user(std::move(u), p.opt_text(10));
    } else {
        d.put_group(group_row{id, p.text(2), p.text(8)}, p.opt_text(10));
    }
}
}  // namespace

std::shared_ptr<directory> sqlite_store::load_directory() {
    auto d = std::make_shared<directory>();
    {
        auto& s = db_->prepare("SELECT value FROM meta WHERE key = 'machine_sid'");
        if (s.step()) d->machine_sid = s.text(0);
    }
    auto& p = db_->prepare(principal_columns);
    while (p.step()) put_principal(*d, p);
    auto& m = db_->prepare("SELECT group_id, member_id FROM group_members");
    while (m.step()) d->add_group_member(static_cast<std::uint64_t>(m.int64(0)), static_cast<std::uint64_t>(m.int64(1)));
    auto& r = db_->prepare("SELECT name, description, privileges, name_key FROM roles");
    while (r.step()) d->put_role(r.text(0), {r.text(0), r.text(1), privileges_from_text(r.text(2)), {}}, r.opt_text(3));
    auto& rm = db_->prepare("SELECT r.name, m.auth_id FROM role_members m JOIN roles r ON r.name = m.role");
    while (rm.step()) d->add_role_member(rm.text(0), static_cast<std::uint64_t>(rm.int64(1)));
    return d;
}

void sqlite_store::reload_principal(directory& d, std::uint64_t id) {
    auto& p = db_->prepare(std::string(principal_columns) + " WHERE auth_id = ?");
    p.bind(1, id);
    if (p.step()) put_principal(d, p);
    else d.erase_principal(id);
    p.reset();
}

void sqlite_store::reload_role(directory& d, const std::string& name) {
    auto& r = db_->prepare("SELECT name, description, privileges, name_key FROM roles WHERE name = ?");
    r.bind(1, name);
    if (!r.step()) {
        r.reset();
        d.erase_role(name);
        return;
    }
    tokenauth::role role{r.text(0), r.text(1), privileges_from_text(r.text(2)), {}};
    const auto key = r.opt_text(3);
    r.reset();
    auto& rm = db_->prepare("SELECT auth_id FROM role_members WHERE role = ? COLLATE NOCASE ORDER BY auth_id");
    rm.bind(1, role.name);
    while (rm.step()) role.members.push_back(static_cast<std::uint64_t>(rm.int64(0)));
    rm.reset();
    d.put_role(name, std::move(role), key);
}

void sqlite_store::load_tokens() {
    auto& s = db_->prepare(
        "SELECT id, secret_hash, user_id, expiration_time, enabled, privileges, hash_scheme, allowed_cidrs "
        "FROM access_tokens");
    while (s.step()) {
        token_id id;
        secret_hash hash;
        s.blob_into(0, id.bytes, "an access token id");
        s.blob_into(1, hash.bytes, "an access token hash");
        index_load(record_of(id, hash, scheme_of(s.int64(6)), static_cast<std::uint64_t>(s.int64(2)), s.opt_int64(3),
                             s.int64(4) != 0, s.opt_text(5), s.opt_text(7)));
    }
    index_loaded();
}

}  // namespace tokenauth::server
