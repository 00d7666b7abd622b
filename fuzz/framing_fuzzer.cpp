// Property: the request framer decides the same whether the bytes arrive at once or in
// pieces (as a slow or pipelining client sends them): same verdict, same length, same
// request; a request it hands on is framed again to exactly itself (the router can never
// read a different request than the framer delimited); errors are only the statuses the
// framer documents.
#include "http/framing.hpp"

#include <string>
#include <string_view>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using tokenauth::server::request_framer;
    tokenauth::server::framing_limits limits;
    limits.max_head_bytes = 2048;  // small limits so that the fuzzer reaches them
    limits.max_header_lines = 16;
    limits.max_header_line = 256;
    limits.max_request_line = 512;
    limits.max_body = 1024;
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    request_framer whole(limits);
    const auto verdict = whole.feed(input);

    // The same bytes in pieces whose sizes the first byte chooses.
    request_framer pieces(limits);
    const std::size_t step = size == 0 ? 1 : 1 + data[0] % 13;
    auto piecewise = request_framer::state::need_more;
    for (std::size_t end = 0; end < size && piecewise == request_framer::state::need_more;) {
        end = std::min(size, end + step);
        piecewise = pieces.feed(input.substr(0, end));
    }
    if (size == 0) piecewise = pieces.feed(input);
    FUZZ_CHECK(piecewise == verdict);

    if (verdict == request_framer::state::complete) {
        FUZZ_CHECK(whole.consumed() == pieces.consumed());
        FUZZ_CHECK(whole.consumed() <= size);
        const std::string request = whole.take_request();
        FUZZ_CHECK(request == pieces.take_request());
        FUZZ_CHECK(!request.empty());
        request_framer again(limits);
        FUZZ_CHECK(again.feed(request) == request_framer::state::complete);
        FUZZ_CHECK(again.consumed() == request.size());
        FUZZ_CHECK(again.take_request() == request);
    } else if (verdict == request_framer::state::error) {
        const int s = whole.error().status;
        FUZZ_CHECK(s == 400 || s == 413 || s == 414 || s == 417 || s == 431 || s == 501 || s == 505);
        FUZZ_CHECK(whole.error().status == pieces.error().status);
        FUZZ_CHECK(!whole.error().description.empty());
    }
    return 0;
}
