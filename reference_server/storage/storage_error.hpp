// What storage reports when a write cannot be done as asked. Storage knows nothing of HTTP:
// the api layer maps each kind to a status and an error class (router.cpp).
#pragma once

#include <stdexcept>
#include <string>

namespace tokenauth::server {

class storage_error : public std::runtime_error {
public:
    enum class kind {
        not_found,      ///< a row the write names does not exist (any more)
        conflict,       ///< a unique name is taken
        limit_reached,  ///< a per-user limit (access tokens) is reached
        in_use,         ///< still referenced (a group that is someone's primary group)
        unavailable,    ///< the database cannot be reached now
    };
    storage_error(kind k, const std::string& message) : std::runtime_error(message), kind_(k) {}
    kind which() const noexcept { return kind_; }

private:
    kind kind_;
};

}  // namespace tokenauth::server
