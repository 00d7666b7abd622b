// HTTP/1.1 request framing (RFC 9112) with limits, before any request reaches a handler.
//
// The transport buffers what a client sends and asks the framer, each time more arrives,
// whether the buffer now starts with one complete request. The framer decides where that
// request ends (its head, then a Content-Length or chunked body) and nothing else; the
// router parses the request it hands on. Each limit is checked as soon as the bytes that
// break it arrive, so a client never makes the server buffer more than the limits allow:
//
//   request line > max_request_line                 414
//   a header line > max_header_line, more than      431
//   max_header_lines lines, head > max_head_bytes
//   bare LF, obs-fold, space before ':', bad name,  400 (and the connection closes)
//   control characters, bad request line,
//   Content-Length not 1*DIGIT, conflicting
//   Content-Lengths, Content-Length with
//   Transfer-Encoding, bad chunk syntax
//   Transfer-Encoding other than "chunked"          501
//   Content-Length or decoded chunks > max_body     413
//
// A complete request is handed on as `request` bytes: the original bytes when the request
// was plain, else a normalised copy (chunked body decoded, Content-Length set, Expect
// removed: the transport answers 100-continue itself). Nothing after the request's last
// byte is ever part of it: pipelined requests stay in the buffer for the next call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tokenauth::server {

struct framing_limits {
    std::size_t max_request_line = 8192;
    std::size_t max_header_line = 4096;
    std::size_t max_header_lines = 100;
    std::size_t max_head_bytes = 16 * 1024;
    std::size_t max_body = 64 * 1024;
};

/// Why a request cannot be served; the connection is closed after the answer.
struct framing_error {
    int status = 400;
    const char* error_class = "bad_request_error";
    std::string description;
};

class request_framer {
public:
    enum class state { need_more, complete, error };

    explicit request_framer(const framing_limits& limits) : limits_(limits) {}

    /// Looks at the buffer, which starts where the current request starts (the same buffer,
    /// grown, on every call until reset). Complete: consumed() bytes form the request.
    state feed(std::string_view buffer);

    bool head_complete() const noexcept { return phase_ != phase::head; }
    /// The request asked for "100 Continue" before sending its body.
    bool expects_continue() const noexcept { return expect_continue_; }
    /// Bytes of the buffer the complete request took (leading empty lines included).
    std::size_t consumed() const noexcept { return consumed_; }
    /// The complete request, as the router is to read it.
    std::string take_request() { return std::move(request_); }
    const framing_error& error() const noexcept { return error_; }
    /// Ready for the next request.
    void reset() noexcept;

private:
    enum class phase { head, length_body, chunk_size, chunk_data, chunk_data_end, trailers, done };

    state fail(int status, const char* error_class, std::string description);
    state check_unfinished_line(std::size_t end);
    state scan_head(std::string_view b);
    state on_head_line(std::string_view b, std::size_t start, std::size_t end);
    state finish_head(std::string_view b);
    state scan_body(std::string_view b);
    void complete(std::string_view b, std::size_t end);

    framing_limits limits_;
    phase phase_ = phase::head;
    std::size_t pos_ = 0;          ///< everything before pos_ is scanned
    std::size_t request_start_ = 0;  ///< after leading empty lines
    std::size_t header_lines_ = 0;
    std::size_t leading_empty_lines_ = 0;
    std::size_t head_end_ = 0;
    std::size_t line_start_ = 0;
    // What the head said.
    bool http10_ = false;
    bool has_length_ = false;
    std::uint64_t length_ = 0;
    bool chunked_ = false;
    bool expect_continue_ = false;
    bool rewrite_ = false;  ///< the request must be normalised before it is handed on
    std::string kept_head_;  ///< the head without framing headers, when rewriting
    // Chunked body.
    std::uint64_t chunk_left_ = 0;
    std::size_t trailer_bytes_ = 0;
    std::size_t trailer_lines_ = 0;
    std::string body_;
    // Outcome.
    std::size_t consumed_ = 0;
    std::string request_;
    framing_error error_;
};

}  // namespace tokenauth::server
