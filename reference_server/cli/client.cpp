// tokenauth-cli: the HTTPS connection and how its failures read.
#include "common.hpp"

namespace tokenauth::cli {

namespace {

std::string describe(httplib::Error e) {
    switch (e) {
    case httplib::Error::Connection: return "cannot connect to the server";
    case httplib::Error::SSLConnection: return "TLS handshake with the server failed";
    case httplib::Error::SSLServerVerification: return "the server certificate did not verify against --ca-cert";
    case httplib::Error::SSLLoadingCerts: return "cannot load the --ca-cert file";
    case httplib::Error::Read: return "the connection closed while reading the response";
    case httplib::Error::Write: return "the connection closed while sending the request";
    case httplib::Error::ConnectionTimeout: return "timed out connecting to the server";
    default: return "request failed: " + httplib::to_string(e);
    }
}

}  // namespace

namespace {
const std::string& required_host(const globals& g) {
    if (g.host.empty()) throw cli_error{"Error: --host is required"};
    return g.host;
}
}  // namespace

connection::connection(const globals& g, bool authenticate) : g_(g), client_(required_host(g), g.port) {
    if (g.ca_cert.empty()) {
        client_.enable_server_certificate_verification(false);
    } else {
        client_.set_ca_cert_path(g.ca_cert.c_str());
        client_.enable_server_certificate_verification(true);
    }
    client_.set_keep_alive(true);
    client_.set_connection_timeout(10, 0);
    client_.set_read_timeout(60, 0);
    client_.set_default_headers({{"User-Agent", "tokenauth-cli"}});
    if (authenticate) bearer_ = read_credentials(g.credentials_store);
}

json connection::call(const std::string& method, const std::string& path, const std::optional<json>& body) {
    httplib::Headers headers;
    if (!bearer_.empty()) headers.emplace("Authorization", "Bearer " + bearer_);
    const std::string text = body ? body->dump() : "";
    httplib::Result r = method == "GET"     ? client_.Get(path, headers)
                        : method == "POST"  ? client_.Post(path, headers, text, "application/json")
                        : method == "PUT"   ? client_.Put(path, headers, text, "application/json")
                        : method == "PATCH" ? client_.Patch(path, headers, text, "application/json")
                                            : client_.Delete(path, headers, text, "application/json");
    if (!r) throw cli_error{"Error: " + describe(r.error()) + " (" + g_.host + ":" + std::to_string(g_.port) + ")"};
    const json parsed = r->body.empty() ? json() : json::parse(r->body, nullptr, false);
    if (r->status < 200 || r->status > 299) {
        if (parsed.is_object() && parsed.contains("error_class"))
            throw cli_error{"Error " + std::to_string(r->status) + ": " + parsed.value("error_class", "") + ": " +
                            parsed.value("description", "")};
        throw cli_error{"Error " + std::to_string(r->status) + ": " + r->body.substr(0, 200)};
    }
    if (parsed.is_discarded()) throw cli_error{"Error: the server sent a response that is not JSON"};
    return parsed;
}

}  // namespace tokenauth::cli
