#include "identity/users.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>

namespace openbits::identity {
namespace {

bool LookUp(std::uint32_t uid, passwd& entry, std::vector<char>& buffer) {
  passwd* result = nullptr;
  buffer.resize(16384);
  return getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &result) == 0 && result;
}

}  // namespace

std::string UserName(std::uint32_t uid) {
  passwd entry{};
  std::vector<char> buffer;
  if (LookUp(uid, entry, buffer)) return entry.pw_name;
  return "uid:" + std::to_string(uid);
}

bool UserExists(std::uint32_t uid) {
  passwd entry{};
  std::vector<char> buffer;
  return LookUp(uid, entry, buffer);
}

std::optional<std::uint32_t> UidOfName(const std::string& name) {
  passwd entry{};
  passwd* result = nullptr;
  std::vector<char> buffer(16384);
  if (getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &result) != 0 || !result) {
    return std::nullopt;
  }
  return entry.pw_uid;
}

std::uint32_t PrimaryGid(std::uint32_t uid) {
  passwd entry{};
  std::vector<char> buffer;
  if (LookUp(uid, entry, buffer)) return entry.pw_gid;
  return uid;
}

std::vector<std::uint32_t> SupplementaryGroups(std::uint32_t uid) {
  passwd entry{};
  std::vector<char> buffer;
  if (!LookUp(uid, entry, buffer)) return {};
  int count = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  while (getgrouplist(entry.pw_name, entry.pw_gid, groups.data(), &count) < 0) {
    groups.resize(static_cast<std::size_t>(count));
  }
  groups.resize(static_cast<std::size_t>(count));
  return {groups.begin(), groups.end()};
}

bool IsAdmin(std::uint32_t uid, const std::string& admin_group) {
  if (uid == 0) return true;
  if (admin_group.empty()) return false;
  group entry{};
  group* result = nullptr;
  std::vector<char> buffer(16384);
  if (getgrnam_r(admin_group.c_str(), &entry, buffer.data(), buffer.size(), &result) != 0 ||
      !result) {
    return false;
  }
  const auto groups = SupplementaryGroups(uid);
  return std::find(groups.begin(), groups.end(), entry.gr_gid) != groups.end();
}

}  // namespace openbits::identity
