#include "daemon/state_directory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "base/errno_text.h"
#include "base/log.h"

namespace openbits::daemon {
namespace {

Error StateDirectoryError(const std::string& what, int error_number) {
  const HRESULT code = error_number == EACCES || error_number == EPERM || error_number == EROFS
                           ? hr::E_ACCESSDENIED
                           : hr::E_FAIL;
  return Error(code, ErrorContext::kGeneralQueueManager, what + ": " + ErrnoText(error_number));
}

}  // namespace

Result<StateDirectory> StateDirectory::Acquire(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return StateDirectoryError("cannot create the state directory " + path, ec.value());

  // Opening the lock file for writing is also the check that the directory is writable:
  // bitsd must not start on a queue it could not record.
  const std::string lock_path = path + "/bitsd.lock";
  const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return StateDirectoryError(
        "the state directory " + path + " is not writable: cannot open " + lock_path, errno);
  }
  StateDirectory directory(fd);
  // A POSIX record lock, so that F_GETLK can name the holder. The kernel drops it when bitsd
  // exits, however it exits: a stale lock file never blocks a start.
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (fcntl(fd, F_SETLK, &lock) != 0) {
    const int error_number = errno;
    if (error_number != EACCES && error_number != EAGAIN) {
      return StateDirectoryError("cannot lock " + lock_path, error_number);
    }
    struct flock holder {};
    holder.l_type = F_WRLCK;
    holder.l_whence = SEEK_SET;
    const bool known = fcntl(fd, F_GETLK, &holder) == 0 && holder.l_type != F_UNLCK;
    return Error(hr::E_FAIL, ErrorContext::kGeneralQueueManager,
                 "the state directory " + path + " is in use by another bitsd (" +
                     (known ? "pid " + std::to_string(holder.l_pid) : "pid unknown") + " holds " +
                     lock_path + "); only one bitsd may serve a queue");
  }
  if (chmod(path.c_str(), 0700) != 0) {
    return StateDirectoryError("cannot make the state directory " + path + " private", errno);
  }
  // The pid is for people (the lock itself names the holder); failing to write it is no reason
  // to stop.
  const std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    log::Get("daemon")->warn("Failed to write the pid to {}: {}", lock_path, ErrnoText(errno));
  }
  return directory;
}

StateDirectory::StateDirectory(StateDirectory&& other) noexcept : lock_fd_(other.lock_fd_) {
  other.lock_fd_ = -1;
}

StateDirectory::~StateDirectory() {
  if (lock_fd_ >= 0) close(lock_fd_);
}

}  // namespace openbits::daemon
