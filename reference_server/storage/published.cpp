// The in-memory side every backend shares: publishing the directory, what readers see,
// the session key file and what a first start writes.
#include "published.hpp"

#include <unordered_set>

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "name_keys.hpp"
#include "privileges_text.hpp"

namespace tokenauth::server {

void published_store::publish_directory(std::shared_ptr<directory> d) noexcept {
    d->touched.clear();
    d->touched.shrink_to_fit();
    std::unique_lock lock(snap_mu_);
    d->version = snap_version_.load(std::memory_order_relaxed) + 1;
    snap_ = std::move(d);
    snap_version_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const directory> published_store::snapshot() const {
    struct cache {
        const published_store* owner = nullptr;
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

std::shared_ptr<directory> published_store::next_directory() const {
    std::shared_lock lock(snap_mu_);
    return snap_ ? std::make_shared<directory>(*snap_) : std::make_shared<directory>();
}

std::vector<std::string> published_store::name_collisions() const {
    const auto d = snapshot();
    std::vector<std::string> out;
    for (const auto& [name, id] : d->unkeyed_principals)
        out.push_back(name_collision_note(d->user(id) ? "user" : "group", name, "auth_id " + std::to_string(id)));
    for (const auto& [name, i] : d->unkeyed_roles) out.push_back(name_collision_note("role", name, ""));
    return out;
}

bool published_store::session_user_of(std::uint64_t auth_id, session_user& out) const noexcept {
    std::shared_lock lock(snap_mu_);
    const user_row* u = snap_->user(auth_id);
    if (u == nullptr) return false;
    out.generation = u->generation;
    out.binding = u->binding;
    return true;
}

token_record published_store::record_of(const token_id& id, const secret_hash& hash, hash_scheme scheme,
                                        std::uint64_t user, std::optional<timestamp> expiration, bool enabled,
                                        const std::optional<std::string>& privileges_text,
                                        const std::optional<std::string>& allowed_cidrs) {
    token_record rec;
    rec.id = id;
    rec.hash = hash;
    rec.scheme = scheme;
    rec.user_auth_id = user;
    rec.expires_at = expiration.value_or(never_expires);
    rec.enabled = enabled;
    if (privileges_text) rec.scope = scopes_.intern(privileges_from_text(*privileges_text));
    rec.network = network_of(allowed_cidrs);
    return rec;
}

std::uint32_t published_store::network_of(const std::optional<std::string>& allowed_cidrs) {
    if (!allowed_cidrs) return network_table::unbounded;
    network_bounds b;
    if (parse_network_bounds(*allowed_cidrs, b) != errc::ok)
        throw std::runtime_error("corrupt database: a token's allowed_cidrs: " + *allowed_cidrs);
    return tokens_.networks().intern(b);
}

hash_scheme published_store::scheme_of(std::int64_t stored) {
    hash_scheme scheme;
    if (!hash_scheme_from_number(stored, scheme))
        throw std::runtime_error("corrupt database: an access token hash of unknown scheme " + std::to_string(stored));
    return scheme;
}

published_store::pending_batch published_store::take_pending() {
    pending_batch b;
    tokens_.take_unsaved_uses([&](const token_id& id, timestamp t) { b.uses.emplace_back(id, t); });
    tokens_.take_upgrades([&](const token_id& id, const secret_hash& h) { b.upgrades.emplace_back(id, h); });
    return b;
}

void published_store::applied(const pending_batch& batch) noexcept {
    for (const auto& [id, hash] : batch.upgrades) tokens_.upgrade(id, hash);
}

bool read_session_key_file(const std::string& path, session_key& key) {
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
    const auto parsed = parse_session_key_hex(std::string_view(text, len));
    sodium_memzero(text, sizeof text);
    if (!parsed) throw std::runtime_error("session key file " + path + " must hold 64 hex digits (32 bytes)");
    key = *parsed;
    return true;
}

void write_session_key_file(const std::string& path, const session_key& key) {
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

first_start prepare_first_start(const std::optional<std::string>& admin_password) {
    first_start f;
    std::string password;
    if (admin_password && !admin_password->empty()) {
        password = *admin_password;
    } else {
        std::uint8_t raw[18];
        random_bytes(raw, sizeof raw);
        char b64[sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
        sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        password = b64;
        f.generated_password.emplace(password);
    }
    f.admin_hash = hash_password(password);
    wipe(password.data(), password.size());
    std::uint32_t sub[3];
    random_bytes(sub, sizeof sub);
    f.machine_sid = "S-1-5-21-" + std::to_string(sub[0]) + "-" + std::to_string(sub[1]) + "-" + std::to_string(sub[2]);
    f.admin_binding = session_binding::generate();
    f.guest_binding = session_binding::generate();
    return f;
}

namespace {
std::optional<token_record> indexed(const memory_token_store& tokens, const token_id& id) noexcept {
    token_record r;
    if (!tokens.find(id, r)) return std::nullopt;
    return r;
}
}  // namespace

void published_store::recount(const std::optional<token_record>& before,
                              const std::optional<token_record>& after) noexcept {
    const timestamp now = system_clock().now();
    try {
        if (before) census_.remove(*before, now);
        if (after) census_.add(*after, now);
    } catch (const std::bad_alloc&) {
    }
}

void published_store::index_put(const token_record& r) {
    const auto before = indexed(tokens_, r.id);
    tokens_.upsert(r);
    recount(before, r);
}

void published_store::index_load(const token_record& r) {
    tokens_.upsert(r);
    census_.stage(r);
}

void published_store::index_loaded() { census_.commit_staged(system_clock().now()); }

void published_store::index_replace(const std::vector<token_record>& records) {
    struct id_hash {
        std::size_t operator()(const token_id& id) const noexcept { return static_cast<std::size_t>(id.hash()); }
    };
    std::unordered_set<token_id, id_hash> keep;
    for (const token_record& r : records) keep.insert(r.id);
    std::vector<token_id> gone;
    tokens_.for_each([&](const token_record& r) {
        if (keep.count(r.id) == 0) gone.push_back(r.id);
    });
    for (const token_id& id : gone) index_erase(id);
    for (const token_record& r : records) index_put(r);
}

void published_store::index_erase(const token_id& id) noexcept {
    const auto before = indexed(tokens_, id);
    if (!before) return;
    tokens_.erase(id);
    recount(before, std::nullopt);
}

void published_store::apply_token_state(const token_row& row, std::optional<std::uint32_t> network) noexcept {
    const auto before = indexed(tokens_, row.id);
    tokens_.set_expiration(row.id, row.expiration_time.value_or(never_expires));
    tokens_.set_enabled(row.id, row.enabled);
    if (network) tokens_.set_network(row.id, *network);
    recount(before, indexed(tokens_, row.id));
}

}  // namespace tokenauth::server
