// PosixLocalFileSystem: the job's local files, created, written, renamed and deleted with the
// owner's file-system identity (never as root on a path a user chose), relative to an open
// directory, without following a symlink in the last component.
#pragma once

#include "core/ports.h"

namespace openbits::identity {

class PosixLocalFileSystem : public core::LocalFileSystem {
 public:
  Status CheckDestination(const core::FileOwner& owner, const std::string& path) override;
  Result<std::unique_ptr<core::TempFile>> OpenTemp(const core::FileOwner& owner,
                                                   const std::string& temp_path,
                                                   std::uint64_t keep_bytes) override;
  Status CommitTemp(const core::FileOwner& owner, const std::string& temp_path,
                    const std::string& final_path, std::int64_t mtime_us,
                    std::uint32_t mode) override;
  std::vector<Status> CommitTemps(const core::FileOwner& owner,
                                  const std::vector<TempCommit>& batch) override;
  Status Remove(const core::FileOwner& owner, const std::string& path) override;
  Status GiveTemp(const core::FileOwner& new_owner, const std::string& temp_path) override;
};

}  // namespace openbits::identity
