// USE_STORED_CREDENTIALS (job property 7) on Linux: an identity's stored proxy credentials are
// the "machine" entries of its netrc file (default ~/.netrc, [auth] stored_credentials_file),
// the store that curl, ftp and git already read. The file is read as the identity
// (identity::ReadUserFile, never as root) and, as ssh does for its keys and curl warns for
// netrc, refused when anyone else may read or write it. Only an entry naming the proxy's host
// exactly is used: a "default" entry would hand the password to whatever proxy a PAC script
// names, so it is ignored.
#pragma once

#include <string>

#include "core/credentials.h"
#include "core/ports.h"
#include "openbits/result.h"

namespace openbits::auth {

// The login and password of the first "machine `host`" entry of the netrc at `path`, read as
// `owner`, for `target` and `scheme`. E_ACCESSDENIED with a message naming the file and why
// (missing, not private, no entry for `host`); the message never holds the password.
Result<core::Credential> StoredCredentialFor(const std::string& path, const core::FileOwner& owner,
                                             const std::string& host, AuthTarget target,
                                             AuthScheme scheme);

}  // namespace openbits::auth
