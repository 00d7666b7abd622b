#include "framing.hpp"

#include <algorithm>

#include "../text.hpp"

namespace tokenauth::server {
namespace {

constexpr std::size_t max_leading_empty_lines = 8;

bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool all_tchar(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }

/// Control characters other than HT (and DEL) never appear in a field value.
bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return (c < 0x20 && c != '\t') || c == 0x7f;
    });
}

/// Header names the framer owns: dropped when the request is normalised.
bool is_framing_header(std::string_view name) {
    return text::iequals(name, "content-length") || text::iequals(name, "transfer-encoding") || text::iequals(name, "expect");
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

void request_framer::reset() noexcept {
    const framing_limits limits = limits_;
    *this = request_framer(limits);
}

request_framer::state request_framer::fail(int status, const char* error_class, std::string description) {
    error_ = framing_error{status, error_class, std::move(description)};
    return state::error;
}

request_framer::state request_framer::feed(std::string_view b) {
    if (!error_.description.empty()) return state::error;
    if (phase_ == phase::done) return state::complete;
    if (phase_ == phase::head) return scan_head(b);
    return scan_body(b);
}

request_framer::state request_framer::check_unfinished_line(std::size_t end) {
    const std::size_t partial = end - line_start_;
    if (line_start_ == request_start_ && partial > limits_.max_request_line + 1)
        return fail(414, "uri_too_long_error",
                    "the request line is longer than " + std::to_string(limits_.max_request_line) + " bytes");
    if (line_start_ != request_start_ && partial > limits_.max_header_line + 1)
        return fail(431, "request_header_too_large_error",
                    "a header line is longer than " + std::to_string(limits_.max_header_line) + " bytes");
    if (end - request_start_ > limits_.max_head_bytes)
        return fail(431, "request_header_too_large_error",
                    "the request head is larger than " + std::to_string(limits_.max_head_bytes) + " bytes");
    return state::need_more;
}

request_framer::state request_framer::scan_head(std::string_view b) {
    for (;;) {
        const std::size_t nl = b.find('\n', pos_);
        const bool request_line = line_start_ == request_start_;
        // The limits an unfinished line is held to apply to a finished one first, as if the
        // buffer ended just before its LF: the verdict never depends on how bytes arrive.
        if (check_unfinished_line(nl == std::string_view::npos ? b.size() : nl) == state::error) return state::error;
        if (nl == std::string_view::npos) {
            pos_ = b.size();
            return state::need_more;
        }
        if (nl == line_start_ || b[nl - 1] != '\r') return fail(400, "bad_request_error", "request lines must end in CRLF");
        const std::size_t line_end = nl - 1;
        pos_ = nl + 1;
        if (line_end == line_start_) {  // an empty line
            if (request_line) {
                // RFC 9112 2.2: ignore empty lines before the request line (a few).
                if (++leading_empty_lines_ > max_leading_empty_lines)
                    return fail(400, "bad_request_error", "too many empty lines before the request line");
                request_start_ = line_start_ = nl + 1;
                continue;
            }
            head_end_ = nl + 1;
            if (head_end_ - request_start_ > limits_.max_head_bytes)
                return fail(431, "request_header_too_large_error",
                            "the request head is larger than " + std::to_string(limits_.max_head_bytes) + " bytes");
            return finish_head(b);
        }
        const state s = on_head_line(b, line_start_, line_end);
        if (s == state::error) return s;
        line_start_ = nl + 1;
        if (line_start_ - request_start_ > limits_.max_head_bytes)
            return fail(431, "request_header_too_large_error",
                        "the request head is larger than " + std::to_string(limits_.max_head_bytes) + " bytes");
    }
}

request_framer::state request_framer::on_head_line(std::string_view b, std::size_t start, std::size_t end) {
    const std::string_view line = b.substr(start, end - start);
    if (start == request_start_) {
        if (line.size() > limits_.max_request_line)
            return fail(414, "uri_too_long_error",
                        "the request line is longer than " + std::to_string(limits_.max_request_line) + " bytes");
        const std::size_t sp1 = line.find(' ');
        const std::size_t sp2 = line.rfind(' ');
        if (sp1 == std::string_view::npos || sp2 == sp1) return fail(400, "bad_request_error", "malformed request line");
        const std::string_view method = line.substr(0, sp1);
        const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        const std::string_view version = line.substr(sp2 + 1);
        const bool target_ok = !target.empty() && std::all_of(target.begin(), target.end(), [](char ch) {
            const auto c = static_cast<unsigned char>(ch);
            return c > 0x20 && c < 0x7f;
        });
        if (!all_tchar(method) || !target_ok) return fail(400, "bad_request_error", "malformed request line");
        if (version == "HTTP/1.0") http10_ = true;
        else if (version != "HTTP/1.1")
            return fail(505, "http_version_not_supported_error", "only HTTP/1.1 and HTTP/1.0 are supported");
        return state::need_more;
    }
    if (++header_lines_ > limits_.max_header_lines)
        return fail(431, "request_header_too_large_error",
                    "more than " + std::to_string(limits_.max_header_lines) + " header lines");
    if (line.size() > limits_.max_header_line)
        return fail(431, "request_header_too_large_error",
                    "a header line is longer than " + std::to_string(limits_.max_header_line) + " bytes");
    if (line.front() == ' ' || line.front() == '\t')
        return fail(400, "bad_request_error", "folded header lines (obs-fold) are not accepted");
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !all_tchar(line.substr(0, colon)))
        return fail(400, "bad_request_error", "malformed header line");
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = text::trim(line.substr(colon + 1));
    if (has_control(value)) return fail(400, "bad_request_error", "control character in a header value");
    if (text::iequals(name, "content-length")) {
        if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return fail(400, "bad_request_error", "Content-Length must be a non-negative decimal integer");
        const std::size_t digits = value.size() - std::min(value.find_first_not_of('0'), value.size());
        std::uint64_t v = 0;
        if (digits > 18) v = UINT64_MAX;
        else
            for (char c : value) v = v * 10 + static_cast<std::uint64_t>(c - '0');
        if (has_length_ && v != length_) return fail(400, "bad_request_error", "conflicting Content-Length headers");
        has_length_ = true;
        length_ = v;
    } else if (text::iequals(name, "transfer-encoding")) {
        if (chunked_ || !text::iequals(value, "chunked"))
            return fail(501, "not_implemented_error", "the only transfer coding accepted is a single 'chunked'");
        chunked_ = true;
    } else if (text::iequals(name, "expect")) {
        if (!text::iequals(value, "100-continue"))
            return fail(417, "expectation_failed_error", "the only expectation accepted is 100-continue");
        expect_continue_ = true;
    }
    return state::need_more;
}

request_framer::state request_framer::finish_head(std::string_view b) {
    if (chunked_ && has_length_)
        return fail(400, "bad_request_error", "a request cannot have both Content-Length and Transfer-Encoding");
    if (chunked_ && http10_) return fail(400, "bad_request_error", "HTTP/1.0 has no chunked transfer coding");
    if (has_length_ && length_ > limits_.max_body)
        return fail(413, "request_too_large_error",
                    "request body is larger than " + std::to_string(limits_.max_body / 1024) + " KiB");
    rewrite_ = chunked_ || expect_continue_;
    if (rewrite_) {
        // The head without the framing headers; the body's length is appended when known.
        std::size_t start = request_start_;
        while (start < head_end_ - 2) {
            const std::size_t end = b.find('\n', start) + 1;
            const std::string_view line = b.substr(start, end - start);
            const std::size_t colon = line.find(':');
            if (start == request_start_ || colon == std::string_view::npos || !is_framing_header(line.substr(0, colon)))
                kept_head_.append(line);
            start = end;
        }
    }
    pos_ = line_start_ = head_end_;
    if (chunked_) phase_ = phase::chunk_size;
    else if (has_length_ && length_ > 0) phase_ = phase::length_body;
    else {
        complete(b, head_end_);
        return state::complete;
    }
    return scan_body(b);
}

request_framer::state request_framer::scan_body(std::string_view b) {
    for (;;) {
        switch (phase_) {
        case phase::length_body:
            if (b.size() - head_end_ < length_) return state::need_more;
            complete(b, head_end_ + static_cast<std::size_t>(length_));
            return state::complete;
        case phase::chunk_size:
        case phase::trailers: {
            const std::size_t nl = b.find('\n', pos_);
            if ((nl == std::string_view::npos ? b.size() : nl) - line_start_ > limits_.max_header_line + 1)
                return fail(400, "bad_request_error", "a chunk size or trailer line is too long");
            if (nl == std::string_view::npos) {
                pos_ = b.size();
                return state::need_more;
            }
            if (nl == line_start_ || b[nl - 1] != '\r') return fail(400, "bad_request_error", "chunk lines must end in CRLF");
            const std::string_view line = b.substr(line_start_, nl - 1 - line_start_);
            pos_ = line_start_ = nl + 1;
            if (phase_ == phase::trailers) {
                if (line.empty()) {
                    complete(b, nl + 1);
                    return state::complete;
                }
                trailer_bytes_ += line.size() + 2;
                if (++trailer_lines_ > limits_.max_header_lines || trailer_bytes_ > limits_.max_head_bytes)
                    return fail(431, "request_header_too_large_error", "the chunked trailer section is too large");
                if (has_control(line)) return fail(400, "bad_request_error", "control character in a trailer");
                break;
            }
            std::size_t i = 0;
            std::uint64_t size = 0;
            for (; i < line.size() && hex_value(line[i]) >= 0; ++i) {
                if (i >= 16) return fail(413, "request_too_large_error", "a chunk is larger than the body limit");
                size = size * 16 + static_cast<std::uint64_t>(hex_value(line[i]));
            }
            const std::string_view rest = text::trim(line.substr(i));
            if (i == 0 || (!rest.empty() && rest.front() != ';') || has_control(rest))
                return fail(400, "bad_request_error", "malformed chunk size line");
            if (size > limits_.max_body - body_.size())
                return fail(413, "request_too_large_error",
                            "request body is larger than " + std::to_string(limits_.max_body / 1024) + " KiB");
            chunk_left_ = size;
            phase_ = size == 0 ? phase::trailers : phase::chunk_data;
            break;
        }
        case phase::chunk_data: {
            const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(b.size() - pos_, chunk_left_));
            body_.append(b.substr(pos_, take));
            pos_ += take;
            chunk_left_ -= take;
            if (chunk_left_ > 0) return state::need_more;
            phase_ = phase::chunk_data_end;
            break;
        }
        case phase::chunk_data_end:
            if (b.size() - pos_ < 2) return state::need_more;
            if (b.substr(pos_, 2) != "\r\n") return fail(400, "bad_request_error", "chunk data must end in CRLF");
            pos_ = line_start_ = pos_ + 2;
            phase_ = phase::chunk_size;
            break;
        case phase::head:
        case phase::done: return state::complete;
        }
    }
}

void request_framer::complete(std::string_view b, std::size_t end) {
    consumed_ = end;
    phase_ = phase::done;
    if (!rewrite_) {
        request_.assign(b.substr(request_start_, end - request_start_));
        return;
    }
    const std::string_view body =
        chunked_ ? std::string_view(body_) : b.substr(head_end_, static_cast<std::size_t>(length_));
    request_ = std::move(kept_head_);
    request_ += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    request_.append(body);
}

}  // namespace tokenauth::server
