// MemoryCredentialCache: a private copy of a caller's Kerberos credential cache.
//
// The cache a caller names (KRB5CCNAME) is read once, as the caller, through
// identity::ReadUserFile, and its tickets are copied into a MEMORY: cache of this process.
// GSS-API is then given only that copy: the caller's path is never opened again, so it cannot
// be swapped for another user's cache between the check and the use, and a lock the caller
// holds on its own file cannot stall us.
//
// Accepted: FILE:path (or a bare path), DIR::path (one cache file of a collection) and
// DIR:directory, whose `primary` file is read as the caller and must name a file in that same
// directory, which then passes the same checks. KCM:, KEYRING:, API:, MEMORY: and any other
// type are refused (E_ACCESSDENIED): bitsd cannot check whose tickets they hold.
#pragma once

#include <memory>
#include <string>

#include "core/ports.h"
#include "openbits/result.h"

namespace openbits::auth {

// Whether `owner` may name the cache `name`: the checks of CopyOf (the type, DIR: resolved
// as `owner`, the file read as `owner` through identity::ReadUserFile: a regular file it owns,
// writable by it alone), without parsing the tickets. Manager.CreateHelperToken refuses
// another user's cache with it at minting. E_ACCESSDENIED; a type that cannot be checked is
// named as such, and every failure of the file itself (missing, another user's, a link...)
// gives one message, so that minting with other users' paths tells nothing about them.
Status CheckCredentialCache(const core::FileOwner& owner, const std::string& name);

class MemoryCredentialCache {
 public:
  // Copies the cache `name` of `owner` (a krb5 cache name, "FILE:/tmp/krb5cc_1000").
  static Result<std::unique_ptr<MemoryCredentialCache>> CopyOf(const core::FileOwner& owner,
                                                               const std::string& name);
  ~MemoryCredentialCache();
  MemoryCredentialCache(const MemoryCredentialCache&) = delete;
  MemoryCredentialCache& operator=(const MemoryCredentialCache&) = delete;

  // "MEMORY:<unique>", for gss_acquire_cred_from's "ccache" element. Valid while this lives.
  const std::string& name() const { return name_; }

 private:
  MemoryCredentialCache() = default;
  struct Krb5;
  std::unique_ptr<Krb5> krb5_;
  std::string name_;
};

}  // namespace openbits::auth
