// Where an identity keeps its own logon secrets on Linux, for the credentials a job uses
// without naming them: the NTLM account file of implicit NTLM when the client sent no
// NTLM_USER_FILE, and the stored proxy credentials of USE_STORED_CREDENTIALS (~/.netrc).
// The paths come from bitsd.conf patterns; the files are always read as the identity
// (identity::ReadUserFile), never as root.
#pragma once

#include <cstdint>
#include <string>

#include "openbits/result.h"

namespace openbits::auth {

// `pattern` with "%{uid}" replaced by the uid and "%{home}" by the user's home directory
// (getpwuid_r). E_ACCESSDENIED when the pattern needs a home and the user has none.
Result<std::string> ExpandUserPath(const std::string& pattern, std::uint32_t uid);

}  // namespace openbits::auth
