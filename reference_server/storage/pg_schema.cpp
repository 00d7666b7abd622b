// The PostgreSQL backend's schema: the migrations (each applied once, under an advisory lock,
// so servers may start together), the replica views' grants, and the first start's seed.
#include <tokenauth/postgres/replica.hpp>

#include "../names.hpp"
#include "name_keys.hpp"
#include "pg_internal.hpp"
#include "pg_store.hpp"
#include "privileges_text.hpp"

namespace tokenauth::server {

using namespace pg_internal;

namespace {

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
    // v7: names, rotation and expiry warnings. name is a label for people (NFC; NULL: none).
    // A rotated token names its successor and when (a tombstone, kept 30 days; not counted in
    // tokens_held, which a rotation leaves as it is: one in, one out); family is the first
    // token's id of a rotation chain (NULL: the token is it). expiry_warned is the smallest
    // threshold (seconds; 0: expired) a warning was given for since the expiry was last set
    // (a modify of the expiry clears it). The token functions take and return the name; a
    // create is refused while one of the user's rotated tokens is in its grace; deleting a
    // tombstone leaves the count alone. Their other steps are v2's.
    "ALTER TABLE access_tokens ADD COLUMN name TEXT;\n"
    "ALTER TABLE access_tokens ADD COLUMN expiry_warned BIGINT;\n"
    "CREATE INDEX access_tokens_by_expiry ON access_tokens (expiration_time) WHERE expiration_time IS NOT NULL;\n"
    "ALTER TABLE access_tokens ADD COLUMN rotated_to BYTEA;\n"
    "ALTER TABLE access_tokens ADD COLUMN rotated_time BIGINT;\n"
    "ALTER TABLE access_tokens ADD COLUMN family BYTEA;\n"
    "CREATE INDEX access_tokens_by_family ON access_tokens ((coalesce(family, id)));\n"
    "CREATE INDEX access_tokens_tombstones ON access_tokens (rotated_time) WHERE rotated_to IS NOT NULL;\n"
    "DROP FUNCTION tokenauth_create_token(BYTEA, BYTEA, BIGINT, BIGINT, BIGINT, BIGINT, TEXT, BIGINT);\n"
    "CREATE FUNCTION tokenauth_create_token(p_id BYTEA, p_hash BYTEA, p_user BIGINT, p_creator BIGINT,\n"
    "    p_now BIGINT, p_expiration BIGINT, p_privileges TEXT, p_max_tokens BIGINT, p_name TEXT, OUT o_seq BIGINT,\n"
    "    OUT o_change BIGINT)\n"
    "LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "    PERFORM pg_advisory_xact_lock(" TOKENAUTH_PG_STR(TOKENAUTH_PG_WRITER_LOCK) ");\n"
    "    UPDATE principals SET tokens_held = tokens_held + 1\n"
    "        WHERE auth_id = p_user AND kind = 'user' AND tokens_held < p_max_tokens\n"
    "        AND tokens_held + (SELECT count(*) FROM access_tokens WHERE user_id = p_user AND rotated_to IS NOT NULL\n"
    "            AND enabled AND expiration_time > p_now) < p_max_tokens;\n"
    "    IF NOT FOUND THEN\n"
    "        IF NOT EXISTS (SELECT 1 FROM principals WHERE auth_id = p_user AND kind = 'user') THEN\n"
    "            RAISE EXCEPTION 'no such user' USING ERRCODE = '" TOKENAUTH_PG_NO_SUCH_USER "';\n"
    "        END IF;\n"
    "        RAISE EXCEPTION 'token limit reached' USING ERRCODE = '" TOKENAUTH_PG_TOKEN_LIMIT "';\n"
    "    END IF;\n"
    "    INSERT INTO access_tokens (id, secret_hash, user_id, creator_id, creation_time, expiration_time, enabled,\n"
    "        privileges, name) VALUES (p_id, p_hash, p_user, p_creator, p_now, p_expiration, true, p_privileges, p_name)\n"
    "        RETURNING seq INTO o_seq;\n"
    "    INSERT INTO changes (kind, token_id) VALUES ('token', p_id) RETURNING seq INTO o_change;\n"
    "    PERFORM pg_notify('" TOKENAUTH_PG_CHANNEL "', o_change::text);\n"
    "END $$;\n"
    "DROP FUNCTION tokenauth_modify_token(BYTEA, BOOLEAN, BIGINT, BOOLEAN);\n"
    "CREATE FUNCTION tokenauth_modify_token(p_id BYTEA, p_set_expiration BOOLEAN, p_expiration BIGINT,\n"
    "    p_enabled BOOLEAN, p_set_name BOOLEAN, p_name TEXT, OUT o_id BYTEA, OUT o_seq BIGINT, OUT o_user BIGINT,\n"
    "    OUT o_creator BIGINT, OUT o_creation BIGINT, OUT o_expiration BIGINT, OUT o_enabled BOOLEAN,\n"
    "    OUT o_privileges TEXT, OUT o_last_used BIGINT, OUT o_name TEXT, OUT o_rotated_to BYTEA,\n"
    "    OUT o_rotated_time BIGINT, OUT o_family BYTEA, OUT o_change BIGINT)\n"
    "LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "    PERFORM pg_advisory_xact_lock(" TOKENAUTH_PG_STR(TOKENAUTH_PG_WRITER_LOCK) ");\n"
    "    UPDATE access_tokens SET\n"
    "        expiration_time = CASE WHEN p_set_expiration THEN p_expiration ELSE expiration_time END,\n"
    "        expiry_warned = CASE WHEN p_set_expiration THEN NULL ELSE expiry_warned END,\n"
    "        enabled = coalesce(p_enabled, enabled),\n"
    "        name = CASE WHEN p_set_name THEN p_name ELSE name END\n"
    "        WHERE id = p_id\n"
    "        RETURNING id, seq, user_id, creator_id, creation_time, expiration_time, enabled, privileges,\n"
    "            last_used_time, name, rotated_to, rotated_time, coalesce(family, id)\n"
    "        INTO o_id, o_seq, o_user, o_creator, o_creation, o_expiration, o_enabled, o_privileges, o_last_used,\n"
    "            o_name, o_rotated_to, o_rotated_time, o_family;\n"
    "    IF FOUND THEN\n"
    "        INSERT INTO changes (kind, token_id) VALUES ('token', p_id) RETURNING seq INTO o_change;\n"
    "        PERFORM pg_notify('" TOKENAUTH_PG_CHANNEL "', o_change::text);\n"
    "    END IF;\n"
    "END $$;\n"
    "CREATE OR REPLACE FUNCTION tokenauth_delete_token(p_id BYTEA, OUT o_change BIGINT)\n"
    "LANGUAGE plpgsql AS $$\n"
    "DECLARE owner BIGINT; successor BYTEA;\n"
    "BEGIN\n"
    "    PERFORM pg_advisory_xact_lock(" TOKENAUTH_PG_STR(TOKENAUTH_PG_WRITER_LOCK) ");\n"
    "    DELETE FROM access_tokens WHERE id = p_id RETURNING user_id, rotated_to INTO owner, successor;\n"
    "    IF FOUND THEN\n"
    "        IF successor IS NULL THEN\n"
    "            UPDATE principals SET tokens_held = tokens_held - 1 WHERE auth_id = owner;\n"
    "        END IF;\n"
    "        INSERT INTO changes (kind, token_id) VALUES ('token', p_id) RETURNING seq INTO o_change;\n"
    "        PERFORM pg_notify('" TOKENAUTH_PG_CHANNEL "', o_change::text);\n"
    "    END IF;\n"
    "END $$;\n",
    // v8: network bounds and the webhook outbox. allowed_cidrs is a token's canonical prefix
    // list (tokenauth::parse_network_bounds; NULL: any address), in the replica's view too
    // (a replica that does not know v8 fails closed rather than ignore it). The token
    // functions take it. webhook_outbox holds one row per event and endpoint until it is
    // delivered (kept for the retention bound) or given up ('dead'); a server claims due
    // rows with FOR UPDATE SKIP LOCKED, leasing them by moving next_attempt ahead.
    "ALTER TABLE access_tokens ADD COLUMN allowed_cidrs TEXT;\n"
    "CREATE OR REPLACE VIEW tokenauth_replica_tokens AS\n"
    "    SELECT id, secret_hash, hash_scheme, user_id, expiration_time, enabled, privileges, allowed_cidrs\n"
    "    FROM access_tokens;\n"
    "CREATE TABLE webhook_outbox (\n"
    "    id BIGSERIAL PRIMARY KEY,\n"
    "    event_id TEXT NOT NULL,\n"
    "    endpoint TEXT NOT NULL,\n"
    "    type TEXT NOT NULL,\n"
    "    payload TEXT NOT NULL,\n"
    "    created_time BIGINT NOT NULL,\n"
    "    attempts INTEGER NOT NULL DEFAULT 0,\n"
    "    next_attempt BIGINT NOT NULL,\n"
    "    state TEXT NOT NULL DEFAULT 'pending',\n"
    "    last_error TEXT\n"
    ");\n"
    "CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt) WHERE state = 'pending';\n"
    "CREATE INDEX webhook_outbox_by_time ON webhook_outbox (created_time);\n"
    "DROP FUNCTION tokenauth_create_token(BYTEA, BYTEA, BIGINT, BIGINT, BIGINT, BIGINT, TEXT, BIGINT, TEXT);\n"
    "CREATE FUNCTION tokenauth_create_token(p_id BYTEA, p_hash BYTEA, p_user BIGINT, p_creator BIGINT,\n"
    "    p_now BIGINT, p_expiration BIGINT, p_privileges TEXT, p_max_tokens BIGINT, p_name TEXT,\n"
    "    p_allowed_cidrs TEXT, OUT o_seq BIGINT, OUT o_change BIGINT)\n"
    "LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "    PERFORM pg_advisory_xact_lock(" TOKENAUTH_PG_STR(TOKENAUTH_PG_WRITER_LOCK) ");\n"
    "    UPDATE principals SET tokens_held = tokens_held + 1\n"
    "        WHERE auth_id = p_user AND kind = 'user' AND tokens_held < p_max_tokens\n"
    "        AND tokens_held + (SELECT count(*) FROM access_tokens WHERE user_id = p_user AND rotated_to IS NOT NULL\n"
    "            AND enabled AND expiration_time > p_now) < p_max_tokens;\n"
    "    IF NOT FOUND THEN\n"
    "        IF NOT EXISTS (SELECT 1 FROM principals WHERE auth_id = p_user AND kind = 'user') THEN\n"
    "            RAISE EXCEPTION 'no such user' USING ERRCODE = '" TOKENAUTH_PG_NO_SUCH_USER "';\n"
    "        END IF;\n"
    "        RAISE EXCEPTION 'token limit reached' USING ERRCODE = '" TOKENAUTH_PG_TOKEN_LIMIT "';\n"
    "    END IF;\n"
    "    INSERT INTO access_tokens (id, secret_hash, user_id, creator_id, creation_time, expiration_time, enabled,\n"
    "        privileges, name, allowed_cidrs)\n"
    "        VALUES (p_id, p_hash, p_user, p_creator, p_now, p_expiration, true, p_privileges, p_name, p_allowed_cidrs)\n"
    "        RETURNING seq INTO o_seq;\n"
    "    INSERT INTO changes (kind, token_id) VALUES ('token', p_id) RETURNING seq INTO o_change;\n"
    "    PERFORM pg_notify('" TOKENAUTH_PG_CHANNEL "', o_change::text);\n"
    "END $$;\n"
    "DROP FUNCTION tokenauth_modify_token(BYTEA, BOOLEAN, BIGINT, BOOLEAN, BOOLEAN, TEXT);\n"
    "CREATE FUNCTION tokenauth_modify_token(p_id BYTEA, p_set_expiration BOOLEAN, p_expiration BIGINT,\n"
    "    p_enabled BOOLEAN, p_set_name BOOLEAN, p_name TEXT, p_set_cidrs BOOLEAN, p_allowed_cidrs TEXT,\n"
    "    OUT o_id BYTEA, OUT o_seq BIGINT, OUT o_user BIGINT,\n"
    "    OUT o_creator BIGINT, OUT o_creation BIGINT, OUT o_expiration BIGINT, OUT o_enabled BOOLEAN,\n"
    "    OUT o_privileges TEXT, OUT o_last_used BIGINT, OUT o_name TEXT, OUT o_rotated_to BYTEA,\n"
    "    OUT o_rotated_time BIGINT, OUT o_family BYTEA, OUT o_allowed_cidrs TEXT, OUT o_change BIGINT)\n"
    "LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "    PERFORM pg_advisory_xact_lock(" TOKENAUTH_PG_STR(TOKENAUTH_PG_WRITER_LOCK) ");\n"
    "    UPDATE access_tokens SET\n"
    "        expiration_time = CASE WHEN p_set_expiration THEN p_expiration ELSE expiration_time END,\n"
    "        expiry_warned = CASE WHEN p_set_expiration THEN NULL ELSE expiry_warned END,\n"
    "        enabled = coalesce(p_enabled, enabled),\n"
    "        name = CASE WHEN p_set_name THEN p_name ELSE name END,\n"
    "        allowed_cidrs = CASE WHEN p_set_cidrs THEN p_allowed_cidrs ELSE allowed_cidrs END\n"
    "        WHERE id = p_id\n"
    "        RETURNING id, seq, user_id, creator_id, creation_time, expiration_time, enabled, privileges,\n"
    "            last_used_time, name, rotated_to, rotated_time, coalesce(family, id), allowed_cidrs\n"
    "        INTO o_id, o_seq, o_user, o_creator, o_creation, o_expiration, o_enabled, o_privileges, o_last_used,\n"
    "            o_name, o_rotated_to, o_rotated_time, o_family, o_allowed_cidrs;\n"
    "    IF FOUND THEN\n"
    "        INSERT INTO changes (kind, token_id) VALUES ('token', p_id) RETURNING seq INTO o_change;\n"
    "        PERFORM pg_notify('" TOKENAUTH_PG_CHANNEL "', o_change::text);\n"
    "    END IF;\n"
    "END $$;\n",
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

}  // namespace

void pg_store::migrate(pg::connection& c) {
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

void pg_store::seed(pg::connection& c, const options& opts) {
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
    first_start f = prepare_first_start(opts.admin_password);
    generated_admin_password_ = std::move(f.generated_password);
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

}  // namespace tokenauth::server
