// Storage: access tokens: durable writes, then the in-memory index; reads for the API.
#include "privileges_text.hpp"
#include "sqlite_store.hpp"

namespace tokenauth::server {

token_row sqlite_store::read_token(statement& s) const {
    token_row t;
    s.blob_into(0, t.id.bytes, "an access token id");
    t.seq = s.int64(1);
    t.user = static_cast<std::uint64_t>(s.int64(2));
    t.creator = static_cast<std::uint64_t>(s.int64(3));
    t.creation_time = s.int64(4);
    t.expiration_time = s.opt_int64(5);
    t.enabled = s.int64(6) != 0;
    if (const auto scope = s.opt_text(7)) t.privileges = privileges_from_text(*scope);
    t.last_used_time = s.opt_int64(8);
    t.name = s.opt_text(9);
    if (!s.is_null(10)) {
        t.rotated_to.emplace();
        s.blob_into(10, t.rotated_to->bytes, "a successor token id");
    }
    t.rotated_time = s.opt_int64(11);
    s.blob_into(12, t.family.bytes, "a token family id");
    t.allowed_cidrs = s.opt_text(13);
    return t;
}

#define TOKEN_COLUMNS                                                                                       \
    "id, seq, user_id, creator_id, creation_time, expiration_time, enabled, privileges, last_used_time, name, " \
    "rotated_to, rotated_time, coalesce(family, id), allowed_cidrs"

created_token sqlite_store::create_token(std::uint64_t user, std::uint64_t creator, timestamp now,
                                         const token_fields& f) {
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
    // A rotated token counts while its grace lasts; after it, it is a tombstone.
    auto& count = db_->prepare("SELECT count(*) FROM access_tokens WHERE user_id = ? AND (rotated_to IS NULL OR "
                               "(enabled = 1 AND expiration_time > ?))");
    count.bind(1, user).bind(2, now).step();
    const std::int64_t held = count.int64(0);
    count.reset();
    if (held >= max_tokens_per_user)
        throw storage_error(storage_error::kind::limit_reached,
                        "user already holds " + std::to_string(max_tokens_per_user) +
                            " access tokens; delete one before creating another");
    const std::optional<std::string> scope_text = f.scope ? std::optional(privileges_to_text(*f.scope)) : std::nullopt;
    db_->prepare("INSERT INTO access_tokens (id, secret_hash, user_id, creator_id, creation_time, expiration_time, "
                 "enabled, privileges, hash_scheme, name, allowed_cidrs) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)")
        .bind_blob(1, token.id.bytes, 16)
        .bind_blob(2, hash.bytes, 32)
        .bind(3, user)
        .bind(4, creator)
        .bind(5, now)
        .bind(6, f.expiration)
        .bind(7, scope_text)
        .bind(8, static_cast<std::int64_t>(current_hash_scheme))
        .bind(9, f.name)
        .bind(10, f.allowed_cidrs)
        .run();
    // Everything that can fail (the scope's and bounds' entries, room in the index) before
    // the commit, so the index update after it cannot fail.
    const token_record rec =
        record_of(token.id, hash, current_hash_scheme, user, f.expiration, true, scope_text, f.allowed_cidrs);
    tokens_.reserve_for(token.id);
    const token_row row = new_token_row(token.id, db_->last_insert_rowid(), user, creator, now, f);
    t.commit();
    index_put(rec);
    return {row, secret_text(encode_access_token(token))};
}

std::optional<token_row> sqlite_store::get_token(const token_id& id) {
    std::lock_guard lock(db_mu_);
    auto& s = db_->prepare("SELECT " TOKEN_COLUMNS " FROM access_tokens WHERE id = ?");
    s.bind_blob(1, id.bytes, 16);
    if (!s.step()) return std::nullopt;
    token_row row = read_token(s);
    s.reset();
    return row;
}

std::vector<token_row> sqlite_store::list_tokens(std::optional<std::uint64_t> user, std::int64_t after, std::size_t limit,
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

/// A read transaction on a connection of its own: SQLite's WAL keeps the snapshot it
/// started with for as long as it is open, while the writer goes on.
class sqlite_store::cursor final : public token_cursor {
public:
    cursor(const sqlite_store& s, std::optional<std::uint64_t> user, std::int64_t after) : s_(s), db_(s.db_path_) {
        db_.exec("PRAGMA query_only = ON");
        db_.exec("PRAGMA cache_size = -1024");  // KiB: a scan needs little
        db_.exec("BEGIN");
        rows_ = &(user ? db_.prepare("SELECT " TOKEN_COLUMNS " FROM access_tokens WHERE user_id = ? AND seq > ? ORDER BY seq")
                       : db_.prepare("SELECT " TOKEN_COLUMNS " FROM access_tokens WHERE ? IS NULL AND seq > ? ORDER BY seq"));
        rows_->bind(1, user).bind(2, after);
    }
    ~cursor() override {
        rows_->reset();
        try {
            db_.exec("COMMIT");
        } catch (...) {
        }
    }
    bool next(token_row& row) override {
        if (!rows_->step()) return false;
        row = s_.read_token(*rows_);
        return true;
    }

private:
    const sqlite_store& s_;
    connection db_;
    statement* rows_ = nullptr;
};

std::unique_ptr<store_reader::token_cursor> sqlite_store::open_token_cursor(std::optional<std::uint64_t> user,
                                                                            std::int64_t after) {
    return std::make_unique<cursor>(*this, user, after);
}

std::optional<token_row> sqlite_store::modify_token(const token_id& id, const token_change& change) {
    std::lock_guard lock(db_mu_);
    transaction t(*db_);
    if (change.expiration)
        db_->prepare("UPDATE access_tokens SET expiration_time = ?, expiry_warned = NULL WHERE id = ?")
            .bind(1, *change.expiration)
            .bind_blob(2, id.bytes, 16)
            .run();
    if (change.enabled)
        db_->prepare("UPDATE access_tokens SET enabled = ? WHERE id = ?")
            .bind(1, *change.enabled)
            .bind_blob(2, id.bytes, 16)
            .run();
    if (change.name)
        db_->prepare("UPDATE access_tokens SET name = ? WHERE id = ?").bind(1, *change.name).bind_blob(2, id.bytes, 16).run();
    if (change.allowed_cidrs)
        db_->prepare("UPDATE access_tokens SET allowed_cidrs = ? WHERE id = ?")
            .bind(1, *change.allowed_cidrs)
            .bind_blob(2, id.bytes, 16)
            .run();
    auto& s = db_->prepare("SELECT " TOKEN_COLUMNS " FROM access_tokens WHERE id = ?");
    s.bind_blob(1, id.bytes, 16);
    if (!s.step()) return std::nullopt;
    token_row row = read_token(s);
    s.reset();
    const std::optional<std::uint32_t> network =
        change.allowed_cidrs ? std::optional(network_of(row.allowed_cidrs)) : std::nullopt;
    t.commit();
    apply_token_state(row, network);
    return row;
}

rotated_token sqlite_store::rotate_token(const token_id& predecessor, std::uint64_t creator, const token_rotation& r) {
    const access_token token = generate_access_token();
    const secret_hash hash = hash_access_token(token);
    std::lock_guard lock(db_mu_);
    transaction t(*db_);
    auto& s = db_->prepare("SELECT " TOKEN_COLUMNS " FROM access_tokens WHERE id = ?");
    s.bind_blob(1, predecessor.bytes, 16);
    if (!s.step()) throw storage_error(storage_error::kind::not_found, "no access token with id " + to_string(predecessor));
    const token_row old = read_token(s);
    s.reset();
    if (old.rotated_to)
        throw storage_error(storage_error::kind::conflict, "access token " + to_string(predecessor) +
                                                               " was already rotated; its successor is " +
                                                               to_string(*old.rotated_to));
    const std::optional<std::string> scope_text =
        old.privileges ? std::optional(privileges_to_text(*old.privileges)) : std::nullopt;
    db_->prepare("INSERT INTO access_tokens (id, secret_hash, user_id, creator_id, creation_time, expiration_time, "
                 "enabled, privileges, hash_scheme, name, family, allowed_cidrs) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)")
        .bind_blob(1, token.id.bytes, 16)
        .bind_blob(2, hash.bytes, 32)
        .bind(3, old.user)
        .bind(4, creator)
        .bind(5, r.now)
        .bind(6, r.expiration)
        .bind(7, scope_text)
        .bind(8, static_cast<std::int64_t>(current_hash_scheme))
        .bind(9, old.name)
        .bind_blob(10, old.family.bytes, 16)
        .bind(11, old.allowed_cidrs)
        .run();
    token_row row = successor_row(old, token.id, creator, r);
    row.seq = db_->last_insert_rowid();
    const token_row retired = retired_row(old, token.id, r);
    db_->prepare("UPDATE access_tokens SET rotated_to = ?, rotated_time = ?, enabled = ?, expiration_time = ? WHERE id = ?")
        .bind_blob(1, token.id.bytes, 16)
        .bind(2, r.now)
        .bind(3, retired.enabled)
        .bind(4, retired.expiration_time)
        .bind_blob(5, predecessor.bytes, 16)
        .run();
    // Tombstones past their retention.
    std::vector<token_id> expired;
    auto& old_tombstones = db_->prepare("SELECT id FROM access_tokens WHERE rotated_to IS NOT NULL AND rotated_time < ?");
    old_tombstones.bind(1, tombstones_before(r.now));
    while (old_tombstones.step()) old_tombstones.blob_into(0, expired.emplace_back().bytes, "an access token id");
    old_tombstones.reset();
    for (const token_id& id : expired)
        db_->prepare("DELETE FROM access_tokens WHERE id = ?").bind_blob(1, id.bytes, 16).run();
    const token_record rec =
        record_of(token.id, hash, current_hash_scheme, row.user, r.expiration, true, scope_text, old.allowed_cidrs);
    tokens_.reserve_for(token.id);
    t.commit();
    index_put(rec);
    apply_token_state(retired);
    for (const token_id& id : expired) index_erase(id);
    return {{row, secret_text(encode_access_token(token))}, retired};
}

std::vector<token_id> sqlite_store::disable_family(const token_id& member) {
    std::lock_guard lock(db_mu_);
    transaction t(*db_);
    std::vector<token_row> live;
    auto& s = db_->prepare("SELECT " TOKEN_COLUMNS " FROM access_tokens WHERE enabled = 1 AND coalesce(family, id) = "
                           "(SELECT coalesce(family, id) FROM access_tokens WHERE id = ?)");
    s.bind_blob(1, member.bytes, 16);
    while (s.step()) live.push_back(read_token(s));
    s.reset();
    std::vector<token_id> ids;
    for (token_row& row : live) {
        db_->prepare("UPDATE access_tokens SET enabled = 0 WHERE id = ?").bind_blob(1, row.id.bytes, 16).run();
        row.enabled = false;
        ids.push_back(row.id);
    }
    t.commit();
    for (const token_row& row : live) apply_token_state(row);
    return ids;
}

std::vector<expiry_warning> sqlite_store::claim_expiry_warnings(timestamp now,
                                                                const std::vector<std::int64_t>& thresholds) {
    std::vector<expiry_warning> due;
    if (thresholds.empty()) return due;
    const timestamp window = thresholds.back() * 1'000'000'000;
    std::lock_guard lock(db_mu_);
    transaction t(*db_);
    auto& s = db_->prepare("SELECT id, user_id, expiration_time, expiry_warned FROM access_tokens WHERE enabled = 1 "
                           "AND rotated_to IS NULL AND expiration_time > ? AND expiration_time <= ? "
                           "AND (expiry_warned IS NULL OR expiry_warned > 0)");
    s.bind(1, now - window).bind(2, now + window);
    while (s.step()) {
        expiry_warning w;
        s.blob_into(0, w.id.bytes, "an access token id");
        w.user = static_cast<std::uint64_t>(s.int64(1));
        w.expiration = s.int64(2);
        if (warning_due(w, now, s.opt_int64(3), thresholds)) due.push_back(w);
    }
    s.reset();
    for (const expiry_warning& w : due)
        db_->prepare("UPDATE access_tokens SET expiry_warned = ? WHERE id = ?").bind(1, w.threshold).bind_blob(2, w.id.bytes, 16).run();
    t.commit();
    return due;
}

bool sqlite_store::delete_token(const token_id& id) {
    std::lock_guard lock(db_mu_);
    transaction t(*db_);
    db_->prepare("DELETE FROM access_tokens WHERE id = ?").bind_blob(1, id.bytes, 16).run();
    const bool deleted = db_->changes() == 1;
    t.commit();
    if (deleted) index_erase(id);
    return deleted;
}

std::vector<token_id> sqlite_store::save_uses() {
    const pending_batch batch = take_pending();
    std::vector<token_id> first;
    if (batch.empty()) return first;
    std::lock_guard lock(db_mu_);
    transaction t(*db_);
    for (const auto& [id, when] : batch.uses) {
        db_->prepare("UPDATE access_tokens SET last_used_time = ? WHERE id = ? AND last_used_time IS NULL")
            .bind(1, when)
            .bind_blob(2, id.bytes, 16)
            .run();
        if (db_->changes() == 1) {
            first.push_back(id);
            continue;
        }
        db_->prepare("UPDATE access_tokens SET last_used_time = max(last_used_time, ?) WHERE id = ?")
            .bind(1, when)
            .bind_blob(2, id.bytes, 16)
            .run();
    }
    for (const auto& [id, hash] : batch.upgrades)
        db_->prepare("UPDATE access_tokens SET secret_hash = ?, hash_scheme = ? WHERE id = ? AND hash_scheme <> ?")
            .bind_blob(1, hash.bytes, 32)
            .bind(2, static_cast<std::int64_t>(current_hash_scheme))
            .bind_blob(3, id.bytes, 16)
            .bind(4, static_cast<std::int64_t>(current_hash_scheme))
            .run();
    t.commit();
    applied(batch);
    return first;
}

#undef TOKEN_COLUMNS

}  // namespace tokenauth::server
