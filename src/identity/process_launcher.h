// ProcessLauncher: core::CommandRunner for notification command lines. Each command runs as
// its user (groups, gid, uid all switched before exec), with a minimal environment, stdin and
// stdout on /dev/null, and is killed when its time limit passes. A thread per running command
// waits on a pidfd, so nothing polls.
#pragma once

#include <mutex>
#include <thread>
#include <vector>

#include "core/ports.h"

namespace openbits::identity {

class ProcessLauncher : public core::CommandRunner {
 public:
  ~ProcessLauncher() override;
  void Start(const core::CommandSpec& spec,
             std::function<void(const core::CommandOutcome&)> on_exit) override;
  void StopAll() override;

 private:
  struct Running;
  void Supervise(std::shared_ptr<Running> running, core::CommandSpec spec,
                 std::function<void(const core::CommandOutcome&)> on_exit);

  std::mutex mutex_;
  bool stopping_ = false;                          // guarded by mutex_
  std::vector<std::shared_ptr<Running>> running_;  // guarded by mutex_
};

}  // namespace openbits::identity
