// The web UI's files, compiled into the binary (embed.cmake writes the table).
#pragma once

#include <cstddef>
#include <string_view>

namespace tokenauth::server::ui {

struct asset {
    const char* name;          ///< file name in reference_server/ui/
    const char* content_type;
    const unsigned char* data;
    std::size_t size;
};

extern const asset assets[];
extern const std::size_t asset_count;

/// The asset with this file name, or nullptr.
inline const asset* find_asset(std::string_view name) noexcept {
    for (std::size_t i = 0; i < asset_count; ++i)
        if (name == assets[i].name) return &assets[i];
    return nullptr;
}

}  // namespace tokenauth::server::ui
