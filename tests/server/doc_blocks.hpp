// The code blocks of the Markdown docs, for tests that run them as printed.
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "server_process.hpp"

namespace test_server {

/// The ```lang block after the `<!-- walkthrough:marker -->` comment in a Markdown file.
inline std::string block_after(const std::string& marker, const std::string& file, const std::string& lang = "sh") {
    const std::string text = read_file(file);
    const auto at = text.find("<!-- walkthrough:" + marker + " -->");
    REQUIRE(at != std::string::npos);
    const std::string open = "```" + lang + "\n";
    const auto start = text.find(open, at);
    REQUIRE(start != std::string::npos);
    const auto end = text.find("```\n", start + open.size());
    REQUIRE(end != std::string::npos);
    return text.substr(start + open.size(), end - start - open.size());
}

inline void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
}

}  // namespace test_server
