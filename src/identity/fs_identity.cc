#include "identity/fs_identity.h"

#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "identity/users.h"

namespace openbits::identity {
namespace {

// glibc's setgroups() changes every thread; the raw syscall changes only this one.
int SetThreadGroups(const std::vector<gid_t>& groups) {
  return static_cast<int>(syscall(SYS_setgroups, groups.size(), groups.data()));
}

}  // namespace

ScopedFsIdentity::ScopedFsIdentity(std::uint32_t uid, std::uint32_t gid) {
  if (geteuid() != 0 || uid == 0) return;  // nothing to switch (see the header)
  previous_uid_ = static_cast<std::uint32_t>(setfsuid(static_cast<uid_t>(-1)));
  previous_gid_ = static_cast<std::uint32_t>(setfsgid(static_cast<gid_t>(-1)));
  std::vector<gid_t> current(static_cast<std::size_t>(std::max(getgroups(0, nullptr), 0)));
  current.resize(static_cast<std::size_t>(
      std::max(getgroups(static_cast<int>(current.size()), current.data()), 0)));
  previous_groups_.assign(current.begin(), current.end());
  const auto supplementary = SupplementaryGroups(uid);
  const std::vector<gid_t> groups(supplementary.begin(), supplementary.end());
  if (SetThreadGroups(groups) != 0) {
    status_ = Error::AccessDenied("cannot take on the groups of uid " + std::to_string(uid));
    return;
  }
  setfsgid(gid);
  setfsuid(uid);
  switched_ = true;
  // setfsuid reports the previous value, never an error: read back to be sure.
  if (static_cast<std::uint32_t>(setfsuid(static_cast<uid_t>(-1))) != uid ||
      static_cast<std::uint32_t>(setfsgid(static_cast<gid_t>(-1))) != gid) {
    status_ = Error::AccessDenied("cannot take on the file-system identity of uid " +
                                  std::to_string(uid));
  }
}

ScopedFsIdentity::~ScopedFsIdentity() {
  if (!switched_) return;
  setfsuid(previous_uid_);
  setfsgid(previous_gid_);
  SetThreadGroups(std::vector<gid_t>(previous_groups_.begin(), previous_groups_.end()));
}

}  // namespace openbits::identity
