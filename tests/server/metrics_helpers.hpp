// Reading a server's /metrics in tests: through its --metrics-listen listener.
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "server_process.hpp"

namespace test_server {

/// The port of the server's --metrics-listen listener (from its "listening" log line).
inline int metrics_port(const server_process& s) {
    const std::string log = s.log();
    const auto at = log.find("\"event\":\"listening\"");
    const auto start = log.rfind('\n', at);
    const auto line = log.substr(start == std::string::npos ? 0 : start + 1,
                                 log.find('\n', at) - (start == std::string::npos ? 0 : start + 1));
    return nlohmann::json::parse(line).at("metrics_port").get<int>();
}

/// The Prometheus text exposition, from the metrics listener.
inline std::string scrape(const server_process& s) {
    httplib::Client c("127.0.0.1", metrics_port(s));
    const auto r = c.Get("/metrics");
    if (!r || r->status != 200) throw std::runtime_error("scrape failed");
    return r->body;
}

/// The value of the sample named exactly `sample` (name and labels as printed), as an
/// integer; throws when the exposition has no such sample.
inline std::uint64_t metric(const std::string& exposition, const std::string& sample) {
    const std::string key = "\n" + sample + " ";
    const auto at = ("\n" + exposition).find(key);
    if (at == std::string::npos) throw std::runtime_error("no sample " + sample);
    return std::stoull(exposition.substr(at + key.size() - 1));
}

}  // namespace test_server
