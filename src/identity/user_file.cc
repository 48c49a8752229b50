#include "identity/user_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "identity/fs_identity.h"

namespace openbits::identity {
namespace {

// Opens `path` as `user`: the user's permissions decide, and errno is what the user would
// see. Returns the descriptor or -errno.
int OpenAsUser(const core::FileOwner& user, const std::string& path, Status* identity_status) {
  ScopedFsIdentity as_user(user.uid, user.gid);
  if (!as_user.status()) {
    *identity_status = as_user.status();
    return -EPERM;
  }
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  return fd >= 0 ? fd : -errno;
}

}  // namespace

Result<UserFileContent> ReadUserFile(const core::FileOwner& user, const std::string& path,
                                     const UserFileRules& rules) {
  const std::string named = rules.what + " '" + path + "'";
  auto refuse = [&](const std::string& why) {
    return Error(hr::E_ACCESSDENIED, rules.context, named + " " + why);
  };
  Status identity_status;
  const int fd = OpenAsUser(user, path, &identity_status);
  if (!identity_status) return identity_status.error();
  if (fd < 0) {
    // O_NOFOLLOW answers ELOOP for a final symbolic link (the user may lstat it anyway).
    if (-fd == ELOOP) return refuse("is a symbolic link (not followed)");
    return refuse(std::string("cannot be opened: ") + std::strerror(-fd));
  }
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  // Everything below looks at what was opened, never at the path again.
  struct stat info {};
  if (fstat(fd, &info) != 0) return refuse(std::string("cannot be examined: ") + strerror(errno));
  if (!S_ISREG(info.st_mode)) return refuse("is not a regular file");
  if ((rules.owned_by_user && info.st_uid != user.uid) ||
      (info.st_mode & rules.forbidden_mode) != 0) {
    return refuse("must belong to uid " + std::to_string(user.uid) + " and be " + rules.mode_rule);
  }
  if (static_cast<std::uint64_t>(info.st_size) > rules.max_bytes) {
    return refuse("is larger than " + std::to_string(rules.max_bytes) + " bytes");
  }
  // Read up to one byte past the limit: a file that grew since fstat is refused as well.
  const std::size_t limit = rules.max_bytes + 1;
  std::string bytes(std::min<std::size_t>(static_cast<std::size_t>(info.st_size) + 1, limit), '\0');
  std::size_t have = 0;
  for (;;) {
    if (have == bytes.size()) {
      if (bytes.size() == limit) break;
      std::string larger(std::min(bytes.size() * 2, limit), '\0');
      larger.replace(0, have, bytes, 0, have);
      explicit_bzero(bytes.data(), have);
      bytes.swap(larger);
    }
    const ssize_t got = read(fd, bytes.data() + have, bytes.size() - have);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int error = errno;
      explicit_bzero(bytes.data(), have);
      return refuse(std::string("cannot be read: ") + std::strerror(error));
    }
    if (got == 0) break;
    have += static_cast<std::size_t>(got);
  }
  if (have > rules.max_bytes) {
    explicit_bzero(bytes.data(), have);
    return refuse("is larger than " + std::to_string(rules.max_bytes) + " bytes");
  }
  bytes.resize(have);
  UserFileContent content;
  content.bytes = SecretString(std::move(bytes));
  content.mode = info.st_mode;
  return content;
}

}  // namespace openbits::identity
