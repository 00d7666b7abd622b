// Webhooks in the Standard Webhooks form: security events (access_token.*, user.password_changed)
// POSTed to each --webhook receiver with webhook-id, webhook-timestamp and webhook-signature
// (v1,<base64 HMAC-SHA256 over "id.timestamp.body">, one per secret during a secret rotation).
//
// Events come from the audit trail: the notifier stands where the audit trail does, writes
// each event there, and puts the ones receivers get into the store's durable outbox, one row
// per receiver. The deliverer claims due rows (a lease: a server that dies mid-delivery leaves
// the row due again; PostgreSQL servers skip each other's locked rows), POSTs them, and
// marks each delivered, due again after an exponential backoff with jitter, or dead after
// the last attempt. Delivery is at-least-once: receivers deduplicate on webhook-id. Payloads
// carry no bearer secret (the audit trail never holds one).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../http/log.hpp"
#include "../storage/store.hpp"
#include "http_post.hpp"

namespace tokenauth::server::webhooks {

/// A receiver: its URL and the keys its secret file holds (one, or two during a rotation).
struct endpoint {
    std::string url;
    url_parts parts;
    std::vector<std::string> keys;  ///< raw HMAC keys, decoded from whsec_<base64>
};

/// Parses --webhook's "URL,SECRET_FILE": https, or http to a loopback address only; the file
/// holds one or two lines "whsec_<base64>" and is readable by its owner only. Throws
/// std::runtime_error saying what is wrong.
endpoint parse_endpoint(const std::string& spec);

/// The webhook-signature header value: "v1,<base64>" for each key, space-separated.
std::string signature(const std::vector<std::string>& keys, const std::string& id, std::int64_t timestamp,
                      const std::string& body);

/// The webhook event type of an audit event, or nullptr when receivers do not get it.
const char* event_type(const char* audit_event, const nlohmann::json& fields);

/// The audit trail, and the outbox for the events receivers get.
class notifier final : public line_sink {
public:
    notifier(line_sink& audit, store& db, std::vector<std::string> endpoints, event_log& log);
    void write(const char* event, nlohmann::json fields) override;
    /// Called after each event is in the outbox (the deliverer's wake()).
    void on_enqueued(std::function<void()> f) { wake_ = std::move(f); }

private:
    line_sink& audit_;
    store& db_;
    std::vector<std::string> endpoints_;
    event_log& log_;
    std::function<void()> wake_;
};

struct delivery_options {
    std::chrono::milliseconds retry_base{5000};  ///< the first retry's delay; doubled each time
    std::chrono::milliseconds retry_max{3'600'000};
    int max_attempts = 12;                        ///< then the row is dead
    std::chrono::milliseconds timeout{10000};     ///< connect, TLS, send, and the status line, each
    std::chrono::hours retention{24 * 7};         ///< delivered and dead rows kept this long
    std::string ca_file;                          ///< trust these CAs instead of the system's
};

/// The delay before attempt n + 1 after n failed attempts: base * 2^(n-1), at most max, the
/// upper half of it random ("equal jitter"), so receivers coming back are not hit at once.
std::chrono::milliseconds backoff(int failed_attempts, const delivery_options& o);

/// Delivers the outbox on its own thread until destroyed.
class deliverer {
public:
    deliverer(store& db, std::vector<endpoint> endpoints, delivery_options o, event_log& log);
    ~deliverer();
    deliverer(const deliverer&) = delete;
    deliverer& operator=(const deliverer&) = delete;
    /// Looks at the outbox now rather than at the next poll.
    void wake();

private:
    void run();
    void deliver(const webhook_delivery& d);

    store& db_;
    std::vector<endpoint> endpoints_;
    delivery_options o_;
    event_log& log_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    bool woken_ = false;
    std::thread thread_;
};

}  // namespace tokenauth::server::webhooks
