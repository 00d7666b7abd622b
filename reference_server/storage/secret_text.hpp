// secret_text: a string that holds a secret the server shows once (a created bearer token, a
// generated admin password). Move-only, named where it travels, and wiped when destroyed.
#pragma once

#include <tokenauth/detail/wipe.hpp>

#include <string>
#include <utility>

namespace tokenauth::server {

class secret_text {
public:
    explicit secret_text(std::string s) noexcept : s_(std::move(s)) {}
    secret_text(secret_text&& o) noexcept : s_(std::move(o.s_)) {}
    secret_text& operator=(secret_text&& o) noexcept {
        if (this != &o) {
            clear();
            s_ = std::move(o.s_);
        }
        return *this;
    }
    secret_text(const secret_text&) = delete;
    secret_text& operator=(const secret_text&) = delete;
    ~secret_text() { clear(); }

    const std::string& str() const noexcept { return s_; }
    /// Overwrites the characters with zeros and empties the string (its buffer is kept).
    void clear() noexcept {
        wipe(s_.data(), s_.size());
        s_.clear();
    }

private:
    std::string s_;
};

}  // namespace tokenauth::server
