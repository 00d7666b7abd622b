// SQL that takes a SQLite store back to schema v5 (what v6 and v7 added, dropped), for tests
// that make the database an earlier version wrote and start the server on it again.
#pragma once

namespace test_server {

inline constexpr const char* undo_v6_and_later =
    "DROP TABLE webhook_outbox; ALTER TABLE access_tokens DROP COLUMN allowed_cidrs;"  // v7
    "DROP INDEX access_tokens_by_family; DROP INDEX access_tokens_tombstones;"         // v6
    "DROP INDEX access_tokens_by_expiry; ALTER TABLE access_tokens DROP COLUMN expiry_warned;"
    "ALTER TABLE access_tokens DROP COLUMN rotated_to; ALTER TABLE access_tokens DROP COLUMN rotated_time;"
    "ALTER TABLE access_tokens DROP COLUMN family;"
    "ALTER TABLE access_tokens DROP COLUMN name;";

}  // namespace test_server
