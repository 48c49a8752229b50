// ScopedFsIdentity: file-system access as another user on the calling thread only.
//
// Linux keeps fsuid, fsgid and (through the raw syscall) the group list per thread, so a
// root daemon can create, rename and delete files with exactly the permissions of a job's
// owner without affecting its other threads. A daemon that is not root cannot switch and
// leaves its own identity in place (it only serves its own uid). Scopes nest: each restores
// the identity it found (uid 0 switches nothing, so it keeps the outer scope's identity).
#pragma once

#include <cstdint>
#include <vector>

#include "openbits/result.h"

namespace openbits::identity {

class ScopedFsIdentity {
 public:
  ScopedFsIdentity(std::uint32_t uid, std::uint32_t gid);
  ~ScopedFsIdentity();
  ScopedFsIdentity(const ScopedFsIdentity&) = delete;
  ScopedFsIdentity& operator=(const ScopedFsIdentity&) = delete;

  // E_ACCESSDENIED when the switch was needed and failed.
  const Status& status() const { return status_; }

 private:
  bool switched_ = false;
  std::uint32_t previous_uid_ = 0;
  std::uint32_t previous_gid_ = 0;
  std::vector<std::uint32_t> previous_groups_;
  Status status_;
};

}  // namespace openbits::identity
