// Storage: the schema, as versioned migrations (PRAGMA user_version), and running them.
#include "name_keys.hpp"
#include "sqlite_store.hpp"

namespace tokenauth::server {

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
    // v3: a token's scope (privilege names, one per line; NULL: unrestricted) and the last
    // use saved from memory. The session key moves out of the database into a key file
    // (state.cpp), so a database copy alone cannot mint sessions.
    R"sql(
    ALTER TABLE access_tokens ADD COLUMN privileges TEXT;
    ALTER TABLE access_tokens ADD COLUMN last_used_time INTEGER;
    )sql",
    // v4: how each secret hash was computed (tokenauth::hash_scheme): the rows before are
    // BLAKE2b (1); new rows say SHA-256 (2). A BLAKE2b row is rewritten the first time its
    // token validates.
    R"sql(
    ALTER TABLE access_tokens ADD COLUMN hash_scheme INTEGER NOT NULL DEFAULT 1;
    )sql",
    // v5: each name's uniqueness key (names.hpp: NFKC_Casefold), filled in by
    // add_name_keys below, then unique. A name whose key an older row holds keeps NULL.
    R"sql(
    ALTER TABLE principals ADD COLUMN name_key TEXT;
    ALTER TABLE roles ADD COLUMN name_key TEXT;
    )sql",
    // v6: names, rotation and expiry warnings. name is a label for people (NFC; NULL: none).
    // A rotated token names its successor and when (a tombstone, kept 30 days); family is the
    // first token's id of a rotation chain (NULL: the token is it). expiry_warned is the
    // smallest threshold (seconds; 0: expired) a warning was given for since the expiry was
    // last set.
    R"sql(
    ALTER TABLE access_tokens ADD COLUMN name TEXT;
    ALTER TABLE access_tokens ADD COLUMN expiry_warned INTEGER;
    CREATE INDEX access_tokens_by_expiry ON access_tokens(expiration_time) WHERE expiration_time IS NOT NULL;
    ALTER TABLE access_tokens ADD COLUMN rotated_to BLOB;
    ALTER TABLE access_tokens ADD COLUMN rotated_time INTEGER;
    ALTER TABLE access_tokens ADD COLUMN family BLOB;
    CREATE INDEX access_tokens_by_family ON access_tokens(coalesce(family, id));
    CREATE INDEX access_tokens_tombstones ON access_tokens(rotated_time) WHERE rotated_to IS NOT NULL;
    )sql",
    // v7: network bounds and the webhook outbox. allowed_cidrs is a token's canonical prefix
    // list (tokenauth::parse_network_bounds; NULL: any address). webhook_outbox holds one row
    // per event and endpoint until it is delivered (state 'delivered', kept for the
    // retention bound) or given up ('dead'); event_id is the Standard Webhooks message id,
    // the same for every endpoint, and next_attempt when the row is next due.
    R"sql(
    ALTER TABLE access_tokens ADD COLUMN allowed_cidrs TEXT;
    CREATE TABLE webhook_outbox (
        id INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_time INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        last_error TEXT
    );
    CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt) WHERE state = 'pending';
    CREATE INDEX webhook_outbox_by_time ON webhook_outbox(created_time);
    )sql",
};
constexpr std::int64_t name_keys_version = 5;

/// Migration v5's second half: keys computed here (SQLite has no Unicode normaliser), oldest
/// row first, then the unique indexes.
void add_name_keys(connection& db) {
    for (const auto& [table, order] : {std::pair{"principals", "auth_id"}, std::pair{"roles", "rowid"}}) {
        std::vector<std::int64_t> rows;
        std::vector<std::string> names;
        auto& s = db.prepare(std::string("SELECT rowid, name FROM ") + table + " ORDER BY " + order);
        while (s.step()) {
            rows.push_back(s.int64(0));
            names.push_back(s.text(1));
        }
        s.reset();
        const auto keys = assign_name_keys(names);
        auto& u = db.prepare(std::string("UPDATE ") + table + " SET name_key = ? WHERE rowid = ?");
        for (std::size_t i = 0; i < rows.size(); ++i) u.reset().bind(1, keys[i]).bind(2, rows[i]).run();
    }
    db.exec("CREATE UNIQUE INDEX principals_name_key ON principals(name_key);"
            "CREATE UNIQUE INDEX roles_name_key ON roles(name_key);");
}

}  // namespace

void sqlite_store::migrate() {
    auto& s = db_->prepare("PRAGMA user_version");
    s.step();
    const std::int64_t version = s.int64(0);
    s.reset();
    const std::int64_t latest = static_cast<std::int64_t>(std::size(migrations));
    if (version > latest) throw std::runtime_error("database schema is newer than this server");
    for (std::int64_t v = version; v < latest; ++v) {
        transaction t(*db_);
        db_->exec(migrations[v]);
        if (v + 1 == name_keys_version) add_name_keys(*db_);
        db_->exec(("PRAGMA user_version = " + std::to_string(v + 1)).c_str());
        t.commit();
    }
}

}  // namespace tokenauth::server
