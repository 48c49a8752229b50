// ReadUserFile: the one way bitsd reads a file that a caller named (a Kerberos credential
// cache, an NTLM_USER_FILE, a certificate or key of a certificate store).
//
// bitsd runs as root, so a path chosen by a user must be treated as hostile:
// - it is opened once, with the user's file-system identity (ScopedFsIdentity), so that what
//   may be opened and every error ("No such file or directory", "Permission denied") are
//   exactly what the user would get: root's view of other users' files never leaks;
// - O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC: a final symbolic link is refused, and a
//   FIFO or device neither blocks the calling thread (the bus thread, a transfer thread) nor
//   becomes our terminal;
// - the checks (regular file, owner, mode) are made on the open descriptor (fstat) and the
//   bytes are read from that same descriptor, so swapping the path between check and use
//   changes nothing;
// - at most `max_bytes` are read.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "core/ports.h"
#include "openbits/result.h"
#include "openbits/secret.h"

namespace openbits::identity {

struct UserFileRules {
  // Names the file in error messages ("the NTLM user file").
  std::string what = "the file";
  // The file must belong to the user (st_uid). Off for files another user may legitimately
  // own and share read-only (a certificate without its key).
  bool owned_by_user = true;
  // Permission bits the file must not have (0: any mode), and how to say so in the message
  // ("readable by it alone").
  mode_t forbidden_mode = S_IWGRP | S_IWOTH;
  std::string mode_rule = "writable by it alone";
  std::size_t max_bytes = 1 << 20;
  ErrorContext context = ErrorContext::kNone;
};

struct UserFileContent {
  SecretString bytes;
  mode_t mode = 0;  // st_mode of the file that was read
};

// Reads `path` as `user` under `rules`. Every failure is E_ACCESSDENIED (in rules.context)
// with a message that names the file, the path and the cause as the user would see it.
Result<UserFileContent> ReadUserFile(const core::FileOwner& user, const std::string& path,
                                     const UserFileRules& rules);

}  // namespace openbits::identity
