// Storage: the webhook outbox in PostgreSQL. Several servers deliver from it: a claim is one
// statement that skips the rows another server has locked, and leases the rows it takes by
// moving their next attempt ahead.
#include "pg_internal.hpp"
#include "pg_store.hpp"

namespace tokenauth::server {

void pg_store::enqueue_webhook(const std::vector<std::string>& endpoints, const webhook_event& e) {
    std::lock_guard lock(db_mu_);
    pg::connection& c = writer();
    pg::transaction t(c);
    for (const std::string& url : endpoints)
        c.exec("INSERT INTO webhook_outbox (event_id, endpoint, type, payload, created_time, next_attempt) "
               "VALUES ($1, $2, $3, $4, $5, $5)",
               {pg::text(e.id), pg::text(url), pg::text(e.type), pg::text(e.payload), pg::number(e.created)});
    t.commit();
}

std::vector<webhook_delivery> pg_store::claim_webhooks(timestamp now, timestamp lease_until, std::size_t max) {
    std::lock_guard lock(db_mu_);
    const auto r = writer().exec(
        "UPDATE webhook_outbox SET next_attempt = $2 WHERE id IN (SELECT id FROM webhook_outbox WHERE state = 'pending' "
        "AND next_attempt <= $1 ORDER BY next_attempt, id LIMIT $3 FOR UPDATE SKIP LOCKED) "
        "RETURNING id, endpoint, event_id, type, payload, created_time, attempts",
        {pg::number(now), pg::number(lease_until), pg::number(static_cast<std::int64_t>(max))});
    std::vector<webhook_delivery> out;
    for (int i = 0; i < r.rows(); ++i) {
        webhook_delivery d;
        d.row = r.int64(i, 0);
        d.endpoint = r.str(i, 1);
        d.event = {r.str(i, 2), r.str(i, 3), r.str(i, 4), r.int64(i, 5)};
        d.attempts = r.int64(i, 6);
        out.push_back(std::move(d));
    }
    return out;
}

void pg_store::finish_webhook(std::int64_t row, const webhook_outcome& o) {
    std::lock_guard lock(db_mu_);
    writer().exec("UPDATE webhook_outbox SET state = $1, attempts = attempts + 1, next_attempt = $2, last_error = $3 "
                  "WHERE id = $4",
                  {pg::text(stored_state(o.next)), pg::number(o.next_attempt),
                   o.error.empty() ? std::nullopt : pg::text(o.error), pg::number(row)});
}

std::size_t pg_store::prune_webhooks(timestamp before) {
    std::lock_guard lock(db_mu_);
    return static_cast<std::size_t>(
        writer().exec("DELETE FROM webhook_outbox WHERE state <> 'pending' AND created_time < $1", {pg::number(before)})
            .affected());
}

}  // namespace tokenauth::server
