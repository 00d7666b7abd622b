// tokenauth-cli: output (JSON, qq's tables) and the password prompt.
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "common.hpp"

namespace tokenauth::cli {

void print_json(const json& j) { std::cout << j.dump(4) << "\n"; }

std::string display_identity(const json& id) {
    if (id.is_object()) {
        if (id.contains("name") && id["name"].is_string()) return id["name"].get<std::string>();
        if (id.contains("auth_id") && id["auth_id"].is_string()) return "auth_id:" + id["auth_id"].get<std::string>();
    }
    return "";
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
    if (rows.empty()) return;
    std::vector<std::size_t> width(rows[0].size(), 0);
    for (const auto& row : rows)
        for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    auto print_row = [&](const std::vector<std::string>& row) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
        }
        std::cout << line << "\n";
    };
    print_row(rows[0]);
    std::vector<std::string> rule;
    for (std::size_t w : width) rule.emplace_back(w, '=');
    print_row(rule);
    for (std::size_t r = 1; r < rows.size(); ++r) print_row(rows[r]);
}

std::string prompt_password(const char* prompt) {
    std::cerr << prompt << std::flush;
    termios old {};
    const bool tty = ::tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        termios quiet = old;
        quiet.c_lflag &= static_cast<tcflag_t>(~ECHO);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::string pw;
    std::getline(std::cin, pw);
    if (tty) ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
    return pw;
}

}  // namespace tokenauth::cli
