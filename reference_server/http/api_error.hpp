// The error a request ends with: an HTTP status and the spec's JSON error fields.
#pragma once

#include <string>

namespace tokenauth::server {

/// A failure the client caused or must be told about: becomes a JSON error response.
struct api_error {
    int status;
    std::string error_class;
    std::string description;
    int retry_after = 0;  ///< seconds; sent as Retry-After when positive (429, 503)
};

/// 400 bad_request_error: the one shape of "the request is wrong".
inline api_error bad_request(std::string description) {
    return api_error{400, "bad_request_error", std::move(description)};
}

}  // namespace tokenauth::server
