// The PostgreSQL backend's token writes: create, modify and delete through the token
// functions (one statement each; committed together when several threads wait: group
// commit), applied to this server's index at once when nothing else
// was written meanwhile; rotation and a family's disabling as one transaction each; expiry
// warnings claimed by a conditional write; the last-used batch; the token rows read back.
#include "pg_follower.hpp"
#include "pg_internal.hpp"
#include "pg_store.hpp"
#include "privileges_text.hpp"

#include <exception>

namespace tokenauth::server {

using namespace pg_internal;

template <class Apply>
void pg_store::apply_own(pg::connection& c, std::int64_t change_seq, Apply&& apply) {
    const auto lock = follower_->lock_apply();
    const std::int64_t applied = follower_->applied_seq();
    if (change_seq == applied + 1) {
        // Nothing else was written since what this server last applied: its own change is
        // the next, and it knows what it wrote, so it applies that without reading it back.
        apply();
        follower_->applied_own(change_seq);
    } else if (change_seq > applied) {
        follower_->catch_up_locked(c.raw());  // another server wrote meanwhile: read everything, in order
    }  // else the follower has applied it already
}

template <class F>
void pg_store::write_tokens(F&& body) {
    pg::connection& c = begin();
    try {
        const std::vector<token_id> changed = body(c);
        std::int64_t last = 0;
        for (const token_id& id : changed)
            last = c.exec("INSERT INTO changes (kind, token_id) VALUES ('token', $1) RETURNING seq", {id_param(id)})
                       .int64(0, 0);
        if (last != 0) c.exec("SELECT pg_notify($1, $2)", {pg::text(channel), pg::number(last)});
        c.exec("COMMIT");
    } catch (...) {
        try {
            if (c.ok()) c.exec("ROLLBACK");
        } catch (...) {
        }
        try {
            throw;
        } catch (const storage_error&) {
            throw;
        } catch (...) {
            translate_failure("");
        }
    }
    catch_up(c);  // the index takes the changes from the log, as another server's
}


token_row pg_store::read_token(const pg::result& r, int i) const {
    token_row t;
    r.bytes(i, 0, t.id.bytes, sizeof t.id.bytes, "an access token id");
    t.seq = r.int64(i, 1);
    t.user = static_cast<std::uint64_t>(r.int64(i, 2));
    t.creator = static_cast<std::uint64_t>(r.int64(i, 3));
    t.creation_time = r.int64(i, 4);
    t.expiration_time = r.opt_int64(i, 5);
    t.enabled = r.boolean(i, 6);
    if (const auto scope = r.opt_str(i, 7)) t.privileges = privileges_from_text(*scope);
    t.last_used_time = r.opt_int64(i, 8);
    t.name = r.opt_str(i, 9);
    if (!r.null(i, 10)) {
        t.rotated_to.emplace();
        r.bytes(i, 10, t.rotated_to->bytes, sizeof t.rotated_to->bytes, "a successor token id");
    }
    t.rotated_time = r.opt_int64(i, 11);
    r.bytes(i, 12, t.family.bytes, sizeof t.family.bytes, "a token family id");
    t.allowed_cidrs = r.opt_str(i, 13);
    return t;
}

// --- group commit ---

struct pg_store::grouped_write {
    const char* name;
    const char* sql;
    const std::vector<pg::param>& params;
    const std::function<void(const pg::result&)>& after;
    std::optional<pg::result> result;
    std::exception_ptr error;
    bool done = false;  // written and read with db_mu_ held
};

pg::result pg_store::grouped_call(const char* name, const char* sql, const std::vector<pg::param>& params,
                                  const std::function<void(const pg::result&)>& after) {
    grouped_write mine{name, sql, params, after, std::nullopt, nullptr};
    {
        std::lock_guard queue(group_mu_);
        group_.push_back(&mine);
    }
    std::lock_guard lock(db_mu_);
    if (!mine.done) {  // nobody took it in their group: this thread commits what waits now
        std::vector<grouped_write*> batch;
        {
            std::lock_guard queue(group_mu_);
            batch.swap(group_);
        }
        commit_group(batch);
    }
    if (mine.error) std::rethrow_exception(mine.error);
    return std::move(*mine.result);
}

void pg_store::commit_group(const std::vector<grouped_write*>& batch) {
    const auto failed = [](grouped_write& w) {
        // Ours (no such user, over the limit) pass as they are; others as storage_error.
        try {
            throw;
        } catch (const pg::error& e) {
            if (e.sqlstate() == TOKENAUTH_PG_NO_SUCH_USER || e.sqlstate() == TOKENAUTH_PG_TOKEN_LIMIT) {
                w.error = std::current_exception();
                return;
            }
            try {
                translate_failure("");
            } catch (...) {
                w.error = std::current_exception();
            }
        } catch (...) {
            w.error = std::current_exception();
        }
    };
    if (batch.size() == 1) {  // alone: one statement in its own transaction, as ever
        grouped_write& w = *batch.front();
        try {
            w.result.emplace(call(w.name, w.sql, w.params));
            w.after(*w.result);
        } catch (...) {
            failed(w);
        }
        w.done = true;
        return;
    }
    // BEGIN, each write between SAVEPOINT and RELEASE, and COMMIT go in one pipeline: one
    // round trip for the group. A write that fails stops the pipeline at it: the next
    // pipeline rolls back to its savepoint (it alone is undone) and sends the rest again.
    try {
        pg::connection& c = writer();
        std::vector<std::string> savepoints, releases, rollbacks;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            savepoints.push_back("SAVEPOINT w" + std::to_string(i));
            releases.push_back("RELEASE SAVEPOINT w" + std::to_string(i));
            rollbacks.push_back("ROLLBACK TO SAVEPOINT w" + std::to_string(i));
        }
        std::size_t from = 0;
        std::optional<std::size_t> undo;  // the write whose savepoint the next pipeline rolls back to
        for (;;) {
            std::vector<pg::connection::piped> statements;
            if (undo) statements.push_back({nullptr, rollbacks[*undo].c_str(), nullptr});
            else statements.push_back({nullptr, "BEGIN", nullptr});
            const std::size_t first_write = statements.size();
            for (std::size_t i = from; i < batch.size(); ++i) {
                statements.push_back({nullptr, savepoints[i].c_str(), nullptr});
                statements.push_back({batch[i]->name, batch[i]->sql, &batch[i]->params});
                statements.push_back({nullptr, releases[i].c_str(), nullptr});
            }
            statements.push_back({nullptr, "COMMIT", nullptr});
            pg::connection::pipelined out = c.pipeline(statements);
            const std::size_t ran = out.failed == SIZE_MAX ? statements.size() : out.failed;
            for (std::size_t j = first_write; j + 1 < statements.size() && j < ran; j += 3)
                if (j + 1 < ran) batch[from + (j - first_write) / 3]->result.emplace(std::move(*out.results[j + 1]));
            if (out.failed == SIZE_MAX) break;
            const std::size_t j = out.failed;
            const bool a_write = j >= first_write && j + 1 < statements.size() && (j - first_write) % 3 == 1;
            if (!a_write || out.failure->connection_lost()) throw *out.failure;
            const std::size_t k = from + (j - first_write) / 3;
            try {
                throw *out.failure;
            } catch (...) {
                failed(*batch[k]);
            }
            undo = k;
            from = k + 1;
        }
    } catch (...) {
        // Nothing of the group is known to be durable: every write in it fails (503 or the
        // error), none is applied. The connection is dropped, which ends its transaction.
        std::exception_ptr failure;
        try {
            translate_failure("");
        } catch (...) {
            failure = std::current_exception();
        }
        db_.reset();
        for (grouped_write* w : batch) {
            w->result.reset();
            w->error = failure;
            w->done = true;
        }
        return;
    }
    grouped_.fetch_add(batch.size(), std::memory_order_relaxed);
    for (grouped_write* w : batch) {  // durable now: applied in commit order
        if (!w->error) {
            try {
                w->after(*w->result);
            } catch (...) {
                w->error = std::current_exception();
            }
        }
        w->done = true;
    }
}

// --- access tokens ---

created_token pg_store::create_token(std::uint64_t user, std::uint64_t creator, timestamp now,
                                     const token_fields& f) {
    const access_token token = generate_access_token();
    const secret_hash hash = hash_access_token(token);
    const std::optional<std::string> scope_text = f.scope ? std::optional(privileges_to_text(*f.scope)) : std::nullopt;
    tokens_.reserve_for(token.id);  // so that applying it after the commit cannot fail
    // The entries too: a record built before the call cannot fail after it.
    const token_record rec =
        record_of(token.id, hash, current_hash_scheme, user, f.expiration, true, scope_text, f.allowed_cidrs);
    std::int64_t seq = 0;
    try {
        // The function checks the user and the per-user limit under the writers' lock, so
        // no other server counts or inserts at the same time.
        const std::vector<pg::param> params{id_param(token.id), pg::bytes(hash.bytes, sizeof hash.bytes), pg::number(user),
                                            pg::number(creator), pg::number(now), pg::number(f.expiration), scope_text,
                                            pg::number(std::int64_t{max_tokens_per_user}), f.name, f.allowed_cidrs};
        const auto r = grouped_call(
            "create_token", "SELECT o_seq, o_change FROM tokenauth_create_token($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            params, [&](const pg::result& done) { apply_own(*db_, done.int64(0, 1), [&] { index_put(rec); }); });
        seq = r.int64(0, 0);
    } catch (const pg::error& e) {
        if (e.sqlstate() == TOKENAUTH_PG_NO_SUCH_USER)
            throw storage_error(storage_error::kind::not_found, "no user with id " + std::to_string(user));
        if (e.sqlstate() != TOKENAUTH_PG_TOKEN_LIMIT) throw;
        throw storage_error(storage_error::kind::limit_reached,
                            "user already holds " + std::to_string(max_tokens_per_user) +
                                " access tokens; delete one before creating another");
    }
    return {new_token_row(token.id, seq, user, creator, now, f), secret_text(encode_access_token(token))};
}

std::optional<token_row> pg_store::get_token(const token_id& id) {
    std::lock_guard lock(db_mu_);
    const auto r = query("SELECT " PG_TOKEN_COLUMNS " FROM access_tokens WHERE id = $1", {id_param(id)});
    if (r.rows() == 0) return std::nullopt;
    return read_token(r, 0);
}

std::vector<token_row> pg_store::list_tokens(std::optional<std::uint64_t> user, std::int64_t after, std::size_t limit,
                                             bool& more) {
    std::lock_guard lock(db_mu_);
    std::vector<token_row> out;
    const pg::param lim = limit == 0 ? std::nullopt : pg::number(static_cast<std::int64_t>(limit + 1));
    const auto r = user ? query("SELECT " PG_TOKEN_COLUMNS " FROM access_tokens WHERE user_id = $1 AND seq > $2 "
                                "ORDER BY seq LIMIT $3",
                                {pg::number(*user), pg::number(after), lim})
                        : query("SELECT " PG_TOKEN_COLUMNS " FROM access_tokens WHERE seq > $1 ORDER BY seq LIMIT $2",
                                {pg::number(after), lim});
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_token(r, i));
    more = limit != 0 && out.size() > limit;
    if (more) out.resize(limit);
    return out;
}

/// A read-only REPEATABLE READ transaction on a connection of its own, read through a
/// server-side cursor a batch at a time: one snapshot however long the client takes.
class pg_store::cursor final : public token_cursor {
public:
    cursor(const pg_store& s, std::optional<std::uint64_t> user, std::int64_t after) : s_(s), c_(s.conninfo_) {
        c_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        if (user)
            c_.exec("DECLARE rows NO SCROLL CURSOR FOR SELECT " PG_TOKEN_COLUMNS
                    " FROM access_tokens WHERE user_id = $1 AND seq > $2 ORDER BY seq",
                    {pg::number(*user), pg::number(after)});
        else
            c_.exec("DECLARE rows NO SCROLL CURSOR FOR SELECT " PG_TOKEN_COLUMNS
                    " FROM access_tokens WHERE seq > $1 ORDER BY seq",
                    {pg::number(after)});
    }
    bool next(token_row& row) override {
        if (!batch_ || at_ == batch_->rows()) {
            if (done_) return false;
            batch_.reset();
            batch_.emplace(c_.exec("FETCH 1000 FROM rows"));
            at_ = 0;
            done_ = batch_->rows() < 1000;
            if (batch_->rows() == 0) return false;
        }
        row = s_.read_token(*batch_, at_++);
        return true;
    }

private:
    const pg_store& s_;
    pg::connection c_;  // closing it ends the transaction
    std::optional<pg::result> batch_;
    int at_ = 0;
    bool done_ = false;
};

std::unique_ptr<store_reader::token_cursor> pg_store::open_token_cursor(std::optional<std::uint64_t> user,
                                                                        std::int64_t after) {
    try {
        return std::make_unique<cursor>(*this, user, after);
    } catch (const pg::error& e) {
        if (e.connection_lost()) throw storage_error(storage_error::kind::unavailable, "the database cannot be reached; try again shortly");
        throw;
    }
}

std::optional<token_row> pg_store::modify_token(const token_id& id, const token_change& change) {
    // The row after the change and the change's sequence (NULL: no such token).
    // The bounds' entry before the write, so applying it after cannot fail.
    const std::optional<std::uint32_t> network =
        change.allowed_cidrs ? std::optional(network_of(*change.allowed_cidrs)) : std::nullopt;
    const std::vector<pg::param> params{id_param(id), pg::boolean(change.expiration.has_value()),
                                        pg::number(change.expiration ? *change.expiration : std::nullopt),
                                        change.enabled ? pg::boolean(*change.enabled) : std::nullopt,
                                        pg::boolean(change.name.has_value()), change.name ? *change.name : std::nullopt,
                                        pg::boolean(change.allowed_cidrs.has_value()),
                                        change.allowed_cidrs ? *change.allowed_cidrs : std::nullopt};
    std::optional<token_row> row;
    grouped_call("modify_token", "SELECT * FROM tokenauth_modify_token($1, $2, $3, $4, $5, $6, $7, $8)", params,
                 [&](const pg::result& r) {
                     if (r.null(0, 14)) return;
                     row = read_token(r, 0);
                     apply_own(*db_, r.int64(0, 14), [&] { apply_token_state(*row, network); });
                 });
    return row;
}

rotated_token pg_store::rotate_token(const token_id& predecessor, std::uint64_t creator, const token_rotation& r) {
    const access_token token = generate_access_token();
    const secret_hash hash = hash_access_token(token);
    tokens_.reserve_for(token.id);
    token_row row, retired;
    std::lock_guard lock(db_mu_);
    write_tokens([&](pg::connection& c) {
        const auto found = c.exec("SELECT " PG_TOKEN_COLUMNS " FROM access_tokens WHERE id = $1 FOR UPDATE",
                                  {id_param(predecessor)});
        if (found.rows() == 0)
            throw storage_error(storage_error::kind::not_found, "no access token with id " + to_string(predecessor));
        const token_row old = read_token(found, 0);
        if (old.rotated_to)
            throw storage_error(storage_error::kind::conflict, "access token " + to_string(predecessor) +
                                                                   " was already rotated; its successor is " +
                                                                   to_string(*old.rotated_to));
        const pg::param scope_text = old.privileges ? pg::text(privileges_to_text(*old.privileges)) : std::nullopt;
        row = successor_row(old, token.id, creator, r);
        row.seq = c.exec("INSERT INTO access_tokens (id, secret_hash, user_id, creator_id, creation_time, "
                         "expiration_time, enabled, privileges, name, family, allowed_cidrs) "
                         "VALUES ($1, $2, $3, $4, $5, $6, true, $7, $8, $9, $10) RETURNING seq",
                         {id_param(token.id), pg::bytes(hash.bytes, sizeof hash.bytes), pg::number(old.user),
                          pg::number(creator), pg::number(r.now), pg::number(r.expiration), scope_text, old.name,
                          id_param(old.family), old.allowed_cidrs})
                      .int64(0, 0);
        // tokens_held stays: one token in, one out.
        retired = retired_row(old, token.id, r);
        c.exec("UPDATE access_tokens SET rotated_to = $1, rotated_time = $2, enabled = $3, expiration_time = $4 "
               "WHERE id = $5",
               {id_param(token.id), pg::number(r.now), pg::boolean(retired.enabled),
                pg::number(retired.expiration_time), id_param(predecessor)});
        std::vector<token_id> changed{token.id, predecessor};
        const auto gone = c.exec("DELETE FROM access_tokens WHERE rotated_to IS NOT NULL AND rotated_time < $1 "
                                 "RETURNING id",
                                 {pg::number(tombstones_before(r.now))});
        for (int i = 0; i < gone.rows(); ++i) gone.bytes(i, 0, changed.emplace_back().bytes, 16, "an access token id");
        return changed;
    });
    return {{row, secret_text(encode_access_token(token))}, retired};
}

std::vector<token_id> pg_store::disable_family(const token_id& member) {
    std::vector<token_id> disabled;
    std::lock_guard lock(db_mu_);
    write_tokens([&](pg::connection& c) {
        const auto r = c.exec("UPDATE access_tokens SET enabled = false WHERE enabled AND coalesce(family, id) = "
                              "(SELECT coalesce(family, id) FROM access_tokens WHERE id = $1) RETURNING id",
                              {id_param(member)});
        for (int i = 0; i < r.rows(); ++i) r.bytes(i, 0, disabled.emplace_back().bytes, 16, "an access token id");
        return disabled;
    });
    return disabled;
}

std::vector<expiry_warning> pg_store::claim_expiry_warnings(timestamp now, const std::vector<std::int64_t>& thresholds) {
    std::vector<expiry_warning> claimed;
    if (thresholds.empty()) return claimed;
    const timestamp window = thresholds.back() * 1'000'000'000;
    std::lock_guard lock(db_mu_);
    const auto r = query("SELECT id, user_id, expiration_time, expiry_warned FROM access_tokens WHERE enabled "
                         "AND rotated_to IS NULL AND expiration_time > $1 AND expiration_time <= $2 "
                         "AND (expiry_warned IS NULL OR expiry_warned > 0)",
                         {pg::number(now - window), pg::number(now + window)});
    pg::connection& c = writer();
    for (int i = 0; i < r.rows(); ++i) {
        expiry_warning w;
        r.bytes(i, 0, w.id.bytes, sizeof w.id.bytes, "an access token id");
        w.user = static_cast<std::uint64_t>(r.int64(i, 1));
        w.expiration = r.int64(i, 2);
        if (!warning_due(w, now, r.opt_int64(i, 3), thresholds)) continue;
        // Another server may give the same warning at the same moment: whoever's write
        // changes the row gives it.
        if (c.exec("UPDATE access_tokens SET expiry_warned = $1 WHERE id = $2 AND (expiry_warned IS NULL OR "
                   "expiry_warned > $1)",
                   {pg::number(w.threshold), id_param(w.id)})
                .affected() == 1)
            claimed.push_back(w);
    }
    return claimed;
}

bool pg_store::delete_token(const token_id& id) {
    const std::vector<pg::param> params{id_param(id)};
    bool deleted = false;
    grouped_call("delete_token", "SELECT o_change FROM tokenauth_delete_token($1)", params, [&](const pg::result& r) {
        if (r.null(0, 0)) return;
        deleted = true;
        apply_own(*db_, r.int64(0, 0), [&] { index_erase(id); });
    });
    return deleted;
}

std::vector<token_id> pg_store::save_uses() {
    const pending_batch batch = take_pending();
    std::vector<token_id> first;
    if (batch.empty()) return first;
    std::lock_guard lock(db_mu_);
    pg::connection& c = begin();
    struct rollback_unless_done {
        pg::connection& c;
        bool done = false;
        ~rollback_unless_done() {
            if (done) return;
            try {
                if (c.ok()) c.exec("ROLLBACK");
            } catch (...) {
            }
        }
    } t{c};
    for (const auto& [id, when] : batch.uses) {
        if (c.exec("UPDATE access_tokens SET last_used_time = $1 WHERE id = $2 AND last_used_time IS NULL",
                   {pg::number(when), id_param(id)})
                .affected() == 1) {
            first.push_back(id);
            continue;
        }
        c.exec("UPDATE access_tokens SET last_used_time = greatest(last_used_time, $1) WHERE id = $2",
               {pg::number(when), id_param(id)});
    }
    // No change is logged: the other servers' legacy records still verify, and each
    // upgrades its own when the token reaches it.
    const pg::param current = pg::number(static_cast<std::int64_t>(current_hash_scheme));
    for (const auto& [id, hash] : batch.upgrades)
        c.exec("UPDATE access_tokens SET secret_hash = $1, hash_scheme = $2::smallint WHERE id = $3 AND hash_scheme <> $2::smallint",
               {pg::bytes(hash.bytes, sizeof hash.bytes), current, id_param(id)});
    c.exec("COMMIT");
    t.done = true;
    applied(batch);
    return first;
}

}  // namespace tokenauth::server
