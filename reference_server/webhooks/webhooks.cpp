#include "webhooks.hpp"

#include <sodium.h>
#include <sys/stat.h>

#include <tokenauth/network.hpp>
#include <tokenauth/time.hpp>

#include <cstring>
#include <fstream>
#include <stdexcept>

#include "../text.hpp"

namespace tokenauth::server::webhooks {

namespace {

bool is_loopback(const std::string& host) {
    if (host == "localhost") return true;
    ip_address a;
    if (parse_ip_address(host, a) != errc::ok) return false;
    ip_prefix v4, v6;
    (void)parse_ip_prefix("127.0.0.0/8", v4);
    (void)parse_ip_prefix("::1", v6);
    return v4.contains(a) || v6.contains(a);
}

std::string base64(const unsigned char* p, std::size_t n) {
    std::string out(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), p, n, sodium_base64_VARIANT_ORIGINAL);
    out.resize(std::strlen(out.c_str()));
    return out;
}

}  // namespace

endpoint parse_endpoint(const std::string& spec) {
    const std::size_t comma = spec.rfind(',');
    if (comma == std::string::npos)
        throw std::runtime_error("--webhook takes URL,SECRET_FILE (a file holding whsec_<base64>)");
    endpoint e;
    e.url = spec.substr(0, comma);
    const std::string file = spec.substr(comma + 1);
    if (!split_url(e.url, e.parts)) throw std::runtime_error("--webhook: '" + e.url + "' is not an http or https URL");
    if (!e.parts.tls && !is_loopback(e.parts.host))
        throw std::runtime_error("--webhook: '" + e.url + "' must be https (plain http is allowed to loopback only)");
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) throw std::runtime_error("--webhook: cannot read the secret file " + file);
    if ((st.st_mode & 077) != 0)
        throw std::runtime_error("--webhook: the secret file " + file + " is readable by others; chmod 600 it");
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
        const std::string_view t = text::trim(line);
        if (t.empty()) continue;
        if (t.rfind("whsec_", 0) != 0)
            throw std::runtime_error("--webhook: each line of " + file + " must be a secret whsec_<base64>");
        const std::string_view b64 = t.substr(6);
        std::string key(b64.size(), '\0');
        std::size_t len = 0;
        if (sodium_base642bin(reinterpret_cast<unsigned char*>(key.data()), key.size(), b64.data(), b64.size(), nullptr,
                              &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0 ||
            len < 16)
            throw std::runtime_error("--webhook: a secret in " + file + " is not base64 of at least 16 bytes");
        key.resize(len);
        e.keys.push_back(std::move(key));
    }
    if (e.keys.empty() || e.keys.size() > 2)
        throw std::runtime_error("--webhook: " + file + " must hold one secret, or two while rotating it");
    return e;
}

std::string signature(const std::vector<std::string>& keys, const std::string& id, std::int64_t timestamp,
                      const std::string& body) {
    const std::string signed_text = id + "." + std::to_string(timestamp) + "." + body;
    std::string out;
    for (const std::string& key : keys) {
        crypto_auth_hmacsha256_state st;
        unsigned char mac[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
        crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size());
        crypto_auth_hmacsha256_final(&st, mac);
        if (!out.empty()) out += ' ';
        out += "v1," + base64(mac, sizeof mac);
    }
    return out;
}

const char* event_type(const char* audit_event, const nlohmann::json& fields) {
    const std::string_view e = audit_event;
    const nlohmann::json empty = nlohmann::json::object();
    const nlohmann::json& target = fields.contains("target") ? fields["target"] : empty;
    if (e == "token_created") return "access_token.created";
    if (e == "token_rotated") return "access_token.rotated";
    if (e == "token_reuse_detected") return "access_token.reuse_detected";
    if (e == "token_deleted") return "access_token.deleted";
    if (e == "token_expiring") return "access_token.expiring";
    if (e == "token_expired") return "access_token.expired";
    if (e == "token_modified")  // only a change from enabled to disabled
        return target.value("was_enabled", false) && !target.value("enabled", true) ? "access_token.disabled" : nullptr;
    if (e == "token_reported_exposed")  // only when the report disabled it (anyone may report)
        return fields.value("outcome", "") == "disabled" ? "access_token.reported" : nullptr;
    if (e == "password_changed" || e == "password_set") return "user.password_changed";
    return nullptr;
}

notifier::notifier(line_sink& audit, store& db, std::vector<std::string> endpoints, event_log& log)
    : audit_(audit), db_(db), endpoints_(std::move(endpoints)), log_(log) {}

void notifier::write(const char* event, nlohmann::json fields) {
    const char* type = endpoints_.empty() ? nullptr : event_type(event, fields);
    if (type == nullptr) {
        audit_.write(event, std::move(fields));
        return;
    }
    webhook_event e;
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    e.id = "msg_";
    for (unsigned char c : raw) {
        static constexpr char hex[] = "0123456789abcdef";
        e.id += hex[c >> 4];
        e.id += hex[c & 15];
    }
    e.type = type;
    e.created = system_clock().now();
    fields.erase("client");  // where the request came from stays in the audit trail
    e.payload = nlohmann::json{{"type", type}, {"timestamp", format_rfc3339(e.created)}, {"data", fields}}.dump();
    fields["webhook_id"] = e.id;
    audit_.write(event, std::move(fields));
    try {
        db_.enqueue_webhook(endpoints_, e);
    } catch (const std::exception& ex) {
        // The action is done and audited; its webhook is what is lost, and the log says so.
        log_.write("webhook_enqueue_failed", {{"webhook_id", e.id}, {"type", type}, {"error", ex.what()}});
        return;
    }
    if (wake_) wake_();
}

std::chrono::milliseconds backoff(int failed_attempts, const delivery_options& o) {
    std::int64_t d = o.retry_base.count();
    for (int i = 1; i < failed_attempts && d < o.retry_max.count(); ++i) d *= 2;
    d = std::min<std::int64_t>(d, o.retry_max.count());
    const std::int64_t half = d / 2;
    return std::chrono::milliseconds(d - half + (half > 0 ? static_cast<std::int64_t>(randombytes_uniform(
                                                                 static_cast<std::uint32_t>(std::min<std::int64_t>(half + 1, UINT32_MAX))))
                                                          : 0));
}

deliverer::deliverer(store& db, std::vector<endpoint> endpoints, delivery_options o, event_log& log)
    : db_(db), endpoints_(std::move(endpoints)), o_(std::move(o)), log_(log), thread_([this] { run(); }) {}

deliverer::~deliverer() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void deliverer::wake() {
    {
        std::lock_guard lock(mu_);
        woken_ = true;
    }
    cv_.notify_all();
}

void deliverer::run() {
    auto next_prune = std::chrono::steady_clock::now();
    for (;;) {
        {
            std::unique_lock lock(mu_);
            // A poll a second: rows come due by time, and other servers enqueue too.
            cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_ || woken_; });
            if (stop_) return;
            woken_ = false;
        }
        try {
            // One row at a time, leased for as long as one attempt can take (its four steps),
            // so that a server stopped mid-attempt leaves it due again soon.
            for (;;) {
                const timestamp now = system_clock().now();
                const timestamp lease = now + (o_.timeout.count() * 4 + 5000) * 1'000'000;
                const auto due = db_.claim_webhooks(now, lease, 1);
                if (due.empty()) break;
                deliver(due.front());
                std::lock_guard lock(mu_);
                if (stop_) return;
            }
            if (std::chrono::steady_clock::now() >= next_prune) {
                const auto retention = std::chrono::duration_cast<std::chrono::nanoseconds>(o_.retention).count();
                if (const std::size_t n = db_.prune_webhooks(system_clock().now() - retention))
                    log_.write("webhooks_pruned", {{"rows", n}});
                next_prune = std::chrono::steady_clock::now() + std::chrono::minutes(10);
            }
        } catch (const std::exception& e) {
            log_.write("webhook_outbox_failed", {{"error", e.what()}});
        }
    }
}

void deliverer::deliver(const webhook_delivery& d) {
    const endpoint* to = nullptr;
    for (const endpoint& e : endpoints_)
        if (e.url == d.endpoint) to = &e;
    webhook_outcome out;
    if (to == nullptr) {
        // Its receiver is no longer configured: nobody to send it to.
        out.next = webhook_outcome::state::dead;
        out.error = "the receiver is no longer configured";
    } else {
        const std::int64_t ts = system_clock().now() / 1'000'000'000;
        const post_result r = post(to->parts,
                                   {{"Content-Type", "application/json"},
                                    {"User-Agent", "tokenauth-webhooks"},
                                    {"webhook-id", d.event.id},
                                    {"webhook-timestamp", std::to_string(ts)},
                                    {"webhook-signature", signature(to->keys, d.event.id, ts, d.event.payload)}},
                                   d.event.payload, o_.timeout, o_.ca_file);
        if (r.status >= 200 && r.status < 300) {
            out.next = webhook_outcome::state::delivered;
        } else {
            out.error = r.status != 0 ? "HTTP " + std::to_string(r.status) : r.error;
            const int made = static_cast<int>(d.attempts) + 1;
            if (made >= o_.max_attempts) {
                out.next = webhook_outcome::state::dead;
            } else {
                out.next_attempt = system_clock().now() + backoff(made, o_).count() * 1'000'000;
            }
        }
    }
    db_.finish_webhook(d.row, out);
    if (out.next != webhook_outcome::state::delivered)
        log_.write(out.next == webhook_outcome::state::dead ? "webhook_dead" : "webhook_retry",
                   {{"webhook_id", d.event.id}, {"type", d.event.type}, {"url", d.endpoint},
                    {"attempts", d.attempts + 1}, {"error", out.error}});
}

}  // namespace tokenauth::server::webhooks
