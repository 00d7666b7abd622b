// The PostgreSQL backend (see pg_state.hpp for the design).
#include "pg_state.hpp"

#include <poll.h>
#include <tokenauth/postgres/replica.hpp>

#include "../names.hpp"
#include "../text.hpp"
#include "name_keys.hpp"
#include "privileges_text.hpp"
#include "state.hpp"

namespace tokenauth::server {

namespace {

// The writers' lock is also named inside the token functions of migration v2, so its
// number is spelled once, here, for both.
#define TOKENAUTH_PG_WRITER_LOCK 128021892001378  // 0x746f6b656e62, "tokenb"
#define TOKENAUTH_PG_STR2(x) #x
#define TOKENAUTH_PG_STR(x) TOKENAUTH_PG_STR2(x)
constexpr std::int64_t migration_lock = 0x746f6b656e61;  // "tokena": migrations and seeding
constexpr std::int64_t writer_lock = TOKENAUTH_PG_WRITER_LOCK;  // every write: commit order = change order
#define TOKENAUTH_PG_CHANNEL "tokenauth_changes"
constexpr const char* channel = TOKENAUTH_PG_CHANNEL;
// SQLSTATEs the token functions raise (class "TA": ours).
#define TOKENAUTH_PG_NO_SUCH_USER "TA404"
#define TOKENAUTH_PG_TOKEN_LIMIT "TA409"
// Sets every user's token count from its tokens (migration v2, and after --migrate-from).
#define TOKENAUTH_PG_RECOUNT_TOKENS \
    "UPDATE principals p SET tokens_held = (SELECT count(*) FROM access_tokens t WHERE t.user_id = p.auth_id)"

const char* const migrations[] = {
    // v1: the SQLite schema's v3, in PostgreSQL's types, plus the change log.
    R"sql(
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE principals (
        auth_id         BIGINT  PRIMARY KEY,
        kind            TEXT    NOT NULL CHECK (kind IN ('user', 'group')),
        name            TEXT    NOT NULL,
        primary_group   BIGINT,
        uid             TEXT    NOT NULL DEFAULT '',
        home_directory  TEXT,
        password_hash   TEXT,
        generation      BIGINT  NOT NULL DEFAULT 0,
        gid             TEXT    NOT NULL DEFAULT '',
        session_binding BYTEA
    );
    CREATE UNIQUE INDEX principals_name ON principals (lower(name));
    CREATE TABLE group_members (
        group_id  BIGINT NOT NULL REFERENCES principals(auth_id) ON DELETE CASCADE,
        member_id BIGINT NOT NULL REFERENCES principals(auth_id) ON DELETE CASCADE,
        PRIMARY KEY (group_id, member_id)
    );
    CREATE TABLE roles (name TEXT PRIMARY KEY, description TEXT NOT NULL, privileges TEXT NOT NULL);
    CREATE UNIQUE INDEX roles_name ON roles (lower(name));
    CREATE TABLE role_members (
        role    TEXT   NOT NULL REFERENCES roles(name) ON DELETE CASCADE ON UPDATE CASCADE,
        auth_id BIGINT NOT NULL REFERENCES principals(auth_id) ON DELETE CASCADE,
        PRIMARY KEY (role, auth_id)
    );
    CREATE TABLE access_tokens (
        seq             BIGSERIAL PRIMARY KEY,
        id              BYTEA   NOT NULL UNIQUE,
        secret_hash     BYTEA   NOT NULL,
        user_id         BIGINT  NOT NULL REFERENCES principals(auth_id) ON DELETE CASCADE,
        creator_id      BIGINT  NOT NULL,
        creation_time   BIGINT  NOT NULL,
        expiration_time BIGINT,
        enabled         BOOLEAN NOT NULL,
        privileges      TEXT,
        last_used_time  BIGINT
    );
    CREATE INDEX access_tokens_by_user ON access_tokens(user_id, seq);
    CREATE TABLE changes (seq BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, token_id BYTEA);
    )sql",
    // v2: the token writes as functions, so each is one statement and one round trip (its
    // own transaction: lock, checks, row, change log, NOTIFY, commit). Each takes the
    // writers' lock first, as every other write does. A user's token count is kept on its
    // row: counting the user's tokens would walk every index entry that churn left dead
    // until vacuum (measured: create + delete pairs fell from 1,290 to 770/s within 15 s).
    "ALTER TABLE principals ADD COLUMN tokens_held BIGINT NOT NULL DEFAULT 0;\n"
    TOKENAUTH_PG_RECOUNT_TOKENS ";\n"
    "CREATE FUNCTION tokenauth_create_token(p_id BYTEA, p_hash BYTEA, p_user BIGINT, p_creator BIGINT, p_now BIGINT,\n"
    "    p_expiration BIGINT, p_privileges TEXT, p_max_tokens BIGINT, OUT o_seq BIGINT, OUT o_change BIGINT)\n"
    "LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "    PERFORM pg_advisory_xact_lock(" TOKENAUTH_PG_STR(TOKENAUTH_PG_WRITER_LOCK) ");\n"
    "    UPDATE principals SET tokens_held = tokens_held + 1\n"
    "        WHERE auth_id = p_user AND kind = 'user' AND tokens_held < p_max_tokens;\n"
    "    IF NOT FOUND THEN\n"
    "        IF NOT EXISTS (SELECT 1 FROM principals WHERE auth_id = p_user AND kind = 'user') THEN\n"
    "            RAISE EXCEPTION 'no such user' USING ERRCODE = '" TOKENAUTH_PG_NO_SUCH_USER "';\n"
    "        END IF;\n"
    "        RAISE EXCEPTION 'token limit reached' USING ERRCODE = '" TOKENAUTH_PG_TOKEN_LIMIT "';\n"
    "    END IF;\n"
    "    INSERT INTO access_tokens (id, secret_hash, user_id, creator_id, creation_time, expiration_time, enabled,\n"
    "        privileges) VALUES (p_id, p_hash, p_user, p_creator, p_now, p_expiration, true, p_privileges)\n"
    "        RETURNING seq INTO o_seq;\n"
    "    INSERT INTO changes (kind, token_id) VALUES ('token', p_id) RETURNING seq INTO o_change;\n"
    "    PERFORM pg_notify('" TOKENAUTH_PG_CHANNEL "', o_change::text);\n"
    "END $$;\n"
    // The row after the change (o_change NULL and no change logged when there is none).
    "CREATE FUNCTION tokenauth_modify_token(p_id BYTEA, p_set_expiration BOOLEAN, p_expiration BIGINT,\n"
    "    p_enabled BOOLEAN, OUT o_id BYTEA, OUT o_seq BIGINT, OUT o_user BIGINT, OUT o_creator BIGINT,\n"
    "    OUT o_creation BIGINT, OUT o_expiration BIGINT, OUT o_enabled BOOLEAN, OUT o_privileges TEXT,\n"
    "    OUT o_last_used BIGINT, OUT o_change BIGINT)\n"
    "LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "    PERFORM pg_advisory_xact_lock(" TOKENAUTH_PG_STR(TOKENAUTH_PG_WRITER_LOCK) ");\n"
    "    UPDATE access_tokens SET\n"
    "        expiration_time = CASE WHEN p_set_expiration THEN p_expiration ELSE expiration_time END,\n"
    "        enabled = coalesce(p_enabled, enabled)\n"
    "        WHERE id = p_id\n"
    "        RETURNING id, seq, user_id, creator_id, creation_time, expiration_time, enabled, privileges,\n"
    "            last_used_time\n"
    "        INTO o_id, o_seq, o_user, o_creator, o_creation, o_expiration, o_enabled, o_privileges, o_last_used;\n"
    "    IF FOUND THEN\n"
    "        INSERT INTO changes (kind, token_id) VALUES ('token', p_id) RETURNING seq INTO o_change;\n"
    "        PERFORM pg_notify('" TOKENAUTH_PG_CHANNEL "', o_change::text);\n"
    "    END IF;\n"
    "END $$;\n"
    "CREATE FUNCTION tokenauth_delete_token(p_id BYTEA, OUT o_change BIGINT)\n"
    "LANGUAGE plpgsql AS $$\n"
    "DECLARE owner BIGINT;\n"
    "BEGIN\n"
    "    PERFORM pg_advisory_xact_lock(" TOKENAUTH_PG_STR(TOKENAUTH_PG_WRITER_LOCK) ");\n"
    "    DELETE FROM access_tokens WHERE id = p_id RETURNING user_id INTO owner;\n"
    "    IF FOUND THEN\n"
    "        UPDATE principals SET tokens_held = tokens_held - 1 WHERE auth_id = owner;\n"
    "        INSERT INTO changes (kind, token_id) VALUES ('token', p_id) RETURNING seq INTO o_change;\n"
    "        PERFORM pg_notify('" TOKENAUTH_PG_CHANNEL "', o_change::text);\n"
    "    END IF;\n"
    "END $$;\n",
    // v3: how each secret hash was computed (tokenauth::hash_scheme): the rows before are
    // BLAKE2b (1); rows written from now on, by tokenauth_create_token too, SHA-256 (2). A
    // BLAKE2b row is rewritten the first time its token validates.
    R"sql(
    ALTER TABLE access_tokens ADD COLUMN hash_scheme SMALLINT NOT NULL DEFAULT 1;
    ALTER TABLE access_tokens ALTER COLUMN hash_scheme SET DEFAULT 2;
    )sql",
    // v4: each name's uniqueness key (names.hpp: NFKC_Casefold), filled in by add_name_keys
    // below, then unique; it replaces the lower(name) indexes.
    R"sql(
    ALTER TABLE principals ADD COLUMN name_key TEXT;
    ALTER TABLE roles ADD COLUMN name_key TEXT;
    DROP INDEX principals_name;
    DROP INDEX roles_name;
    )sql",
    // v5: the change log names the entity of every change: kind is one of change_kinds (below)
    // and entity_id its id (a token's in token_id); rows logged before say 'directory' with
    // no entity. meta.pruned_through is the highest seq pruned from the log: a follower
    // behind it must load a snapshot (seq has gaps, so min(seq) cannot tell).
    R"sql(
    ALTER TABLE changes ADD COLUMN entity_id TEXT;
    INSERT INTO meta (key, value) VALUES ('pruned_through', '0');
    )sql",
    // v6: what a replica (include/tokenauth/postgres/replica.hpp) reads, as views without
    // password hashes or session bindings, granted to the role tokenauth_replica. The role
    // is created when this server's database user may create roles; otherwise an
    // administrator creates it (docs/postgresql.md) and the grants are made at the next
    // start. Either way it cannot log in until an administrator allows it.
    R"sql(
    CREATE VIEW tokenauth_replica_tokens AS
        SELECT id, secret_hash, hash_scheme, user_id, expiration_time, enabled, privileges FROM access_tokens;
    CREATE VIEW tokenauth_replica_changes AS SELECT seq, kind, token_id, entity_id FROM changes;
    CREATE VIEW tokenauth_replica_state AS
        SELECT (SELECT max(version) FROM schema_version) AS schema_version,
               (SELECT value::bigint FROM meta WHERE key = 'pruned_through') AS pruned_through;
    CREATE VIEW tokenauth_replica_users AS SELECT auth_id, name FROM principals WHERE kind = 'user';
    CREATE VIEW tokenauth_replica_sessions AS
        SELECT auth_id, generation, session_binding FROM principals WHERE kind = 'user';
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tokenauth_replica')
           AND (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
            CREATE ROLE tokenauth_replica NOLOGIN;
        END IF;
    END $$;
    )sql",
};

static_assert(std::size(migrations) == tokenauth::postgres::known_schema_version,
              "a schema change must be known to the replica (include/tokenauth/postgres/replica.hpp)");

/// Every start: the replica role (when it exists) may read the replica views and nothing else
/// of this database.
constexpr const char* grant_replica_views = R"sql(
    DO $$
    BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tokenauth_replica') THEN
            GRANT SELECT ON tokenauth_replica_tokens, tokenauth_replica_changes, tokenauth_replica_state,
                tokenauth_replica_users, tokenauth_replica_sessions TO tokenauth_replica;
        END IF;
    END $$;
)sql";

/// The kinds of change this server knows, as the change log spells them. A follower that
/// meets another kind (a newer server's) stops there and fails closed rather than skip it.
enum class change_kind { token, directory, user, group, group_members, role, role_members };
constexpr std::pair<change_kind, std::string_view> change_kinds[] = {
    {change_kind::token, "token"},         {change_kind::directory, "directory"},
    {change_kind::user, "user"},           {change_kind::group, "group"},
    {change_kind::group_members, "group_members"}, {change_kind::role, "role"},
    {change_kind::role_members, "role_members"},
};

std::optional<change_kind> parse_change_kind(std::string_view text) {
    for (const auto& [k, name] : change_kinds)
        if (name == text) return k;
    return std::nullopt;
}
constexpr std::int64_t name_keys_version = 4;

/// Migration v4's second half: keys computed here, oldest row first, then the indexes.
void add_name_keys(pg::connection& c) {
    for (const auto& [table, id, order] : {std::tuple{"principals", "auth_id", "auth_id"}, std::tuple{"roles", "name", "ctid"}}) {
        const auto r = c.exec(std::string("SELECT ") + id + "::text, name FROM " + table + " ORDER BY " + order);
        std::vector<std::string> names;
        for (int i = 0; i < r.rows(); ++i) names.push_back(r.str(i, 1));
        const auto keys = assign_name_keys(names);
        const std::string update = std::string("UPDATE ") + table + " SET name_key = $1 WHERE " + id + "::text = $2";
        for (int i = 0; i < r.rows(); ++i) c.exec(update, {keys[static_cast<std::size_t>(i)], pg::text(r.str(i, 0))});
    }
    c.exec_script("CREATE UNIQUE INDEX principals_name_key ON principals (name_key);"
                  "CREATE UNIQUE INDEX roles_name_key ON roles (name_key);");
}
static_assert(static_cast<int>(current_hash_scheme) == 2, "migration v3 makes 2 the scheme of new rows");

#define PG_TOKEN_COLUMNS "id, seq, user_id, creator_id, creation_time, expiration_time, enabled, privileges, last_used_time"

std::int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

pg::param id_param(const token_id& id) { return pg::bytes(id.bytes, sizeof id.bytes); }

std::uint64_t next_auth_id(pg::connection& c) {
    const auto r = c.exec("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'next_auth_id' "
                          "RETURNING value::bigint - 1");
    if (r.rows() != 1) throw std::runtime_error("database has no auth id counter");
    return static_cast<std::uint64_t>(r.int64(0, 0));
}

// A rename takes the new name's key; an unchanged name keeps the key it has. $1: the name,
// $2: its key.
#define PG_SET_NAME_AND_KEY "name_key = CASE WHEN name = $1 THEN name_key ELSE $2 END, name = $1"
std::string name_taken(const std::string& name) { return "a user or group named '" + name + "' already exists"; }
std::string role_taken(const std::string& name) { return "a role named '" + name + "' already exists"; }

}  // namespace

pg_state::pg_state(const options& opts)
    : conninfo_(opts.conninfo), max_staleness_(opts.max_staleness), on_follow_error_(opts.on_follow_error) {
    ensure_sodium_init();
    if (opts.session_key_file.empty())
        throw std::runtime_error("a PostgreSQL database needs --session-key-file: every server shares one key file");
    if (!read_session_key_file(opts.session_key_file, key_)) {
        key_ = session_key::generate();
        write_session_key_file(opts.session_key_file, key_);
    }
    db_ = std::make_unique<pg::connection>(conninfo_);
    migrate(*db_);
    seed(*db_, opts);
    {
        std::lock_guard lock(apply_mu_);
        // The sequence first: changes after it are applied on top of what is loaded now.
        const auto r = db_->exec("SELECT coalesce(max(seq), 0) FROM changes");
        applied_seq_ = r.int64(0, 0);
        publish_directory(load_directory(*db_));
        load_tokens(*db_);
        synced_at_.store(steady_ns(), std::memory_order_release);
    }
    if (opts.follow) follower_ = std::thread([this] { follow(); });
}

pg_state::~pg_state() {
    {
        std::lock_guard lock(stop_mu_);
        stop_ = true;
    }
    stop_cv_.notify_all();
    if (follower_.joinable()) follower_.join();
}

bool pg_state::stale() const noexcept {
    return steady_ns() - synced_at_.load(std::memory_order_acquire) >
           std::chrono::duration_cast<std::chrono::nanoseconds>(max_staleness_).count();
}

const char* pg_state::not_ready() const noexcept {
    if (!stale()) return nullptr;
    return unreachable_.load(std::memory_order_acquire) ? "storage_unreachable" : "stale";
}

std::optional<published_store::follower_status> pg_state::follower() const noexcept {
    follower_status f;
    f.lag_seconds = static_cast<double>(steady_ns() - synced_at_.load(std::memory_order_acquire)) / 1e9;
    f.last_changes = static_cast<std::uint64_t>(last_changes_.load(std::memory_order_relaxed));
    return f;
}

void pg_state::migrate(pg::connection& c) {
    c.exec("SELECT pg_advisory_lock($1)", {pg::number(migration_lock)});
    try {
        c.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        auto r = c.exec("SELECT version FROM schema_version");
        std::int64_t version = r.rows() == 0 ? 0 : r.int64(0, 0);
        const auto latest = static_cast<std::int64_t>(std::size(migrations));
        if (version > latest) throw std::runtime_error("database schema is newer than this server");
        for (; version < latest; ++version) {
            pg::transaction t(c);
            c.exec_script(migrations[version]);
            if (version + 1 == name_keys_version) add_name_keys(c);
            c.exec("DELETE FROM schema_version");
            c.exec("INSERT INTO schema_version VALUES ($1)", {pg::number(version + 1)});
            t.commit();
        }
        c.exec_script(grant_replica_views);
    } catch (...) {
        c.exec("SELECT pg_advisory_unlock($1)", {pg::number(migration_lock)});
        throw;
    }
    c.exec("SELECT pg_advisory_unlock($1)", {pg::number(migration_lock)});
}

void pg_state::seed(pg::connection& c, const options& opts) {
    c.exec("SELECT pg_advisory_lock($1)", {pg::number(migration_lock)});
    struct unlock {
        pg::connection& c;
        ~unlock() {
            try {
                c.exec("SELECT pg_advisory_unlock($1)", {pg::number(migration_lock)});
            } catch (...) {
            }
        }
    } guard{c};
    if (c.exec("SELECT 1 FROM meta WHERE key = 'seeded'").rows() != 0) return;
    const first_start f = prepare_first_start(opts.admin_password);
    generated_admin_password = f.generated_password;
    pg::transaction t(c);
    c.exec("INSERT INTO meta (key, value) VALUES ('machine_sid', $1), ('next_auth_id', '1001')", {pg::text(f.machine_sid)});
    const char* add_group = "INSERT INTO principals (auth_id, kind, name, name_key) VALUES ($1, 'group', $2, $3)";
    c.exec(add_group, {pg::number(users_group_id), pg::text("Users"), names::key("Users")});
    c.exec(add_group, {pg::number(guests_group_id), pg::text("Guests"), names::key("Guests")});
    const char* add_user = "INSERT INTO principals (auth_id, kind, name, primary_group, password_hash, session_binding, "
                           "name_key) VALUES ($1, 'user', $2, $3, $4, $5, $6)";
    c.exec(add_user, {pg::number(admin_auth_id), pg::text("admin"), pg::number(users_group_id), pg::text(f.admin_hash),
                      pg::bytes(f.admin_binding.bytes, sizeof f.admin_binding.bytes), names::key("admin")});
    c.exec(add_user, {pg::number(guest_auth_id), pg::text("guest"), pg::number(guests_group_id), std::nullopt,
                      pg::bytes(f.guest_binding.bytes, sizeof f.guest_binding.bytes), names::key("guest")});
    const char* add_role = "INSERT INTO roles (name, description, privileges, name_key) VALUES ($1, $2, $3, $4)";
    c.exec(add_role, {pg::text("Administrators"), pg::text("Can manage every part of the system"),
                      pg::text(privileges_to_text(privilege_set::all())), names::key("Administrators")});
    c.exec(add_role, {pg::text("Observers"), pg::text("Can read every part of the system but change nothing"),
                      pg::text(privileges_to_text(read_privileges())), names::key("Observers")});
    c.exec("INSERT INTO role_members (role, auth_id) VALUES ('Administrators', $1)", {pg::number(admin_auth_id)});
    c.exec("INSERT INTO meta (key, value) VALUES ('seeded', '1')");
    t.commit();
}

std::shared_ptr<directory> pg_state::load_directory(pg::connection& c) {
    auto d = std::make_shared<directory>();
    if (const auto r = c.exec("SELECT value FROM meta WHERE key = 'machine_sid'"); r.rows() == 1) d->machine_sid = r.str(0, 0);
    const auto p = c.exec("SELECT auth_id, kind, name, primary_group, uid, home_directory, password_hash, generation, gid, "
                          "session_binding, name_key FROM principals");
    for (int i = 0; i < p.rows(); ++i) {
        const auto id = static_cast<std::uint64_t>(p.int64(i, 0));
        index_name(*d, id, p.str(i, 2), p.opt_str(i, 10));
        if (p.str(i, 1) == "user") {
            user_row u;
            u.auth_id = id;
            u.name = p.str(i, 2);
            u.primary_group = static_cast<std::uint64_t>(p.int64(i, 3));
            u.uid = p.str(i, 4);
            u.home_directory = p.opt_str(i, 5);
            u.password_hash = p.opt_str(i, 6);
            u.generation = static_cast<std::uint64_t>(p.int64(i, 7));
            p.bytes(i, 9, u.binding.bytes, sizeof u.binding.bytes, "a user's session binding");
            d->users.emplace(id, std::move(u));
        } else {
            d->groups.emplace(id, group_row{id, p.str(i, 2), p.str(i, 8)});
        }
    }
    const auto m = c.exec("SELECT group_id, member_id FROM group_members ORDER BY group_id, member_id");
    for (int i = 0; i < m.rows(); ++i)
        d->group_members[static_cast<std::uint64_t>(m.int64(i, 0))].push_back(static_cast<std::uint64_t>(m.int64(i, 1)));
    const auto r = c.exec("SELECT name, description, privileges, name_key FROM roles ORDER BY lower(name)");
    std::map<std::string, std::optional<std::string>> role_keys;
    for (int i = 0; i < r.rows(); ++i) {
        d->roles.push_back({r.str(i, 0), r.str(i, 1), privileges_from_text(r.str(i, 2)), {}});
        role_keys.emplace(r.str(i, 0), r.opt_str(i, 3));
    }
    index_role_names(*d, role_keys);
    const auto rm = c.exec("SELECT role, auth_id FROM role_members");
    for (int i = 0; i < rm.rows(); ++i)
        for (auto& role : d->roles)
            if (role.name == rm.str(i, 0)) role.add_member(static_cast<std::uint64_t>(rm.int64(i, 1)));
    return d;
}

void pg_state::load_tokens(pg::connection& c) {
    const auto r =
        c.exec("SELECT id, secret_hash, user_id, expiration_time, enabled, privileges, hash_scheme FROM access_tokens");
    for (int i = 0; i < r.rows(); ++i) {
        token_id id;
        secret_hash hash;
        r.bytes(i, 0, id.bytes, sizeof id.bytes, "an access token id");
        r.bytes(i, 1, hash.bytes, sizeof hash.bytes, "an access token hash");
        index_load(record_of(id, hash, scheme_of(r.int64(i, 6)), static_cast<std::uint64_t>(r.int64(i, 2)),
                                 r.opt_int64(i, 3), r.boolean(i, 4), r.opt_str(i, 5)));
    }
    index_loaded();
}

pg::result pg_state::read_changes(pg::connection& c, std::int64_t after) {
    // Each change with its token's current row (none when deleted), in one round trip.
    return c.exec_prepared("read_changes",
                           "SELECT c.seq, c.kind, c.token_id, t.secret_hash, t.user_id, t.expiration_time, t.enabled, "
                           "t.privileges, t.hash_scheme FROM changes c LEFT JOIN access_tokens t ON t.id = c.token_id "
                           "WHERE c.seq > $1 ORDER BY c.seq",
                           {pg::number(after)});
}

void pg_state::catch_up(pg::connection& c) {
    // The round trip outside the lock, so this server's own writes can apply themselves
    // meanwhile; rows they applied are skipped below, and every later row was read after
    // their commits (a change is logged only once every earlier one has committed or
    // rolled back: the writers' lock).
    const pg::result r = read_changes(c, applied_seq_.load(std::memory_order_acquire));
    std::lock_guard lock(apply_mu_);
    apply_changes(c, r);
}

void pg_state::refresh() {
    std::lock_guard lock(db_mu_);
    for (int attempt = 0;; ++attempt) {
        pg::connection& c = writer();
        try {
            catch_up(c);
            break;
        } catch (const pg::error& e) {
            if (!e.connection_lost() && c.ok()) throw;
            db_.reset();
            if (attempt == 1) throw storage_error(storage_error::kind::unavailable, "the database cannot be reached; try again shortly");
        }
    }
}

void pg_state::catch_up_locked(pg::connection& c) { apply_changes(c, read_changes(c, applied_seq_)); }

template <class Apply>
void pg_state::apply_own(pg::connection& c, std::int64_t change_seq, Apply&& apply) {
    std::lock_guard lock(apply_mu_);
    if (change_seq == applied_seq_ + 1) {
        // Nothing else was written since what this server last applied: its own change is
        // the next, and it knows what it wrote, so it applies that without reading it back.
        apply();
        applied_seq_ = change_seq;
        synced_at_.store(steady_ns(), std::memory_order_release);
    } else if (change_seq > applied_seq_) {
        catch_up_locked(c);  // another server wrote meanwhile: read everything, in order
    }  // else the follower has applied it already
}

void pg_state::apply_changes(pg::connection& c, const pg::result& r) {
    bool directory_changed = false;
    std::int64_t applied = 0;
    for (int i = 0; i < r.rows(); ++i) {
        if (r.int64(i, 0) <= applied_seq_) continue;  // applied by its own writer meanwhile
        ++applied;
        const auto kind = parse_change_kind(r.str(i, 1));
        if (!kind) {
            // A newer server's kind of change: skipping it could keep a removed user's access,
            // so this server stops here; with nothing applied it turns stale (503) until it is
            // upgraded.
            if (directory_changed) publish_directory(load_directory(c));
            throw std::runtime_error("the change log holds a change of kind '" + r.str(i, 1).substr(0, 32) +
                                     "', which this server does not know: upgrade it");
        }
        if (*kind != change_kind::token) {
            directory_changed = true;  // (the directory is reloaded whole: see docs/postgresql.md)
        } else if (!r.null(i, 2)) {
            token_id id;
            r.bytes(i, 2, id.bytes, sizeof id.bytes, "a change's token id");
            if (r.null(i, 3)) {
                index_erase(id);
            } else {
                secret_hash hash;
                r.bytes(i, 3, hash.bytes, sizeof hash.bytes, "an access token hash");
                index_put(record_of(id, hash, scheme_of(r.int64(i, 8)), static_cast<std::uint64_t>(r.int64(i, 4)),
                                         r.opt_int64(i, 5), r.boolean(i, 6), r.opt_str(i, 7)));
            }
        }
        applied_seq_ = r.int64(i, 0);
    }
    // (A deleted user's tokens have change rows of their own: delete_user writes them.)
    if (directory_changed) publish_directory(load_directory(c));
    last_changes_.store(applied, std::memory_order_relaxed);
    synced_at_.store(steady_ns(), std::memory_order_release);
}

void pg_state::follow() {
    std::unique_ptr<pg::connection> c;
    bool read_log = true;
    std::string last_error;  // reported once until another one, or a success, comes
    for (;;) {
        {
            std::unique_lock lock(stop_mu_);
            if (stop_) return;
        }
        try {
            if (!c || !c->ok()) {
                c.reset();
                c = std::make_unique<pg::connection>(conninfo_);
                c->exec(std::string("LISTEN ") + channel);
                read_log = true;
            }
            // At once after (re)connecting, then on news of a change not yet applied, or
            // after a second without news (a lost notification costs at most that).
            if (read_log) catch_up(*c);
            last_error.clear();
            unreachable_.store(false, std::memory_order_release);
            read_log = true;
            pollfd p{PQsocket(c->raw()), POLLIN, 0};
            // A second at most, and well within --max-staleness, so that a quiet database never
            // makes a healthy server look stale.
            const auto wait = std::min<std::int64_t>(1000, std::max<std::int64_t>(10, max_staleness_.count() / 4));
            if (::poll(&p, 1, static_cast<int>(wait)) > 0) {
                if (PQconsumeInput(c->raw()) == 0) {
                    c.reset();
                    continue;
                }
                // Each notification names its change: those this server applied already
                // (its own writes) need no read, only the proof that the database is there.
                read_log = false;
                while (PGnotify* n = PQnotifies(c->raw())) {
                    const std::int64_t seq = std::atoll(n->extra);
                    if (seq <= 0 || seq > applied_seq_.load(std::memory_order_acquire)) read_log = true;
                    PQfreemem(n);
                }
                if (!read_log) {
                    synced_at_.store(steady_ns(), std::memory_order_release);
                } else {
                    // Under a burst of writes, one read a millisecond serves the changes that
                    // arrive meanwhile (a revocation waits that much longer, at most); a
                    // stop ends the wait at once.
                    std::unique_lock lock(stop_mu_);
                    stop_cv_.wait_for(lock, std::chrono::milliseconds(1), [this] { return stop_; });
                }
            }
        } catch (const std::exception& e) {
            // Not reached (no connection, or one that broke) or reached and refused to go on.
            unreachable_.store(!c || !c->ok(), std::memory_order_release);
            if (on_follow_error_ && last_error != e.what()) on_follow_error_(e.what());
            last_error = e.what();
            c.reset();
            std::unique_lock lock(stop_mu_);
            stop_cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stop_; });
        }
    }
}

pg::connection& pg_state::writer() {
    if (!db_ || !db_->alive()) {
        try {
            db_ = std::make_unique<pg::connection>(conninfo_);
        } catch (const pg::error&) {
            throw storage_error(storage_error::kind::unavailable, "the database cannot be reached; try again shortly");
        }
    }
    return *db_;
}

pg::connection& pg_state::begin() {
    // A connection the database closed (a restart) is only noticed when used: BEGIN changes
    // nothing, so it is safe to reconnect and try once more.
    for (int attempt = 0;; ++attempt) {
        pg::connection& c = writer();
        try {
            // One round trip: the transaction and the writers' lock (commit order = change order).
            c.exec_script("BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(writer_lock) + ")");
            return c;
        } catch (const pg::error& e) {
            if (!e.connection_lost() && c.ok()) throw;
            db_.reset();
            if (attempt == 1) throw storage_error(storage_error::kind::unavailable, "the database cannot be reached; try again shortly");
        }
    }
}

pg::result pg_state::query(const std::string& sql, const std::vector<pg::param>& params) {
    for (int attempt = 0;; ++attempt) {
        pg::connection& c = writer();
        try {
            return c.exec(sql, params);
        } catch (const pg::error& e) {
            if (!e.connection_lost() && c.ok()) throw;
            db_.reset();
            if (attempt == 1) throw storage_error(storage_error::kind::unavailable, "the database cannot be reached; try again shortly");
        }
    }
}

pg::result pg_state::call(const char* name, const char* sql, const std::vector<pg::param>& params) {
    // writer() has just seen the connection alive, so a failure from here on happened with
    // the statement on its way: its outcome is unknown and it is not retried (503).
    pg::connection& c = writer();
    try {
        return c.exec_prepared(name, sql, params);
    } catch (const pg::error& e) {
        if (e.sqlstate() == TOKENAUTH_PG_NO_SUCH_USER || e.sqlstate() == TOKENAUTH_PG_TOKEN_LIMIT) throw;
        translate_failure("");
    }
}

template <class F>
void pg_state::write(F&& body, const logged_change& entity, const std::string& conflict_message) {
    std::lock_guard lock(db_mu_);
    pg::connection& c = begin();
    try {
        body(c);
        // After body: it may have chosen the entity's id (a new user's auth id).
        c.exec("WITH logged AS (INSERT INTO changes (kind, entity_id) VALUES ($1, $2) RETURNING seq) "
               "SELECT pg_notify($3, seq::text) FROM logged",
               {pg::text(entity.kind), pg::text(entity.id), pg::text(channel)});
        c.exec("COMMIT");
    } catch (...) {
        try {
            if (c.ok()) c.exec("ROLLBACK");
        } catch (...) {
        }
        translate_failure(conflict_message);
    }
    catch_up(c);  // this write and any other server's before it, so the caller reads its own write
}

void pg_state::translate_failure(const std::string& conflict_message) {
    try {
        throw;
    } catch (const pg::error& e) {
        if (e.unique_violation() && !conflict_message.empty())
            throw storage_error(storage_error::kind::conflict, conflict_message);
        if (e.foreign_key_violation())
            throw storage_error(storage_error::kind::not_found, "the user, group or role named in the request no longer exists");
        if (e.connection_lost())
            throw storage_error(storage_error::kind::unavailable, "the database cannot be reached; try again shortly");
        throw;
    }
}

token_row pg_state::read_token(const pg::result& r, int i) const {
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
    return t;
}

// --- access tokens ---

std::pair<token_row, std::string> pg_state::create_token(std::uint64_t user, std::uint64_t creator,
                                                         std::optional<timestamp> expiration, timestamp now,
                                                         const std::optional<privilege_set>& scope) {
    const access_token token = generate_access_token();
    const secret_hash hash = hash_access_token(token);
    const std::optional<std::string> scope_text = scope ? std::optional(privileges_to_text(*scope)) : std::nullopt;
    tokens_.reserve_for(token.id);  // so that applying it after the commit cannot fail
    token_row row;
    std::lock_guard lock(db_mu_);
    try {
        // The function checks the user and the per-user limit under the writers' lock, so
        // no other server counts or inserts at the same time.
        const auto r = call("create_token", "SELECT o_seq, o_change FROM tokenauth_create_token($1, $2, $3, $4, $5, $6, $7, $8)",
                            {id_param(token.id), pg::bytes(hash.bytes, sizeof hash.bytes), pg::number(user),
                             pg::number(creator), pg::number(now), pg::number(expiration), scope_text,
                             pg::number(std::int64_t{max_tokens_per_user})});
        row.seq = r.int64(0, 0);
        apply_own(*db_, r.int64(0, 1),
                  [&] { index_put(record_of(token.id, hash, current_hash_scheme, user, expiration, true, scope_text)); });
    } catch (const pg::error& e) {
        if (e.sqlstate() == TOKENAUTH_PG_NO_SUCH_USER)
            throw storage_error(storage_error::kind::not_found, "no user with id " + std::to_string(user));
        if (e.sqlstate() != TOKENAUTH_PG_TOKEN_LIMIT) throw;
        throw storage_error(storage_error::kind::limit_reached,
                            "user already holds " + std::to_string(max_tokens_per_user) +
                                " access tokens; delete one before creating another");
    }
    row.id = token.id;
    row.user = user;
    row.creator = creator;
    row.creation_time = now;
    row.expiration_time = expiration;
    row.enabled = true;
    row.privileges = scope;
    return {row, encode_access_token(token)};
}

std::optional<token_row> pg_state::get_token(const token_id& id) {
    std::lock_guard lock(db_mu_);
    const auto r = query("SELECT " PG_TOKEN_COLUMNS " FROM access_tokens WHERE id = $1", {id_param(id)});
    if (r.rows() == 0) return std::nullopt;
    return read_token(r, 0);
}

std::vector<token_row> pg_state::list_tokens(std::optional<std::uint64_t> user, std::int64_t after, std::size_t limit,
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

std::optional<token_row> pg_state::modify_token(const token_id& id,
                                                const std::optional<std::optional<timestamp>>& expiration,
                                                std::optional<bool> enabled) {
    std::lock_guard lock(db_mu_);
    // The row after the change and the change's sequence (NULL: no such token).
    const auto r = call("modify_token", "SELECT * FROM tokenauth_modify_token($1, $2, $3, $4)",
                        {id_param(id), pg::boolean(expiration.has_value()),
                         pg::number(expiration ? *expiration : std::nullopt),
                         enabled ? pg::boolean(*enabled) : std::nullopt});
    if (r.null(0, 9)) return std::nullopt;
    const token_row row = read_token(r, 0);
    apply_own(*db_, r.int64(0, 9), [&] { apply_token_state(row); });
    return row;
}

bool pg_state::delete_token(const token_id& id) {
    std::lock_guard lock(db_mu_);
    const auto r = call("delete_token", "SELECT o_change FROM tokenauth_delete_token($1)", {id_param(id)});
    if (r.null(0, 0)) return false;
    apply_own(*db_, r.int64(0, 0), [&] { index_erase(id); });
    return true;
}

std::vector<token_id> pg_state::save_uses() {
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

// --- users, groups, roles ---

user_row pg_state::create_user(user_row u) {
    logged_change entity{"user", ""};
    write(
        [&](pg::connection& c) {
            u.auth_id = next_auth_id(c);
            entity.id = std::to_string(u.auth_id);
            u.binding = session_binding::generate();
            c.exec("INSERT INTO principals (auth_id, kind, name, primary_group, uid, home_directory, password_hash, "
                   "session_binding, name_key) VALUES ($1, 'user', $2, $3, $4, $5, $6, $7, $8)",
                   {pg::number(u.auth_id), pg::text(u.name), pg::number(u.primary_group), pg::text(u.uid), u.home_directory,
                    u.password_hash, pg::bytes(u.binding.bytes, sizeof u.binding.bytes), names::key(u.name)});
        },
        entity, name_taken(u.name));
    return u;
}

user_row pg_state::update_user(const user_row& u, bool password_changed) {
    write(
        [&](pg::connection& c) {
            c.exec("UPDATE principals SET " PG_SET_NAME_AND_KEY ", primary_group = $3, uid = $4, home_directory = $5, "
                   "password_hash = $6, generation = generation + $7 WHERE auth_id = $8 AND kind = 'user'",
                   {pg::text(u.name), names::key(u.name), pg::number(u.primary_group), pg::text(u.uid), u.home_directory,
                    u.password_hash, pg::number(std::int64_t{password_changed ? 1 : 0}), pg::number(u.auth_id)});
        },
        {"user", std::to_string(u.auth_id)}, name_taken(u.name));
    const auto d = snapshot();
    const user_row* now = d->user(u.auth_id);
    if (now == nullptr) throw storage_error(storage_error::kind::not_found, "no user with id " + std::to_string(u.auth_id));
    return *now;
}

void pg_state::delete_user(std::uint64_t id) {
    std::vector<token_id> doomed;
    write(
        [&](pg::connection& c) {
            const auto r = c.exec("SELECT id FROM access_tokens WHERE user_id = $1", {pg::number(id)});
            for (int i = 0; i < r.rows(); ++i) {
                token_id tid;
                r.bytes(i, 0, tid.bytes, sizeof tid.bytes, "an access token id");
                doomed.push_back(tid);
                // Each token's removal is a change of its own, so every server drops it.
                c.exec("INSERT INTO changes (kind, token_id) VALUES ('token', $1)", {id_param(tid)});
            }
            c.exec("DELETE FROM principals WHERE auth_id = $1 AND kind = 'user'", {pg::number(id)});
        },
        {"user", std::to_string(id)});
    for (const auto& tid : doomed) index_erase(tid);
}

user_row pg_state::set_password(std::uint64_t id, const std::string& hash) {
    write(
        [&](pg::connection& c) {
            c.exec("UPDATE principals SET password_hash = $1, generation = generation + 1 WHERE auth_id = $2 AND kind = 'user'",
                   {pg::text(hash), pg::number(id)});
        },
        {"user", std::to_string(id)});
    const auto d = snapshot();
    const user_row* u = d->user(id);
    if (u == nullptr) throw storage_error(storage_error::kind::not_found, "no user with id " + std::to_string(id));
    return *u;
}

group_row pg_state::create_group(group_row g) {
    logged_change entity{"group", ""};
    write(
        [&](pg::connection& c) {
            g.auth_id = next_auth_id(c);
            entity.id = std::to_string(g.auth_id);
            c.exec("INSERT INTO principals (auth_id, kind, name, gid, name_key) VALUES ($1, 'group', $2, $3, $4)",
                   {pg::number(g.auth_id), pg::text(g.name), pg::text(g.gid), names::key(g.name)});
        },
        entity, name_taken(g.name));
    return g;
}

group_row pg_state::update_group(const group_row& g) {
    write(
        [&](pg::connection& c) {
            c.exec("UPDATE principals SET " PG_SET_NAME_AND_KEY ", gid = $3 WHERE auth_id = $4 AND kind = 'group'",
                   {pg::text(g.name), names::key(g.name), pg::text(g.gid), pg::number(g.auth_id)});
        },
        {"group", std::to_string(g.auth_id)}, name_taken(g.name));
    return g;
}

void pg_state::delete_group(std::uint64_t id) {
    write(
        [&](pg::connection& c) {
            const auto primaries =
                c.exec("SELECT count(*) FROM principals WHERE kind = 'user' AND primary_group = $1", {pg::number(id)}).int64(0, 0);
            if (primaries > 0)
                throw storage_error(storage_error::kind::in_use, "the group is the primary group of " +
                                                                     std::to_string(primaries) +
                                                                     " user(s); change their primary group first");
            c.exec("DELETE FROM principals WHERE auth_id = $1 AND kind = 'group'", {pg::number(id)});
        },
        {"group", std::to_string(id)});
}

void pg_state::add_group_member(std::uint64_t group, std::uint64_t member) {
    write(
        [&](pg::connection& c) {
            c.exec("INSERT INTO group_members (group_id, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                   {pg::number(group), pg::number(member)});
        },
        {"group_members", std::to_string(group)});
}

void pg_state::remove_group_member(std::uint64_t group, std::uint64_t member) {
    write(
        [&](pg::connection& c) {
            c.exec("DELETE FROM group_members WHERE group_id = $1 AND member_id = $2", {pg::number(group), pg::number(member)});
        },
        {"group_members", std::to_string(group)});
}

void pg_state::create_role(const tokenauth::role& r) {
    write(
        [&](pg::connection& c) {
            c.exec("INSERT INTO roles (name, description, privileges, name_key) VALUES ($1, $2, $3, $4)",
                   {pg::text(r.name), pg::text(r.description), pg::text(privileges_to_text(r.privileges)), names::key(r.name)});
        },
        {"role", r.name}, role_taken(r.name));
}

void pg_state::update_role(const std::string& name, const tokenauth::role& r) {
    write(
        [&](pg::connection& c) {
            c.exec("UPDATE roles SET " PG_SET_NAME_AND_KEY ", description = $3, privileges = $4 WHERE name = $5",
                   {pg::text(r.name), names::key(r.name), pg::text(r.description), pg::text(privileges_to_text(r.privileges)),
                    pg::text(name)});
        },
        {"role", name}, role_taken(r.name));
}

void pg_state::delete_role(const std::string& name) {
    write([&](pg::connection& c) { c.exec("DELETE FROM roles WHERE name = $1", {pg::text(name)}); },
          {"role", name});
}

void pg_state::add_role_member(const std::string& role, std::uint64_t member) {
    write(
        [&](pg::connection& c) {
            c.exec("INSERT INTO role_members (role, auth_id) SELECT name, $2 FROM roles WHERE name = $1 "
                   "ON CONFLICT DO NOTHING",
                   {pg::text(role), pg::number(member)});
        },
        {"role_members", role});
}

void pg_state::remove_role_member(const std::string& role, std::uint64_t member) {
    write(
        [&](pg::connection& c) {
            c.exec("DELETE FROM role_members WHERE role = $1 AND auth_id = $2", {pg::text(role), pg::number(member)});
        },
        {"role_members", role});
}

// --- migration from SQLite ---

void pg_state::import_from(state& source) {
    const auto d = source.snapshot();
    std::lock_guard lock(db_mu_);
    pg::connection& c = writer();
    {
        const auto r = c.exec("SELECT (SELECT count(*) FROM principals WHERE auth_id NOT IN ($1, $2, $3, $4)) + "
                              "(SELECT count(*) FROM access_tokens) + (SELECT count(*) FROM roles WHERE name NOT IN "
                              "('Administrators', 'Observers'))",
                              {pg::number(admin_auth_id), pg::number(guest_auth_id), pg::number(users_group_id),
                               pg::number(guests_group_id)});
        if (r.int64(0, 0) != 0) throw std::runtime_error("the PostgreSQL database is not empty; migrate into a new one");
    }
    pg::transaction t(c);
    c.exec("SELECT pg_advisory_xact_lock($1)", {pg::number(writer_lock)});
    // The seeded rows are replaced by the source's, so ids, SIDs, hashes and bindings carry over.
    c.exec("DELETE FROM role_members");
    c.exec("DELETE FROM roles");
    c.exec("DELETE FROM group_members");
    c.exec("DELETE FROM principals");
    c.exec("UPDATE meta SET value = $1 WHERE key = 'machine_sid'", {pg::text(d->machine_sid)});
    c.exec("UPDATE meta SET value = $1 WHERE key = 'next_auth_id'", {pg::number(source.next_auth_id_value())});
    // Keys as the source holds them (an unkeyed name stays unkeyed).
    auto key_of = [&](const std::string& name, std::uint64_t id) -> pg::param {
        const auto it = d->principal_keys.find(names::key(name));
        return it != d->principal_keys.end() && it->second == id ? pg::param(it->first) : std::nullopt;
    };
    for (const auto& [id, g] : d->groups)
        c.exec("INSERT INTO principals (auth_id, kind, name, gid, name_key) VALUES ($1, 'group', $2, $3, $4)",
               {pg::number(id), pg::text(g.name), pg::text(g.gid), key_of(g.name, id)});
    for (const auto& [id, u] : d->users)
        c.exec("INSERT INTO principals (auth_id, kind, name, primary_group, uid, home_directory, password_hash, generation, "
               "session_binding, name_key) VALUES ($1, 'user', $2, $3, $4, $5, $6, $7, $8, $9)",
               {pg::number(id), pg::text(u.name), pg::number(u.primary_group), pg::text(u.uid), u.home_directory,
                u.password_hash, pg::number(u.generation), pg::bytes(u.binding.bytes, sizeof u.binding.bytes),
                key_of(u.name, id)});
    for (const auto& [g, members] : d->group_members)
        for (std::uint64_t m : members)
            c.exec("INSERT INTO group_members (group_id, member_id) VALUES ($1, $2)", {pg::number(g), pg::number(m)});
    for (std::size_t i = 0; i < d->roles.size(); ++i) {
        const tokenauth::role& role = d->roles[i];
        const auto key = d->role_keys.find(names::key(role.name));
        c.exec("INSERT INTO roles (name, description, privileges, name_key) VALUES ($1, $2, $3, $4)",
               {pg::text(role.name), pg::text(role.description), pg::text(privileges_to_text(role.privileges)),
                key != d->role_keys.end() && key->second == i ? pg::param(key->first) : std::nullopt});
        for (std::uint64_t m : role.members)
            c.exec("INSERT INTO role_members (role, auth_id) VALUES ($1, $2)", {pg::text(role.name), pg::number(m)});
    }
    bool more = false;
    for (const token_row& row : source.list_tokens(std::nullopt, 0, 0, more)) {
        token_record rec;
        if (!source.tokens().find(row.id, rec)) continue;
        c.exec("INSERT INTO access_tokens (id, secret_hash, user_id, creator_id, creation_time, expiration_time, enabled, "
               "privileges, last_used_time, hash_scheme) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
               {id_param(row.id), pg::bytes(rec.hash.bytes, sizeof rec.hash.bytes), pg::number(row.user),
                pg::number(row.creator), pg::number(row.creation_time), pg::number(row.expiration_time),
                pg::boolean(row.enabled), row.privileges ? pg::text(privileges_to_text(*row.privileges)) : std::nullopt,
                pg::number(row.last_used_time), pg::number(static_cast<std::int64_t>(rec.scheme))});
    }
    c.exec(TOKENAUTH_PG_RECOUNT_TOKENS);
    c.exec("INSERT INTO changes (kind) VALUES ('directory')");
    t.commit();
}

#undef PG_TOKEN_COLUMNS

}  // namespace tokenauth::server
