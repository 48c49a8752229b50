// Helper tokens (IBitsTokenOptions, DESIGN 3): a short-lived, single-use capability that lends
// the identity of the user who minted it to one job. Windows captures the caller's thread
// token; on Linux the user asks bitsd for a token (Manager.CreateHelperToken) and hands it to
// the job's owner, who binds it (TokenOptions.SetHelperToken). What binds is the token, so a
// user's identity is lent only where that user gave the token away.
//
// The token string is 256 random bits (getrandom) in hex. The registry keeps only its SHA-256
// with the minting identity and an expiry; redeeming removes it. The string is never stored,
// logged or returned again.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "base/mutex.h"
#include "core/helper_binding.h"
#include "openbits/result.h"
#include "openbits/secret.h"

namespace openbits::core {

inline constexpr std::size_t kHelperTokenHexLength = 64;  // 256 bits
// Tokens one uid may have waiting at once: minting more drops its oldest, so that a user
// minting in a loop holds bounded memory (each token keeps a credential cache name).
inline constexpr std::size_t kMaxOutstandingHelperTokensPerUid = 16;

class HelperTokenRegistry {
 public:
  // digest: SHA-256 (or another collision-resistant hash) of a token string.
  // now_us: wall-clock microseconds. lifetime: how long a token may wait to be bound.
  HelperTokenRegistry(std::function<std::string(std::string_view)> digest,
                      std::function<std::int64_t()> now_us, std::chrono::seconds lifetime);

  // A fresh token for `identity` (dropping the oldest of its uid beyond
  // kMaxOutstandingHelperTokensPerUid). E_FAIL when the kernel gives no random bytes.
  Result<SecretString> Mint(const HelperIdentity& identity) EXCLUDES(mutex_);
  // The identity of a token, which is used up. E_ACCESSDENIED for a token that is unknown
  // (forged, mistyped), already used or expired; the message does not say which.
  Result<HelperIdentity> Redeem(const SecretString& token) EXCLUDES(mutex_);
  // Tokens minted and not yet bound or expired.
  std::size_t Outstanding() const EXCLUDES(mutex_);

 private:
  void DropExpired(std::int64_t now) REQUIRES(mutex_);

  struct Grant {
    HelperIdentity identity;
    std::int64_t expires_us = 0;
    std::uint64_t serial = 0;  // minting order
  };
  const std::function<std::string(std::string_view)> digest_;
  const std::function<std::int64_t()> now_us_;
  const std::chrono::seconds lifetime_;
  mutable Mutex mutex_;
  std::map<std::string, Grant> grants_ GUARDED_BY(mutex_);  // by digest of the token
  std::uint64_t next_serial_ GUARDED_BY(mutex_) = 0;
};

}  // namespace openbits::core
