#include "state.hpp"

#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include "../text.hpp"


namespace tokenauth::server {

// ---------------------------------------------------------------------------------------
// Schema. Each entry upgrades the database by one version (PRAGMA user_version).
namespace {

const char* const migrations[] = {
    // v1
    R"sql(
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE principals (
        auth_id        INTEGER PRIMARY KEY,
        kind           TEXT    NOT NULL CHECK (kind IN ('user', 'group')),
        name           TEXT    NOT NULL COLLATE NOCASE UNIQUE,
        primary_group  INTEGER,
        uid            TEXT    NOT NULL DEFAULT '',
        home_directory TEXT,
        password_hash  TEXT,
        generation     INTEGER NOT NULL DEFAULT 0,
        gid            TEXT    NOT NULL DEFAULT ''
    );
    CREATE TABLE group_members (
        group_id  INTEGER NOT NULL REFERENCES principals(auth_id) ON DELETE CASCADE,
        member_id INTEGER NOT NULL REFERENCES principals(auth_id) ON DELETE CASCADE,
        PRIMARY KEY (group_id, member_id)
    );
    CREATE TABLE roles (
        name        TEXT NOT NULL COLLATE NOCASE PRIMARY KEY,
        description TEXT NOT NULL,
        privileges  TEXT NOT NULL
    );
    CREATE TABLE role_members (
        role    TEXT    NOT NULL REFERENCES roles(name) ON DELETE CASCADE ON UPDATE CASCADE,
        auth_id INTEGER NOT NULL REFERENCES principals(auth_id) ON DELETE CASCADE,
        PRIMARY KEY (role, auth_id)
    );
    CREATE TABLE access_tokens (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        id              BLOB    NOT NULL UNIQUE,
        secret_hash     BLOB    NOT NULL,
        user_id         INTEGER NOT NULL REFERENCES principals(auth_id) ON DELETE CASCADE,
        creator_id      INTEGER NOT NULL,
        creation_time   INTEGER NOT NULL,
        expiration_time INTEGER,
        enabled         INTEGER NOT NULL
    );
    CREATE INDEX access_tokens_by_user ON access_tokens(user_id, seq);
    )sql",
    // v2: auth ids are never reused (a counter that only grows, seeded past every id ever
    // seen), and each user has a random session binding that its sessions' MACs cover.
    R"sql(
    ALTER TABLE principals ADD COLUMN session_binding BLOB;
    UPDATE principals SET session_binding = randomblob(16) WHERE kind = 'user';
    INSERT INTO meta (key, value)
        SELECT 'next_auth_id', max(coalesce(max(auth_id), 0) + 1, 1001) FROM principals;
    )sql",
};

std::string privileges_to_text(const privilege_set& s) {
    std::string out;
    for (privilege p : s.to_vector()) {
        out += to_string(p);
        out += '\n';
    }
    return out;
}

privilege_set privileges_from_text(const std::string& text) {
    privilege_set s;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        if (const auto p = parse_privilege(std::string_view(text).substr(start, end - start))) s.insert(*p);
        start = end + 1;
    }
    return s;
}

void chmod_if_exists(const std::string& path, mode_t mode) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) ::chmod(path.c_str(), mode);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Passwords

std::string hash_password(const std::string& password) {
    ensure_sodium_init();
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        throw std::runtime_error("password hashing ran out of memory");
    return out;
}

bool verify_password(const std::string& hash, const std::string& password) {
    ensure_sodium_init();
    return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

// ---------------------------------------------------------------------------------------
// Directory (read side)

const user_row* directory::user(std::uint64_t id) const {
    const auto it = users.find(id);
    return it == users.end() ? nullptr : &it->second;
}

const group_row* directory::group(std::uint64_t id) const {
    const auto it = groups.find(id);
    return it == groups.end() ? nullptr : &it->second;
}

const tokenauth::role* directory::role(const std::string& name) const {
    for (const auto& r : roles)
        if (text::iequals(r.name, name)) return &r;
    return nullptr;
}

std::vector<std::uint64_t> directory::groups_of(std::uint64_t user_id) const {
    std::vector<std::uint64_t> out;
    if (const user_row* u = user(user_id)) out.push_back(u->primary_group);
    for (const auto& [g, members] : group_members)
        if (std::binary_search(members.begin(), members.end(), user_id) &&
            std::find(out.begin(), out.end(), g) == out.end())
            out.push_back(g);
    return out;
}

std::vector<std::uint64_t> directory::members_of(std::uint64_t group_id) const {
    std::vector<std::uint64_t> out;
    for (const auto& [id, u] : users)
        if (u.primary_group == group_id) out.push_back(id);
    const auto it = group_members.find(group_id);
    if (it != group_members.end())
        for (std::uint64_t m : it->second)
            if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
    std::sort(out.begin(), out.end());
    return out;
}

privilege_set directory::privileges_of(std::uint64_t user_id) const {
    return effective_privileges(roles, user_id, groups_of(user_id));
}

std::vector<std::string> directory::roles_of(std::uint64_t user_id) const {
    const auto groups_list = groups_of(user_id);
    std::vector<std::string> out;
    for (const auto& r : roles)
        if (holds_role(r, user_id, groups_list)) out.push_back(r.name);
    return out;
}

std::optional<principal_type> directory::type_of(std::uint64_t auth_id) const {
    if (users.count(auth_id)) return principal_type::user;
    if (groups.count(auth_id)) return principal_type::group;
    return std::nullopt;
}

api_identity directory::identity_of(std::uint64_t auth_id) const {
    api_identity id;
    id.domain = identity_domain::local;
    id.auth_id = std::to_string(auth_id);
    id.sid = sid_of(auth_id);
    if (const user_row* u = user(auth_id)) {
        id.name = u->name;
        if (const auto v = text::parse_decimal(u->uid, UINT32_MAX)) id.uid = static_cast<std::uint32_t>(*v);
    } else if (const group_row* g = group(auth_id)) {
        id.name = g->name;
        if (const auto v = text::parse_decimal(g->gid, UINT32_MAX)) id.gid = static_cast<std::uint32_t>(*v);
    }
    return id;
}

std::optional<resolved> directory::resolve(const api_identity& id, std::string& why) const {
    if (id.domain && *id.domain != identity_domain::local && *id.domain != identity_domain::api_null_domain) {
        why = std::string("this server has only local users and groups; cannot resolve a ") + to_string(*id.domain) +
              " identity";
        return std::nullopt;
    }
    std::optional<std::uint64_t> found;
    auto by_name = [&](std::string name) -> std::optional<std::uint64_t> {
        // "NETBIOS\name": only the local machine's names resolve here.
        const std::size_t slash = name.find('\\');
        if (slash != std::string::npos) {
            const std::string domain = name.substr(0, slash);
            if (!text::iequals(domain, "local") && !text::iequals(domain, "builtin")) return std::nullopt;
            name = name.substr(slash + 1);
        }
        for (const auto& [aid, u] : users)
            if (text::iequals(u.name, name)) return aid;
        for (const auto& [aid, g] : groups)
            if (text::iequals(g.name, name)) return aid;
        return std::nullopt;
    };
    if (id.auth_id) {
        const auto v = text::parse_decimal(*id.auth_id, UINT64_MAX);
        if (v && type_of(*v)) found = *v;
    } else if (id.sid) {
        const std::string prefix = machine_sid + "-";
        if (id.sid->size() > prefix.size() && text::iequals(id.sid->substr(0, prefix.size()), prefix)) {
            const auto v = text::parse_decimal(id.sid->substr(prefix.size()), UINT64_MAX);
            if (v && type_of(*v)) found = *v;
        }
    } else if (id.uid) {
        for (const auto& [aid, u] : users)
            if (u.uid == std::to_string(*id.uid)) found = aid;
    } else if (id.gid) {
        for (const auto& [aid, g] : groups)
            if (g.gid == std::to_string(*id.gid)) found = aid;
    } else if (id.name) {
        found = by_name(*id.name);
    } else {
        why = "the identity has none of auth_id, sid, uid, gid or name";
        return std::nullopt;
    }
    if (!found) {
        why = "no local user or group matches the identity";
        return std::nullopt;
    }
    // Every other field given must agree with what was found.
    const api_identity full = identity_of(*found);
    const bool agrees = (!id.auth_id || *id.auth_id == *full.auth_id) &&
                        (!id.sid || text::iequals(*id.sid, *full.sid)) && (!id.uid || id.uid == full.uid) &&
                        (!id.gid || id.gid == full.gid) && (!id.name || by_name(*id.name) == found);
    if (!agrees) {
        why = "the identity's fields name different principals";
        return std::nullopt;
    }
    return resolved{*type_of(*found), *found};
}

// ---------------------------------------------------------------------------------------
// State: opening, migrating, seeding

state::state(const options& opts) {
    ensure_sodium_init();
    if (::mkdir(opts.data_dir.c_str(), 0700) != 0 && errno != EEXIST)
        throw std::runtime_error("cannot create data dir " + opts.data_dir + ": " + std::strerror(errno));
    ::chmod(opts.data_dir.c_str(), 0700);
    const std::string path = opts.data_dir + "/tokenauth.db";
    db_ = std::make_unique<connection>(path);
    db_->exec("PRAGMA journal_mode=WAL");
    db_->exec("PRAGMA synchronous=FULL");
    db_->exec("PRAGMA foreign_keys=ON");
    migrate();
    seed(opts);
    for (const char* suffix : {"", "-wal", "-shm"}) chmod_if_exists(path + suffix, 0600);

    {
        auto& s = db_->prepare("SELECT value FROM meta WHERE key = 'session_key'");
        if (!s.step()) throw std::runtime_error("database has no session key");
        const auto bytes = s.blob(0);
        if (bytes.size() != sizeof key_.bytes) throw std::runtime_error("database session key has the wrong size");
        std::copy(bytes.begin(), bytes.end(), key_.bytes);
    }
    std::lock_guard lock(db_mu_);
    reload_directory();
    load_tokens();
}

state::~state() = default;

void state::migrate() {
    auto& s = db_->prepare("PRAGMA user_version");
    s.step();
    const std::int64_t version = s.int64(0);
    s.reset();
    const std::int64_t latest = static_cast<std::int64_t>(std::size(migrations));
    if (version > latest) throw std::runtime_error("database schema is newer than this server");
    for (std::int64_t v = version; v < latest; ++v) {
        transaction t(*db_);
        db_->exec(migrations[v]);
        db_->exec(("PRAGMA user_version = " + std::to_string(v + 1)).c_str());
        t.commit();
    }
}

void state::seed(const options& opts) {
    {
        auto& s = db_->prepare("SELECT count(*) FROM meta WHERE key = 'seeded'");
        s.step();
        if (s.int64(0) != 0) return;
    }
    std::string password;
    if (opts.admin_password && !opts.admin_password->empty()) {
        password = *opts.admin_password;
    } else {
        std::uint8_t raw[18];
        random_bytes(raw, sizeof raw);
        char b64[sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
        sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        password = b64;
        generated_admin_password = password;
    }
    const std::string admin_hash = hash_password(password);
    wipe(password.data(), password.size());

    std::uint32_t sub[3];
    random_bytes(sub, sizeof sub);
    const std::string machine_sid = "S-1-5-21-" + std::to_string(sub[0]) + "-" + std::to_string(sub[1]) + "-" +
                                    std::to_string(sub[2]);
    const session_key key = session_key::generate();

    transaction t(*db_);
    db_->prepare("INSERT INTO meta (key, value) VALUES ('machine_sid', ?)").bind(1, machine_sid).run();
    db_->prepare("INSERT INTO meta (key, value) VALUES ('session_key', ?)").bind_blob(1, key.bytes, sizeof key.bytes).run();
    auto& group = db_->prepare("INSERT INTO principals (auth_id, kind, name) VALUES (?, 'group', ?)");
    group.bind(1, users_group_id).bind(2, "Users").run();
    db_->prepare("INSERT INTO principals (auth_id, kind, name) VALUES (?, 'group', ?)")
        .bind(1, guests_group_id)
        .bind(2, "Guests")
        .run();
    const char* add_user = "INSERT INTO principals (auth_id, kind, name, primary_group, password_hash, session_binding) "
                           "VALUES (?, 'user', ?, ?, ?, ?)";
    const auto admin_binding = session_binding::generate();
    const auto guest_binding = session_binding::generate();
    db_->prepare(add_user)
        .bind(1, admin_auth_id)
        .bind(2, "admin")
        .bind(3, users_group_id)
        .bind(4, admin_hash)
        .bind_blob(5, admin_binding.bytes, sizeof admin_binding.bytes)
        .run();
    db_->prepare(add_user)
        .bind(1, guest_auth_id)
        .bind(2, "guest")
        .bind(3, guests_group_id)
        .bind_null(4)
        .bind_blob(5, guest_binding.bytes, sizeof guest_binding.bytes)
        .run();
    const char* add_role = "INSERT INTO roles (name, description, privileges) VALUES (?, ?, ?)";
    db_->prepare(add_role)
        .bind(1, "Administrators")
        .bind(2, "Can manage every part of the system")
        .bind(3, privileges_to_text(privilege_set::all()))
        .run();
    db_->prepare(add_role)
        .bind(1, "Observers")
        .bind(2, "Can read every part of the system but change nothing")
        .bind(3, privileges_to_text(read_privileges()))
        .run();
    db_->prepare("INSERT INTO role_members (role, auth_id) VALUES ('Administrators', ?)").bind(1, admin_auth_id).run();
    db_->prepare("INSERT INTO meta (key, value) VALUES ('seeded', 1)").run();
    t.commit();
}

void state::reload_directory() { publish_directory(load_directory()); }

void state::publish_directory(std::shared_ptr<directory> d) noexcept {
    std::unique_lock lock(snap_mu_);
    d->version = snap_version_.load(std::memory_order_relaxed) + 1;
    snap_ = std::move(d);
    snap_version_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<directory> state::load_directory() {
    auto d = std::make_shared<directory>();
    {
        auto& s = db_->prepare("SELECT value FROM meta WHERE key = 'machine_sid'");
        if (s.step()) d->machine_sid = s.text(0);
    }
    auto& p = db_->prepare(
        "SELECT auth_id, kind, name, primary_group, uid, home_directory, password_hash, generation, gid, session_binding "
        "FROM principals");
    while (p.step()) {
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
            const auto binding = p.blob(9);
            if (binding.size() != sizeof u.binding.bytes) throw std::runtime_error("corrupt session binding of a user");
            std::copy(binding.begin(), binding.end(), u.binding.bytes);
            d->users.emplace(id, std::move(u));
        } else {
            d->groups.emplace(id, group_row{id, p.text(2), p.text(8)});
        }
    }
    auto& m = db_->prepare("SELECT group_id, member_id FROM group_members ORDER BY group_id, member_id");
    while (m.step()) d->group_members[static_cast<std::uint64_t>(m.int64(0))].push_back(static_cast<std::uint64_t>(m.int64(1)));
    auto& r = db_->prepare("SELECT name, description, privileges FROM roles ORDER BY name");
    while (r.step()) d->roles.push_back({r.text(0), r.text(1), privileges_from_text(r.text(2)), {}});
    auto& rm = db_->prepare("SELECT role, auth_id FROM role_members");
    while (rm.step())
        for (auto& role : d->roles)
            if (text::iequals(role.name, rm.text(0))) role.add_member(static_cast<std::uint64_t>(rm.int64(1)));
    return d;
}

void state::load_tokens() {
    auto& s = db_->prepare("SELECT id, secret_hash, user_id, expiration_time, enabled FROM access_tokens");
    while (s.step()) {
        token_record rec;
        const auto id = s.blob(0);
        const auto hash = s.blob(1);
        if (id.size() != 16 || hash.size() != 32) throw std::runtime_error("corrupt access token row");
        std::copy(id.begin(), id.end(), rec.id.bytes);
        std::copy(hash.begin(), hash.end(), rec.hash.bytes);
        rec.user_auth_id = static_cast<std::uint64_t>(s.int64(2));
        rec.expires_at = s.is_null(3) ? never_expires : s.int64(3);
        rec.enabled = s.int64(4) != 0;
        tokens_.upsert(rec);
    }
}

std::shared_ptr<const directory> state::snapshot() const {
    struct cache {
        const state* owner = nullptr;
        std::uint64_t version = 0;
        std::shared_ptr<const std::shared_ptr<const directory>> holder;  // this thread's own count
    };
    thread_local cache c;
    if (c.owner != this || c.version != snap_version_.load(std::memory_order_acquire)) {
        std::shared_lock lock(snap_mu_);
        c.holder = std::make_shared<const std::shared_ptr<const directory>>(snap_);
        c.version = snap_version_.load(std::memory_order_relaxed);
        c.owner = this;
    }
    // Aliasing: shares ownership with this thread's holder, points at the directory.
    return std::shared_ptr<const directory>(c.holder, c.holder->get());
}

bool state::session_user_of(std::uint64_t auth_id, session_user& out) const noexcept {
    std::shared_lock lock(snap_mu_);
    const user_row* u = snap_->user(auth_id);
    if (u == nullptr) return false;
    out.generation = u->generation;
    out.binding = u->binding;
    return true;
}

// ---------------------------------------------------------------------------------------
// Access tokens

token_row state::read_token(statement& s) const {
    token_row t;
    const auto id = s.blob(0);
    std::copy(id.begin(), id.end(), t.id.bytes);
    t.seq = s.int64(1);
    t.user = static_cast<std::uint64_t>(s.int64(2));
    t.creator = static_cast<std::uint64_t>(s.int64(3));
    t.creation_time = s.int64(4);
    t.expiration_time = s.opt_int64(5);
    t.enabled = s.int64(6) != 0;
    return t;
}

#define TOKEN_COLUMNS "id, seq, user_id, creator_id, creation_time, expiration_time, enabled"

std::pair<token_row, std::string> state::create_token(std::uint64_t user, std::uint64_t creator,
                                                      std::optional<timestamp> expiration, timestamp now) {
    const access_token token = generate_access_token();
    const secret_hash hash = hash_access_token(token);
    std::lock_guard lock(db_mu_);
    transaction t(*db_);
    {
        auto& exists = db_->prepare("SELECT count(*) FROM principals WHERE auth_id = ? AND kind = 'user'");
        exists.bind(1, user).step();
        const bool found = exists.int64(0) != 0;
        exists.reset();
        if (!found) throw storage_error(storage_error::kind::not_found, "no user with id " + std::to_string(user));
    }
    auto& count = db_->prepare("SELECT count(*) FROM access_tokens WHERE user_id = ?");
    count.bind(1, user).step();
    const std::int64_t held = count.int64(0);
    count.reset();
    if (held >= max_tokens_per_user)
        throw storage_error(storage_error::kind::limit_reached,
                        "user already holds " + std::to_string(max_tokens_per_user) +
                            " access tokens; delete one before creating another");
    db_->prepare("INSERT INTO access_tokens (id, secret_hash, user_id, creator_id, creation_time, expiration_time, "
                 "enabled) VALUES (?, ?, ?, ?, ?, ?, 1)")
        .bind_blob(1, token.id.bytes, 16)
        .bind_blob(2, hash.bytes, 32)
        .bind(3, user)
        .bind(4, creator)
        .bind(5, now)
        .bind(6, expiration)
        .run();
    tokens_.reserve_for(token.id);  // so the index update after the commit cannot fail
    token_row row;
    row.id = token.id;
    row.seq = db_->last_insert_rowid();
    row.user = user;
    row.creator = creator;
    row.creation_time = now;
    row.expiration_time = expiration;
    row.enabled = true;
    t.commit();
    tokens_.upsert(token_record{token.id, hash, user, expiration.value_or(never_expires), true});
    return {row, encode_access_token(token)};
}

std::optional<token_row> state::get_token(const token_id& id) {
    std::lock_guard lock(db_mu_);
    auto& s = db_->prepare("SELECT " TOKEN_COLUMNS " FROM access_tokens WHERE id = ?");
    s.bind_blob(1, id.bytes, 16);
    if (!s.step()) return std::nullopt;
    token_row row = read_token(s);
    s.reset();
    return row;
}

std::vector<token_row> state::list_tokens(std::optional<std::uint64_t> user, std::int64_t after, std::size_t limit,
                                          bool& more) {
    std::lock_guard lock(db_mu_);
    auto& s = user ? db_->prepare("SELECT " TOKEN_COLUMNS
                                  " FROM access_tokens WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?")
                   : db_->prepare("SELECT " TOKEN_COLUMNS " FROM access_tokens WHERE ? IS NULL AND seq > ? ORDER "
                                  "BY seq LIMIT ?");
    s.bind(1, user).bind(2, after).bind(3, limit == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(limit + 1));
    std::vector<token_row> out;
    while (s.step()) out.push_back(read_token(s));
    s.reset();
    more = limit != 0 && out.size() > limit;
    if (more) out.resize(limit);
    return out;
}

std::optional<token_row> state::modify_token(const token_id& id,
                                             const std::optional<std::optional<timestamp>>& expiration,
                                             std::optional<bool> enabled) {
    std::lock_guard lock(db_mu_);
    transaction t(*db_);
    if (expiration)
        db_->prepare("UPDATE access_tokens SET expiration_time = ? WHERE id = ?")
            .bind(1, *expiration)
            .bind_blob(2, id.bytes, 16)
            .run();
    if (enabled)
        db_->prepare("UPDATE access_tokens SET enabled = ? WHERE id = ?").bind(1, *enabled).bind_blob(2, id.bytes, 16).run();
    auto& s = db_->prepare("SELECT " TOKEN_COLUMNS " FROM access_tokens WHERE id = ?");
    s.bind_blob(1, id.bytes, 16);
    if (!s.step()) return std::nullopt;
    token_row row = read_token(s);
    s.reset();
    t.commit();
    tokens_.set_expiration(id, row.expiration_time.value_or(never_expires));
    tokens_.set_enabled(id, row.enabled);
    return row;
}

bool state::delete_token(const token_id& id) {
    std::lock_guard lock(db_mu_);
    transaction t(*db_);
    db_->prepare("DELETE FROM access_tokens WHERE id = ?").bind_blob(1, id.bytes, 16).run();
    const bool deleted = db_->changes() == 1;
    t.commit();
    if (deleted) tokens_.erase(id);
    return deleted;
}

// ---------------------------------------------------------------------------------------
// Users, groups and roles: every write rebuilds the directory snapshot after its commit.

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
std::string name_taken(const std::string& name) { return "a user or group named '" + name + "' already exists"; }
std::string role_taken(const std::string& name) { return "a role named '" + name + "' already exists"; }
}  // namespace

template <class F>
void state::write_directory(F&& body, const std::string& conflict_message) {
    std::lock_guard lock(db_mu_);
    transaction t(*db_);
    try {
        body(*db_);
    } catch (const db_error& e) {
        // A principal deleted between the caller's snapshot and this write.
        if (e.code() == SQLITE_CONSTRAINT_FOREIGNKEY)
            throw storage_error(storage_error::kind::not_found,
                                "the user, group or role named in the request no longer exists");
        if (e.is_constraint() && !conflict_message.empty())
            throw storage_error(storage_error::kind::conflict, conflict_message);
        throw;
    }
    // The new snapshot is read inside the transaction (this connection sees its own writes)
    // and published after the commit, which cannot fail.
    auto next = load_directory();
    t.commit();
    publish_directory(std::move(next));
}

user_row state::create_user(user_row u) {
    write_directory([&](connection& db) {
        u.auth_id = next_auth_id(db);
        u.binding = session_binding::generate();
        db.prepare("INSERT INTO principals (auth_id, kind, name, primary_group, uid, home_directory, password_hash, "
                   "session_binding) VALUES (?, 'user', ?, ?, ?, ?, ?, ?)")
            .bind(1, u.auth_id)
            .bind(2, u.name)
            .bind(3, u.primary_group)
            .bind(4, u.uid)
            .bind(5, u.home_directory)
            .bind(6, u.password_hash)
            .bind_blob(7, u.binding.bytes, sizeof u.binding.bytes)
            .run();
    }, name_taken(u.name));
    return u;
}

user_row state::update_user(const user_row& u, bool password_changed) {
    write_directory([&](connection& db) {
        db.prepare("UPDATE principals SET name = ?, primary_group = ?, uid = ?, home_directory = ?, password_hash = ?, "
                   "generation = generation + ? WHERE auth_id = ? AND kind = 'user'")
            .bind(1, u.name)
            .bind(2, u.primary_group)
            .bind(3, u.uid)
            .bind(4, u.home_directory)
            .bind(5, u.password_hash)
            .bind(6, password_changed ? 1 : 0)
            .bind(7, u.auth_id)
            .run();
    }, name_taken(u.name));
    return *snapshot()->user(u.auth_id);
}

void state::delete_user(std::uint64_t id) {
    std::vector<token_id> doomed;
    write_directory([&](connection& db) {
        auto& s = db.prepare("SELECT id FROM access_tokens WHERE user_id = ?");
        s.bind(1, id);
        while (s.step()) {
            token_id tid;
            const auto b = s.blob(0);
            std::copy(b.begin(), b.end(), tid.bytes);
            doomed.push_back(tid);
        }
        s.reset();
        // ON DELETE CASCADE removes the user's tokens and memberships in the same commit.
        db.prepare("DELETE FROM principals WHERE auth_id = ? AND kind = 'user'").bind(1, id).run();
    });
    // After the commit: the tokens leave the index; the rebuilt snapshot no longer knows the
    // user, so its sessions end too.
    for (const auto& tid : doomed) tokens_.erase(tid);
}

void state::set_password(std::uint64_t id, const std::string& hash) {
    write_directory([&](connection& db) {
        db.prepare("UPDATE principals SET password_hash = ?, generation = generation + 1 WHERE auth_id = ? AND kind = 'user'")
            .bind(1, hash)
            .bind(2, id)
            .run();
    });
}

group_row state::create_group(group_row g) {
    write_directory([&](connection& db) {
        g.auth_id = next_auth_id(db);
        db.prepare("INSERT INTO principals (auth_id, kind, name, gid) VALUES (?, 'group', ?, ?)")
            .bind(1, g.auth_id)
            .bind(2, g.name)
            .bind(3, g.gid)
            .run();
    }, name_taken(g.name));
    return g;
}

group_row state::update_group(const group_row& g) {
    write_directory([&](connection& db) {
        db.prepare("UPDATE principals SET name = ?, gid = ? WHERE auth_id = ? AND kind = 'group'")
            .bind(1, g.name)
            .bind(2, g.gid)
            .bind(3, g.auth_id)
            .run();
    }, name_taken(g.name));
    return g;
}

void state::delete_group(std::uint64_t id) {
    write_directory([&](connection& db) {
        auto& s = db.prepare("SELECT count(*) FROM principals WHERE kind = 'user' AND primary_group = ?");
        s.bind(1, id).step();
        const std::int64_t primaries = s.int64(0);
        s.reset();
        if (primaries > 0)
            throw storage_error(storage_error::kind::in_use, "the group is the primary group of " +
                                                                 std::to_string(primaries) +
                                                                 " user(s); change their primary group first");
        db.prepare("DELETE FROM principals WHERE auth_id = ? AND kind = 'group'").bind(1, id).run();
    });
}

void state::add_group_member(std::uint64_t group, std::uint64_t member) {
    write_directory([&](connection& db) {
        db.prepare("INSERT OR IGNORE INTO group_members (group_id, member_id) VALUES (?, ?)").bind(1, group).bind(2, member).run();
    });
}

void state::remove_group_member(std::uint64_t group, std::uint64_t member) {
    write_directory([&](connection& db) {
        db.prepare("DELETE FROM group_members WHERE group_id = ? AND member_id = ?").bind(1, group).bind(2, member).run();
    });
}

void state::create_role(const tokenauth::role& r) {
    write_directory([&](connection& db) {
        db.prepare("INSERT INTO roles (name, description, privileges) VALUES (?, ?, ?)")
            .bind(1, r.name)
            .bind(2, r.description)
            .bind(3, privileges_to_text(r.privileges))
            .run();
    }, role_taken(r.name));
}

void state::update_role(const std::string& name, const tokenauth::role& r) {
    write_directory([&](connection& db) {
        db.prepare("UPDATE roles SET name = ?, description = ?, privileges = ? WHERE name = ?")
            .bind(1, r.name)
            .bind(2, r.description)
            .bind(3, privileges_to_text(r.privileges))
            .bind(4, name)
            .run();
    }, role_taken(r.name));
}

void state::delete_role(const std::string& name) {
    write_directory([&](connection& db) { db.prepare("DELETE FROM roles WHERE name = ?").bind(1, name).run(); });
}

void state::add_role_member(const std::string& role, std::uint64_t member) {
    write_directory([&](connection& db) {
        db.prepare("INSERT OR IGNORE INTO role_members (role, auth_id) VALUES ((SELECT name FROM roles WHERE name = ?), ?)")
            .bind(1, role)
            .bind(2, member)
            .run();
    });
}

void state::remove_role_member(const std::string& role, std::uint64_t member) {
    write_directory([&](connection& db) {
        db.prepare("DELETE FROM role_members WHERE role = ? AND auth_id = ?").bind(1, role).bind(2, member).run();
    });
}

}  // namespace tokenauth::server
