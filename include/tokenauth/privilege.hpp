// tokenauth: the privilege and role model.
//
// The 127 privileges of the API (in the order of the published list), a compact set of
// them, roles (name, description, privileges, member auth_ids) and effective privileges:
// the union of the privileges of every role a user holds directly or through a group.
#pragma once

#include "detail/config.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "detail/interned.hpp"
#include "detail/text.hpp"
#include "error.hpp"

namespace tokenauth {
TOKENAUTH_ABI_BEGIN

// X(identifier, wire name) for every privilege, in the published order.
#define TOKENAUTH_PRIVILEGES(X) \
    X(ad_read, "PRIVILEGE_AD_READ") \
    X(ad_use, "PRIVILEGE_AD_USE") \
    X(ad_write, "PRIVILEGE_AD_WRITE") \
    X(analytics_read, "PRIVILEGE_ANALYTICS_READ") \
    X(audit_read, "PRIVILEGE_AUDIT_READ") \
    X(audit_write, "PRIVILEGE_AUDIT_WRITE") \
    X(auth_cache_read, "PRIVILEGE_AUTH_CACHE_READ") \
    X(auth_cache_write, "PRIVILEGE_AUTH_CACHE_WRITE") \
    X(cluster_read, "PRIVILEGE_CLUSTER_READ") \
    X(cluster_write, "PRIVILEGE_CLUSTER_WRITE") \
    X(debug, "PRIVILEGE_DEBUG") \
    X(dns_read, "PRIVILEGE_DNS_READ") \
    X(dns_use, "PRIVILEGE_DNS_USE") \
    X(dns_write, "PRIVILEGE_DNS_WRITE") \
    X(file_full_access, "PRIVILEGE_FILE_FULL_ACCESS") \
    X(fs_attributes_read, "PRIVILEGE_FS_ATTRIBUTES_READ") \
    X(fs_delete_tree_read, "PRIVILEGE_FS_DELETE_TREE_READ") \
    X(fs_delete_tree_write, "PRIVILEGE_FS_DELETE_TREE_WRITE") \
    X(fs_lock_read, "PRIVILEGE_FS_LOCK_READ") \
    X(fs_lock_write, "PRIVILEGE_FS_LOCK_WRITE") \
    X(fs_settings_read, "PRIVILEGE_FS_SETTINGS_READ") \
    X(fs_settings_write, "PRIVILEGE_FS_SETTINGS_WRITE") \
    X(ftp_read, "PRIVILEGE_FTP_READ") \
    X(ftp_write, "PRIVILEGE_FTP_WRITE") \
    X(identity_mapping_read, "PRIVILEGE_IDENTITY_MAPPING_READ") \
    X(identity_mapping_write, "PRIVILEGE_IDENTITY_MAPPING_WRITE") \
    X(identity_read, "PRIVILEGE_IDENTITY_READ") \
    X(identity_write, "PRIVILEGE_IDENTITY_WRITE") \
    X(kerberos_keytab_read, "PRIVILEGE_KERBEROS_KEYTAB_READ") \
    X(kerberos_keytab_write, "PRIVILEGE_KERBEROS_KEYTAB_WRITE") \
    X(kerberos_settings_read, "PRIVILEGE_KERBEROS_SETTINGS_READ") \
    X(kerberos_settings_write, "PRIVILEGE_KERBEROS_SETTINGS_WRITE") \
    X(kv_read, "PRIVILEGE_KV_READ") \
    X(ldap_read, "PRIVILEGE_LDAP_READ") \
    X(ldap_use, "PRIVILEGE_LDAP_USE") \
    X(ldap_write, "PRIVILEGE_LDAP_WRITE") \
    X(local_group_read, "PRIVILEGE_LOCAL_GROUP_READ") \
    X(local_group_write, "PRIVILEGE_LOCAL_GROUP_WRITE") \
    X(local_user_read, "PRIVILEGE_LOCAL_USER_READ") \
    X(local_user_write, "PRIVILEGE_LOCAL_USER_WRITE") \
    X(metrics_read, "PRIVILEGE_METRICS_READ") \
    X(network_ip_allocation_read, "PRIVILEGE_NETWORK_IP_ALLOCATION_READ") \
    X(network_read, "PRIVILEGE_NETWORK_READ") \
    X(network_write, "PRIVILEGE_NETWORK_WRITE") \
    X(nfs_export_read, "PRIVILEGE_NFS_EXPORT_READ") \
    X(nfs_export_write, "PRIVILEGE_NFS_EXPORT_WRITE") \
    X(power_cycle, "PRIVILEGE_POWER_CYCLE") \
    X(quota_read, "PRIVILEGE_QUOTA_READ") \
    X(quota_write, "PRIVILEGE_QUOTA_WRITE") \
    X(reconciler_read, "PRIVILEGE_RECONCILER_READ") \
    X(replication_reverse_relationship, "PRIVILEGE_REPLICATION_REVERSE_RELATIONSHIP") \
    X(replication_source_read, "PRIVILEGE_REPLICATION_SOURCE_READ") \
    X(replication_source_write, "PRIVILEGE_REPLICATION_SOURCE_WRITE") \
    X(replication_target_read, "PRIVILEGE_REPLICATION_TARGET_READ") \
    X(replication_target_write, "PRIVILEGE_REPLICATION_TARGET_WRITE") \
    X(role_read, "PRIVILEGE_ROLE_READ") \
    X(role_write, "PRIVILEGE_ROLE_WRITE") \
    X(smb_share_read, "PRIVILEGE_SMB_SHARE_READ") \
    X(smb_share_write, "PRIVILEGE_SMB_SHARE_WRITE") \
    X(snapshot_calculate_used_capacity_read, "PRIVILEGE_SNAPSHOT_CALCULATE_USED_CAPACITY_READ") \
    X(snapshot_difference_read, "PRIVILEGE_SNAPSHOT_DIFFERENCE_READ") \
    X(snapshot_policy_read, "PRIVILEGE_SNAPSHOT_POLICY_READ") \
    X(snapshot_policy_write, "PRIVILEGE_SNAPSHOT_POLICY_WRITE") \
    X(snapshot_read, "PRIVILEGE_SNAPSHOT_READ") \
    X(snapshot_write, "PRIVILEGE_SNAPSHOT_WRITE") \
    X(support_read, "PRIVILEGE_SUPPORT_READ") \
    X(support_write, "PRIVILEGE_SUPPORT_WRITE") \
    X(test_only, "PRIVILEGE_TEST_ONLY") \
    X(time_read, "PRIVILEGE_TIME_READ") \
    X(time_write, "PRIVILEGE_TIME_WRITE") \
    X(unconfigured_node_read, "PRIVILEGE_UNCONFIGURED_NODE_READ") \
    X(upgrade_read, "PRIVILEGE_UPGRADE_READ") \
    X(upgrade_write, "PRIVILEGE_UPGRADE_WRITE") \
    X(smb_file_handle_read, "PRIVILEGE_SMB_FILE_HANDLE_READ") \
    X(smb_file_handle_write, "PRIVILEGE_SMB_FILE_HANDLE_WRITE") \
    X(smb_session_read, "PRIVILEGE_SMB_SESSION_READ") \
    X(smb_session_write, "PRIVILEGE_SMB_SESSION_WRITE") \
    X(replication_object_read, "PRIVILEGE_REPLICATION_OBJECT_READ") \
    X(replication_object_write, "PRIVILEGE_REPLICATION_OBJECT_WRITE") \
    X(encryption_write, "PRIVILEGE_ENCRYPTION_WRITE") \
    X(encryption_read, "PRIVILEGE_ENCRYPTION_READ") \
    X(nfs_settings_read, "PRIVILEGE_NFS_SETTINGS_READ") \
    X(nfs_settings_write, "PRIVILEGE_NFS_SETTINGS_WRITE") \
    X(service_public_keys_write, "PRIVILEGE_SERVICE_PUBLIC_KEYS_WRITE") \
    X(service_public_keys_read, "PRIVILEGE_SERVICE_PUBLIC_KEYS_READ") \
    X(metrics_config_read, "PRIVILEGE_METRICS_CONFIG_READ") \
    X(metrics_config_write, "PRIVILEGE_METRICS_CONFIG_WRITE") \
    X(reboot_use, "PRIVILEGE_REBOOT_USE") \
    X(reboot_read, "PRIVILEGE_REBOOT_READ") \
    X(checksumming_read, "PRIVILEGE_CHECKSUMMING_READ") \
    X(s3_settings_read, "PRIVILEGE_S3_SETTINGS_READ") \
    X(s3_settings_write, "PRIVILEGE_S3_SETTINGS_WRITE") \
    X(web_ui_settings_write, "PRIVILEGE_WEB_UI_SETTINGS_WRITE") \
    X(s3_credentials_read, "PRIVILEGE_S3_CREDENTIALS_READ") \
    X(s3_credentials_write, "PRIVILEGE_S3_CREDENTIALS_WRITE") \
    X(tenant_read, "PRIVILEGE_TENANT_READ") \
    X(tenant_write, "PRIVILEGE_TENANT_WRITE") \
    X(saml_settings_read, "PRIVILEGE_SAML_SETTINGS_READ") \
    X(saml_settings_write, "PRIVILEGE_SAML_SETTINGS_WRITE") \
    X(s3_buckets_read, "PRIVILEGE_S3_BUCKETS_READ") \
    X(s3_buckets_write, "PRIVILEGE_S3_BUCKETS_WRITE") \
    X(access_tokens_read, "PRIVILEGE_ACCESS_TOKENS_READ") \
    X(access_tokens_write, "PRIVILEGE_ACCESS_TOKENS_WRITE") \
    X(s3_uploads_read, "PRIVILEGE_S3_UPLOADS_READ") \
    X(s3_uploads_write, "PRIVILEGE_S3_UPLOADS_WRITE") \
    X(snapshot_lock, "PRIVILEGE_SNAPSHOT_LOCK") \
    X(fs_key_management_write, "PRIVILEGE_FS_KEY_MANAGEMENT_WRITE") \
    X(fs_key_management_read, "PRIVILEGE_FS_KEY_MANAGEMENT_READ") \
    X(identity_config_write, "PRIVILEGE_IDENTITY_CONFIG_WRITE") \
    X(identity_config_read, "PRIVILEGE_IDENTITY_CONFIG_READ") \
    X(file_read_access, "PRIVILEGE_FILE_READ_ACCESS") \
    X(portal_spoke_read, "PRIVILEGE_PORTAL_SPOKE_READ") \
    X(portal_spoke_write, "PRIVILEGE_PORTAL_SPOKE_WRITE") \
    X(portal_spoke_evict, "PRIVILEGE_PORTAL_SPOKE_EVICT") \
    X(portal_hub_read, "PRIVILEGE_PORTAL_HUB_READ") \
    X(portal_hub_write, "PRIVILEGE_PORTAL_HUB_WRITE") \
    X(portal_global_read, "PRIVILEGE_PORTAL_GLOBAL_READ") \
    X(fs_file_lock_write, "PRIVILEGE_FS_FILE_LOCK_WRITE") \
    X(license_read, "PRIVILEGE_LICENSE_READ") \
    X(capacity_read, "PRIVILEGE_CAPACITY_READ") \
    X(capacity_write, "PRIVILEGE_CAPACITY_WRITE") \
    X(object_storage_uris_read, "PRIVILEGE_OBJECT_STORAGE_URIS_READ") \
    X(object_storage_uris_write, "PRIVILEGE_OBJECT_STORAGE_URIS_WRITE") \
    X(disk_error_write, "PRIVILEGE_DISK_ERROR_WRITE") \
    X(disk_error_read, "PRIVILEGE_DISK_ERROR_READ") \
    X(object_storage_config_read, "PRIVILEGE_OBJECT_STORAGE_CONFIG_READ") \
    X(object_storage_config_write, "PRIVILEGE_OBJECT_STORAGE_CONFIG_WRITE")

/// Every privilege of the API. The numeric value is the position in the published list.
enum class privilege : std::uint8_t {
#define TOKENAUTH_X(id, name) id,
    TOKENAUTH_PRIVILEGES(TOKENAUTH_X)
#undef TOKENAUTH_X
};

namespace detail {
inline constexpr std::string_view privilege_names[] = {
#define TOKENAUTH_X(id, name) name,
    TOKENAUTH_PRIVILEGES(TOKENAUTH_X)
#undef TOKENAUTH_X
};
}  // namespace detail

/// Number of privileges (127).
inline constexpr std::size_t privilege_count = std::size(detail::privilege_names);

/// The wire name of a privilege ("PRIVILEGE_ACCESS_TOKENS_READ"). Never fails or allocates.
constexpr std::string_view privilege_name(privilege p) noexcept {
    return detail::privilege_names[static_cast<std::size_t>(p)];
}

/// privilege_name(p) as a string.
inline std::string to_string(privilege p) { return std::string(privilege_name(p)); }

/// The privilege with this exact wire name; fails with unknown_privilege.
inline result<privilege> parse_privilege(std::string_view name) noexcept {
    // Binary search over an index sorted by name, built once (thread-safe static).
    static const auto index = [] {
        std::array<std::uint8_t, privilege_count> idx{};
        for (std::size_t i = 0; i < privilege_count; ++i) idx[i] = static_cast<std::uint8_t>(i);
        std::sort(idx.begin(), idx.end(),
                  [](std::uint8_t a, std::uint8_t b) { return detail::privilege_names[a] < detail::privilege_names[b]; });
        return idx;
    }();
    const auto it = std::lower_bound(index.begin(), index.end(), name,
                                     [](std::uint8_t i, std::string_view n) { return detail::privilege_names[i] < n; });
    if (it == index.end() || detail::privilege_names[*it] != name) return {errc::unknown_privilege, "unknown privilege name"};
    return static_cast<privilege>(*it);
}

/// Parses a privileges file as `qq auth_create_role -p` reads it: one name per line, '#'
/// starts a comment, blank lines and surrounding spaces (and a CR before the newline) are
/// ignored. Fails with unknown_privilege (detail: which problem, never the line itself)
/// or too_long (over 1 MiB); `bad_line` gets the 1-based number of the offending line.
inline result<std::vector<privilege>> parse_privilege_list(std::string_view text, std::size_t* bad_line = nullptr) {
    if (text.size() > (1u << 20)) return {errc::too_long, "privileges file is larger than 1 MiB"};
    std::vector<privilege> out;
    std::size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        line = line.substr(0, line.find('#'));
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        line = detail::trim(line);
        if (line.empty()) continue;
        const auto p = parse_privilege(line);
        if (!p) {
            if (bad_line) *bad_line = line_no;
            return {errc::unknown_privilege, "privileges file names an unknown privilege"};
        }
        if (std::find(out.begin(), out.end(), *p) == out.end()) out.push_back(*p);
    }
    return out;
}

/// A short English description derived from the name: "Read access tokens" for
/// PRIVILEGE_ACCESS_TOKENS_READ. Never fails.
inline std::string privilege_description(privilege p) {
    std::string_view n = privilege_name(p).substr(std::string_view("PRIVILEGE_").size());
    std::string verb;
    const std::size_t last = n.rfind('_');
    const std::string_view tail = last == std::string_view::npos ? n : n.substr(last + 1);
    if (tail == "READ") verb = "Read";
    else if (tail == "WRITE") verb = "Modify";
    else if (tail == "USE") verb = "Use";
    if (!verb.empty()) n = n.substr(0, last);
    std::string object(n);
    for (char& c : object) c = c == '_' ? ' ' : static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (verb.empty()) {
        object[0] = static_cast<char>(object[0] - 'a' + 'A');
        return object;
    }
    return verb + " " + object;
}

/// A set of privileges: 128 bits, trivially copyable.
class privilege_set {
public:
    constexpr privilege_set() noexcept = default;
    privilege_set(std::initializer_list<privilege> ps) noexcept {
        for (privilege p : ps) insert(p);
    }
    /// The set of every privilege.
    static constexpr privilege_set all() noexcept {
        privilege_set s;
        s.words_[0] = ~std::uint64_t{0};
        s.words_[1] = (std::uint64_t{1} << (privilege_count - 64)) - 1;
        return s;
    }
    constexpr void insert(privilege p) noexcept { words_[index(p) / 64] |= bit(p); }
    constexpr void erase(privilege p) noexcept { words_[index(p) / 64] &= ~bit(p); }
    constexpr bool contains(privilege p) const noexcept { return (words_[index(p) / 64] & bit(p)) != 0; }
    /// True when every privilege of other is in this set.
    constexpr bool contains_all(const privilege_set& other) const noexcept {
        return (other.words_[0] & ~words_[0]) == 0 && (other.words_[1] & ~words_[1]) == 0;
    }
    constexpr bool empty() const noexcept { return (words_[0] | words_[1]) == 0; }
    std::size_t size() const noexcept {
        return static_cast<std::size_t>(__builtin_popcountll(words_[0]) + __builtin_popcountll(words_[1]));
    }
    constexpr privilege_set& operator|=(const privilege_set& o) noexcept {
        words_[0] |= o.words_[0];
        words_[1] |= o.words_[1];
        return *this;
    }
    friend constexpr privilege_set operator|(privilege_set a, const privilege_set& b) noexcept { return a |= b; }
    constexpr privilege_set& operator&=(const privilege_set& o) noexcept {
        words_[0] &= o.words_[0];
        words_[1] &= o.words_[1];
        return *this;
    }
    friend constexpr privilege_set operator&(privilege_set a, const privilege_set& b) noexcept { return a &= b; }
    /// The members of a that are not in b.
    friend constexpr privilege_set operator-(privilege_set a, const privilege_set& b) noexcept {
        a.words_[0] &= ~b.words_[0];
        a.words_[1] &= ~b.words_[1];
        return a;
    }
    /// A strict weak order (for use as a map key).
    friend constexpr bool operator<(const privilege_set& a, const privilege_set& b) noexcept {
        return a.words_[1] != b.words_[1] ? a.words_[1] < b.words_[1] : a.words_[0] < b.words_[0];
    }
    friend constexpr bool operator==(const privilege_set& a, const privilege_set& b) noexcept {
        return a.words_[0] == b.words_[0] && a.words_[1] == b.words_[1];
    }
    friend constexpr bool operator!=(const privilege_set& a, const privilege_set& b) noexcept { return !(a == b); }
    /// The members in enum order.
    std::vector<privilege> to_vector() const {
        std::vector<privilege> out;
        for (std::size_t i = 0; i < privilege_count; ++i)
            if (contains(static_cast<privilege>(i))) out.push_back(static_cast<privilege>(i));
        return out;
    }

private:
    static constexpr std::size_t index(privilege p) noexcept { return static_cast<std::size_t>(p); }
    static constexpr std::uint64_t bit(privilege p) noexcept { return std::uint64_t{1} << (index(p) % 64); }
    std::uint64_t words_[2] = {0, 0};
};

/// The distinct privilege scopes of restricted credentials, each named by a small index, so
/// that a credential record carries 4 bytes instead of a set. Index 0 is "unrestricted";
/// scopes are only ever added. scope() is lock-free and safe from any thread while intern()
/// runs; intern() serialises writers and may throw std::bad_alloc or std::length_error.
/**
 * Example:
 * @code
 *   tokenauth::scope_table scopes;
 *   std::uint32_t s = scopes.intern({tokenauth::privilege::access_tokens_read});
 *   // store s in the token_record; at each request:
 *   auto allowed = scopes.restrict(user_privileges, principal.scope);
 * @endcode
 */
class scope_table {
public:
    static constexpr std::uint32_t unrestricted = 0;

    /// The index of a scope, adding it when new. Never returns unrestricted.
    std::uint32_t intern(const privilege_set& s) { return table_.intern(s, "too many distinct token scopes"); }

    /// The privileges of scope i (every privilege for unrestricted or an index never
    /// returned by intern()).
    privilege_set scope(std::uint32_t i) const noexcept {
        const privilege_set* s = table_.get(i);
        return s == nullptr ? privilege_set::all() : *s;
    }

    /// What a credential of scope i may do for a user holding user_privileges.
    privilege_set restrict(const privilege_set& user_privileges, std::uint32_t i) const noexcept {
        return user_privileges & scope(i);
    }

private:
    detail::interned_table<privilege_set> table_;
};

/// Every privilege whose name ends in _READ (the built-in Observers role).
inline privilege_set read_privileges() noexcept {
    privilege_set s;
    for (std::size_t i = 0; i < privilege_count; ++i) {
        const std::string_view n = detail::privilege_names[i];
        if (n.size() > 5 && n.substr(n.size() - 5) == "_READ") s.insert(static_cast<privilege>(i));
    }
    return s;
}

/// A role: a named set of privileges and the auth_ids (users or groups) that hold it.
struct role {
    std::string name;
    std::string description;
    privilege_set privileges;
    std::vector<std::uint64_t> members;  ///< sorted, unique auth_ids of users and groups

    /// True when trustee is a direct member.
    bool has_member(std::uint64_t trustee) const noexcept {
        return std::binary_search(members.begin(), members.end(), trustee);
    }
    /// Adds a member (keeps members sorted); false when already a member.
    bool add_member(std::uint64_t trustee) {
        const auto it = std::lower_bound(members.begin(), members.end(), trustee);
        if (it != members.end() && *it == trustee) return false;
        members.insert(it, trustee);
        return true;
    }
    /// Removes a member; false when it was not one.
    bool remove_member(std::uint64_t trustee) noexcept {
        const auto it = std::lower_bound(members.begin(), members.end(), trustee);
        if (it == members.end() || *it != trustee) return false;
        members.erase(it);
        return true;
    }
};

/// True when the user holds the role directly or through one of its groups.
template <class GroupRange>
bool holds_role(const role& r, std::uint64_t user, const GroupRange& groups) noexcept {
    if (r.has_member(user)) return true;
    for (std::uint64_t g : groups)
        if (r.has_member(g)) return true;
    return false;
}

/// The union of the privileges of every role the user holds directly or through any of its
/// groups. Never fails.
/**
 * Example:
 * @code
 *   std::vector<std::uint64_t> groups = {513};
 *   auto eff = tokenauth::effective_privileges(roles, user_auth_id, groups);
 *   if (!eff.contains(tokenauth::privilege::access_tokens_read)) deny();
 * @endcode
 */
template <class RoleRange, class GroupRange>
privilege_set effective_privileges(const RoleRange& roles, std::uint64_t user, const GroupRange& groups) noexcept {
    privilege_set out;
    for (const role& r : roles)
        if (holds_role(r, user, groups)) out |= r.privileges;
    return out;
}

TOKENAUTH_ABI_END
}  // namespace tokenauth

#undef TOKENAUTH_PRIVILEGES  // internal: the list above, used only in this header
