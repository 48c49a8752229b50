// Credentials of a job (IBackgroundCopyJob2::SetCredentials): one slot per (target, scheme).
// A secret: encrypted at rest, never logged, signalled or returned, dropped on TakeOwnership.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "openbits/result.h"
#include "openbits/secret.h"
#include "openbits/types.h"

namespace openbits::core {

// BITS's limits (bits-reference.md 1.3).
inline constexpr std::size_t kMaxUserNameLength = 300;     // BG_E_USERNAME_TOO_LARGE
inline constexpr std::size_t kMaxPasswordLength = 65'535;  // BG_E_PASSWORD_TOO_LARGE
inline constexpr std::size_t kMaxCredentialCacheLength = 4096;

struct Credential {
  AuthTarget target = AuthTarget::kServer;
  AuthScheme scheme = AuthScheme::kBasic;
  // NULL user name and password: the identity's own logon credentials (NTLM, Negotiate).
  bool implicit = false;
  SecretString user;
  SecretString password;
  // Implicit Negotiate: the KRB5CCNAME the client sent with the call; used only when that
  // cache belongs to the job's identity (checked when a transfer uses it). Empty: the
  // identity's default cache.
  std::string credential_cache;
  // Implicit NTLM: the NTLM_USER_FILE the client sent ("DOMAIN:USER:PASSWORD" lines, as
  // gss-ntlmssp reads them); used only when it belongs to the job's identity and no one else
  // may read it.
  std::string ntlm_user_file;
  bool operator==(const Credential&) const = default;
};

// Checks SetCredentials' arguments in BITS's order: target, scheme, then the lengths.
// Implicit credentials only make sense for NTLM and Negotiate (E_INVALIDARG otherwise).
Status ValidateCredential(const Credential& credential);
// BG_E_INVALID_AUTH_TARGET / BG_E_INVALID_AUTH_SCHEME for values outside the enumerations.
Status ValidateAuthSlot(std::uint32_t target, std::uint32_t scheme);

// RFC 3986 3.2.1 userinfo ("user:password@host") of a URL, deprecated and refused unless
// [auth] allow_url_credentials: the URL without it, and the percent-decoded parts.
struct UrlCredentials {
  std::string url;
  SecretString user;
  SecretString password;
};
std::optional<UrlCredentials> SplitUrlCredentials(const std::string& url);

// The slots of a job. Setting a slot replaces what it held.
class CredentialSet {
 public:
  void Set(Credential credential);
  // Whether the slot held something (S_OK) or not (S_FALSE).
  bool Remove(AuthTarget target, AuthScheme scheme);
  const Credential* Find(AuthTarget target, AuthScheme scheme) const;
  const std::vector<Credential>& all() const { return slots_; }
  void Clear() {
    slots_.clear();
    stored_targets_ = 0;
  }
  // USE_STORED_CREDENTIALS for a transfer (kept with the job in HelperBinding): whether
  // `target` may use the identity's stored user name and password.
  void UseStored(std::uint32_t targets) { stored_targets_ = targets; }
  bool UsesStored(AuthTarget target) const {
    return (stored_targets_ & static_cast<std::uint32_t>(target)) != 0;
  }
  bool operator==(const CredentialSet&) const = default;

 private:
  std::vector<Credential> slots_;
  std::uint32_t stored_targets_ = 0;
};

}  // namespace openbits::core
