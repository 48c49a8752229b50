// The state directory (jobs.db, the machine key): one bitsd at a time, and only a writable one.
#pragma once

#include <string>

#include "openbits/result.h"

namespace openbits::daemon {

class StateDirectory {
 public:
  // Creates `path` (mode 0700) if needed and takes an exclusive lock on `path`/bitsd.lock for
  // the life of the object, so two bitsd never share one queue. Fails, naming the path and
  // errno, when the directory cannot be created or written, and naming the holder's pid when
  // another bitsd holds the lock.
  static Result<StateDirectory> Acquire(const std::string& path);

  StateDirectory(StateDirectory&& other) noexcept;
  StateDirectory& operator=(StateDirectory&&) = delete;
  StateDirectory(const StateDirectory&) = delete;
  ~StateDirectory();

 private:
  explicit StateDirectory(int lock_fd) : lock_fd_(lock_fd) {}
  int lock_fd_;  // holds the lock while open
};

}  // namespace openbits::daemon
