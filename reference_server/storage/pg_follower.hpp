// The server's PostgreSQL follower: the library's tokenauth::postgres::follower (the code a
// replica in another process runs too), extended with what a server holds beyond the
// tokens. Tokens go to the server's index one change at a time; a change to a user, group or
// role reloads the directory once per read of the log (docs/postgresql.md); a snapshot loads
// the directory in the same transaction as the tokens. It also prunes the log. Internal to the
// PostgreSQL backend.
#pragma once

#include <tokenauth/postgres/follower.hpp>

#include <set>
#include <string>
#include <vector>

#include "../text.hpp"

#include "pg_store.hpp"

namespace tokenauth::server {

class pg_store::pg_follower final : public tokenauth::postgres::follower {
public:
    /// Loads the first snapshot and, with opts.follow, starts following. Throws.
    pg_follower(pg_store& s, const options& opts)
        : follower({s.conninfo_, opts.max_staleness, std::chrono::milliseconds(1000), std::chrono::milliseconds(250)}),
          s_(s) {
        start(opts.follow);
    }
    ~pg_follower() override { stop(); }
    pg_follower(const pg_follower&) = delete;
    pg_follower& operator=(const pg_follower&) = delete;

private:
    using token_row_view = tokenauth::postgres::token_row_view;
    using entity_kind = tokenauth::postgres::entity_kind;

    token_record record(const token_row_view& t) const {
        return s_.record_of(t.id, t.hash, t.scheme, t.user_auth_id, t.expiration, t.enabled,
                            t.privileges != nullptr ? std::optional<std::string>(t.privileges) : std::nullopt,
                            t.allowed_cidrs != nullptr ? std::optional<std::string>(t.allowed_cidrs) : std::nullopt);
    }
    std::shared_ptr<directory> read_directory(PGconn* c) const {
        pg::connection borrowed(c, pg::connection::borrowed{});
        return s_.load_directory(borrowed);
    }

    void snapshot_begin(PGconn* c) override { directory_ = read_directory(c); }
    void snapshot_token(const token_row_view& t) override {
        if (first_)
            s_.index_load(record(t));  // straight into the empty index
        else
            rows_.push_back(record(t));
    }
    void snapshot_end(std::int64_t seq) override {
        s_.publish_directory(std::move(directory_));
        if (first_) {
            s_.index_loaded();
            first_ = false;
            return;
        }
        s_.index_replace(rows_);
        std::vector<token_record>().swap(rows_);
        if (s_.on_snapshot_) s_.on_snapshot_(seq);
    }
    void token_changed(const token_row_view& t) override { s_.index_put(record(t)); }
    void token_deleted(const token_id& id) override { s_.index_erase(id); }
    void entity_changed(PGconn*, entity_kind kind, const char* entity) override {
        if (kind == entity_kind::directory || entity == nullptr) {
            reload_all_ = true;
            return;
        }
        if (kind == entity_kind::role || kind == entity_kind::role_members) {
            roles_.insert(entity);
            return;
        }
        const auto id = text::parse_decimal(entity, UINT64_MAX);
        if (!id) {
            reload_all_ = true;  // not an id this server writes: read everything again
            return;
        }
        (kind == entity_kind::group_members ? member_lists_ : principals_).insert(*id);
    }
    void batch_end(PGconn* c) override {
        if (!reload_all_ && principals_.empty() && member_lists_.empty() && roles_.empty()) return;
        if (reload_all_) {
            s_.publish_directory(read_directory(c));
        } else {
            pg::connection borrowed(c, pg::connection::borrowed{});
            std::shared_ptr<directory> next = s_.next_directory();
            for (const std::uint64_t id : principals_) s_.reload_principal(borrowed, *next, id);
            for (const std::uint64_t group : member_lists_) s_.reload_group_members(borrowed, *next, group);
            for (const std::string& name : roles_) s_.reload_role(borrowed, *next, name);
            s_.publish_directory(std::move(next));
        }
        reload_all_ = false;
        principals_.clear();
        member_lists_.clear();
        roles_.clear();
    }
    void maintain(PGconn* c) override {
        // Every server prunes the log it follows (deleting is idempotent; the mark only grows).
        const auto now = std::chrono::steady_clock::now();
        if (now < next_prune_) return;
        pg::connection borrowed(c, pg::connection::borrowed{});
        s_.prune(borrowed);
        next_prune_ = now + std::chrono::seconds(2);
    }
    void on_error(const std::string& what) override {
        if (s_.on_follow_error_) s_.on_follow_error_(what);
    }

    pg_store& s_;
    bool first_ = true;                      // the first snapshot: the index is empty
    // What the read of the log being applied changed besides tokens.
    bool reload_all_ = false;
    std::set<std::uint64_t> principals_, member_lists_;
    std::set<std::string> roles_;
    std::shared_ptr<directory> directory_;   // a snapshot's, while it loads
    std::vector<token_record> rows_;         // a later snapshot's tokens, while it loads
    std::chrono::steady_clock::time_point next_prune_{};
};

}  // namespace tokenauth::server
