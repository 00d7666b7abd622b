// Storage: the webhook outbox in SQLite (one server: a claim needs no lock beyond db_mu_).
#include "sqlite_store.hpp"

namespace tokenauth::server {

void sqlite_store::enqueue_webhook(const std::vector<std::string>& endpoints, const webhook_event& e) {
    std::lock_guard lock(db_mu_);
    transaction t(*db_);
    for (const std::string& url : endpoints)
        db_->prepare("INSERT INTO webhook_outbox (event_id, endpoint, type, payload, created_time, next_attempt) "
                     "VALUES (?, ?, ?, ?, ?, ?)")
            .bind(1, e.id)
            .bind(2, url)
            .bind(3, e.type)
            .bind(4, e.payload)
            .bind(5, e.created)
            .bind(6, e.created)
            .run();
    t.commit();
}

std::vector<webhook_delivery> sqlite_store::claim_webhooks(timestamp now, timestamp lease_until, std::size_t max) {
    std::lock_guard lock(db_mu_);
    transaction t(*db_);
    std::vector<webhook_delivery> out;
    auto& s = db_->prepare("SELECT id, endpoint, event_id, type, payload, created_time, attempts FROM webhook_outbox "
                           "WHERE state = 'pending' AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?");
    s.bind(1, now).bind(2, static_cast<std::int64_t>(max));
    while (s.step()) {
        webhook_delivery d;
        d.row = s.int64(0);
        d.endpoint = s.text(1);
        d.event = {s.text(2), s.text(3), s.text(4), s.int64(5)};
        d.attempts = s.int64(6);
        out.push_back(std::move(d));
    }
    s.reset();
    for (const webhook_delivery& d : out)
        db_->prepare("UPDATE webhook_outbox SET next_attempt = ? WHERE id = ?").bind(1, lease_until).bind(2, d.row).run();
    t.commit();
    return out;
}

void sqlite_store::finish_webhook(std::int64_t row, const webhook_outcome& o) {
    std::lock_guard lock(db_mu_);
    db_->prepare("UPDATE webhook_outbox SET state = ?, attempts = attempts + 1, next_attempt = ?, last_error = ? "
                 "WHERE id = ?")
        .bind(1, stored_state(o.next))
        .bind(2, o.next_attempt)
        .bind(3, o.error.empty() ? std::nullopt : std::optional<std::string>(o.error))
        .bind(4, row)
        .run();
}

std::size_t sqlite_store::prune_webhooks(timestamp before) {
    std::lock_guard lock(db_mu_);
    db_->prepare("DELETE FROM webhook_outbox WHERE state <> 'pending' AND created_time < ?").bind(1, before).run();
    return static_cast<std::size_t>(db_->changes());
}

}  // namespace tokenauth::server
