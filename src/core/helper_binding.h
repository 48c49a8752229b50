// A job's helper binding (IBitsTokenOptions): whose identity it lends and for what.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace openbits::core {

// IBitsTokenOptions::SetHelperTokenFlags.
inline constexpr std::uint32_t kTokenLocalFile = 0x0001;  // BG_TOKEN_LOCAL_FILE
inline constexpr std::uint32_t kTokenNetwork = 0x0002;    // BG_TOKEN_NETWORK
inline constexpr std::uint32_t kTokenFlagsKnown = kTokenLocalFile | kTokenNetwork;

// Whose identity a helper token lends.
struct HelperIdentity {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  // The minting caller was an administrator: only an administrator may bind the token.
  bool is_admin = false;
  // The KRB5CCNAME the minting client sent ("" = the identity's default cache). Used only
  // when that cache belongs to `uid` (checked, as the helper, when a transfer reads it).
  std::string credential_cache;
  bool operator==(const HelperIdentity&) const = default;
};

// A job's helper binding: the lent identity (none until SetHelperToken) and which resources
// use it. The flags may be set before or after the token.
struct HelperBinding {
  std::optional<HelperIdentity> identity;
  std::uint32_t flags = 0;  // kTokenLocalFile | kTokenNetwork; 0: everything as the owner
  // Job property USE_STORED_CREDENTIALS: the targets (BG_AUTH_TARGET_PROXY only, or 0) whose
  // user name and password come from the network identity's stored credentials (its
  // ~/.netrc, auth/stored_credentials.h): the owner's, or with BG_TOKEN_NETWORK the helper's.
  // Kept with the binding, as both choose whose credentials the network sees.
  std::uint32_t stored_credentials = 0;
  bool Lends(std::uint32_t flag) const { return identity && (flags & flag) != 0; }
  bool operator==(const HelperBinding&) const = default;
};

}  // namespace openbits::core
