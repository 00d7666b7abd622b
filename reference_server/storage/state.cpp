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
#include "state.hpp"

namespace tokenauth::server {

namespace {

void chmod_if_exists(const std::string& path, mode_t mode) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) ::chmod(path.c_str(), mode);
}

}  // namespace

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

    load_session_key(opts.session_key_file.empty() ? opts.data_dir + "/session.key" : opts.session_key_file);
    std::lock_guard lock(db_mu_);
    reload_directory();
    load_tokens();
}

state::~state() = default;

namespace {

bool read_key_file(const std::string& path, session_key& key) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return false;
        throw std::runtime_error("cannot read session key file " + path + ": " + std::strerror(errno));
    }
    char text[66] = {};
    const ssize_t n = ::read(fd, text, sizeof text);
    ::close(fd);
    std::size_t len = n > 0 ? static_cast<std::size_t>(n) : 0;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) --len;
    std::size_t bin_len = 0;
    const bool ok = len == 64 && sodium_hex2bin(key.bytes, sizeof key.bytes, text, len, nullptr, &bin_len, nullptr) == 0 &&
                    bin_len == sizeof key.bytes;
    sodium_memzero(text, sizeof text);
    if (!ok) throw std::runtime_error("session key file " + path + " must hold 64 hex digits (32 bytes)");
    return true;
}

void write_key_file(const std::string& path, const session_key& key) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create session key file " + path + ": " + std::strerror(errno));
    char text[65];
    sodium_bin2hex(text, sizeof text, key.bytes, sizeof key.bytes);
    text[64] = '\n';
    const bool ok = ::write(fd, text, sizeof text) == static_cast<ssize_t>(sizeof text) && ::fsync(fd) == 0;
    sodium_memzero(text, sizeof text);
    ::close(fd);
    if (!ok) {
        ::unlink(path.c_str());
        throw std::runtime_error("cannot write session key file " + path);
    }
}

}  // namespace

void state::load_session_key(const std::string& path) {
    // A database written before v3 holds the key in meta: move it into the file (written
    // and synced first), then delete it from the database.
    auto& old = db_->prepare("SELECT value FROM meta WHERE key = 'session_key'");
    const bool in_db = old.step();
    if (in_db) old.blob_into(0, key_.bytes, "the session key");
    old.reset();
    session_key from_file;
    if (read_key_file(path, from_file)) {
        key_ = from_file;
    } else {
        if (!in_db) key_ = session_key::generate();
        write_key_file(path, key_);
    }
    if (in_db) {
        // Overwritten, not only unlinked from the b-tree, and checkpointed out of the WAL.
        db_->reset_all();
        db_->exec("PRAGMA secure_delete = ON");
        db_->exec("DELETE FROM meta WHERE key = 'session_key'");
        db_->exec("PRAGMA wal_checkpoint(TRUNCATE)");
    }
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
            p.blob_into(9, u.binding.bytes, "a user's session binding");
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
    auto& s = db_->prepare("SELECT id, secret_hash, user_id, expiration_time, enabled, privileges FROM access_tokens");
    while (s.step()) {
        token_record rec;
        s.blob_into(0, rec.id.bytes, "an access token id");
        s.blob_into(1, rec.hash.bytes, "an access token hash");
        rec.user_auth_id = static_cast<std::uint64_t>(s.int64(2));
        rec.expires_at = s.is_null(3) ? never_expires : s.int64(3);
        rec.enabled = s.int64(4) != 0;
        if (const auto scope = s.opt_text(5)) rec.scope = scopes_.intern(privileges_from_text(*scope));
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

}  // namespace tokenauth::server
