// Users and groups of the local machine, as the daemon sees its callers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace openbits::identity {

// The user name of a uid, or "uid:N" when it has none.
std::string UserName(std::uint32_t uid);
// Whether the user database knows `uid` (a deleted user's uid is not).
bool UserExists(std::uint32_t uid);
// The uid of the user named `name`, or nullopt when the user database has none.
std::optional<std::uint32_t> UidOfName(const std::string& name);
// The primary group of a uid from the user database; the uid itself when it has no entry
// (as for a uid that only exists in a container or a test).
std::uint32_t PrimaryGid(std::uint32_t uid);
// The supplementary groups of a uid (empty when it has no entry).
std::vector<std::uint32_t> SupplementaryGroups(std::uint32_t uid);
// Root, or a member of `admin_group` (by name; a missing group makes nobody else admin).
bool IsAdmin(std::uint32_t uid, const std::string& admin_group);

}  // namespace openbits::identity
