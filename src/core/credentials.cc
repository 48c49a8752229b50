#include "core/credentials.h"

#include <algorithm>

namespace openbits::core {

Status ValidateAuthSlot(std::uint32_t target, std::uint32_t scheme) {
  if (target != static_cast<std::uint32_t>(AuthTarget::kServer) &&
      target != static_cast<std::uint32_t>(AuthTarget::kProxy)) {
    return Error(hr::BG_E_INVALID_AUTH_TARGET, ErrorContext::kNone,
                 "the authentication target " + std::to_string(target) +
                     " is neither SERVER (1) nor PROXY (2)");
  }
  if (scheme < static_cast<std::uint32_t>(AuthScheme::kBasic) ||
      scheme > static_cast<std::uint32_t>(AuthScheme::kPassport)) {
    return Error(hr::BG_E_INVALID_AUTH_SCHEME, ErrorContext::kNone,
                 "the authentication scheme " + std::to_string(scheme) +
                     " is not one of BASIC (1), DIGEST (2), NTLM (3), NEGOTIATE (4), PASSPORT (5)");
  }
  return Ok();
}

Status ValidateCredential(const Credential& credential) {
  OPENBITS_RETURN_IF_ERROR(ValidateAuthSlot(static_cast<std::uint32_t>(credential.target),
                                            static_cast<std::uint32_t>(credential.scheme)));
  if (credential.user.size() > kMaxUserNameLength) {
    return Error(hr::BG_E_USERNAME_TOO_LARGE, ErrorContext::kNone,
                 "the user name is longer than 300 characters");
  }
  if (credential.password.size() > kMaxPasswordLength) {
    return Error(hr::BG_E_PASSWORD_TOO_LARGE, ErrorContext::kNone,
                 "the password is longer than 65,535 characters");
  }
  if (credential.implicit) {
    if (credential.scheme != AuthScheme::kNtlm && credential.scheme != AuthScheme::kNegotiate) {
      return Error::InvalidArg(std::string("implicit (NULL) credentials are only for NTLM and "
                                           "NEGOTIATE, not ") +
                               std::string(AuthSchemeName(credential.scheme)));
    }
    if (!credential.user.empty() || !credential.password.empty()) {
      return Error::InvalidArg("implicit credentials carry no user name or password");
    }
  } else if (credential.user.empty()) {
    return Error::InvalidArg("explicit credentials need a user name");
  }
  if (credential.credential_cache.size() > kMaxCredentialCacheLength) {
    return Error::InvalidArg("the credential cache name is too long");
  }
  return Ok();
}

void CredentialSet::Set(Credential credential) {
  auto it = std::find_if(slots_.begin(), slots_.end(), [&](const Credential& slot) {
    return slot.target == credential.target && slot.scheme == credential.scheme;
  });
  if (it != slots_.end()) {
    *it = std::move(credential);
  } else {
    slots_.push_back(std::move(credential));
  }
}

bool CredentialSet::Remove(AuthTarget target, AuthScheme scheme) {
  const auto before = slots_.size();
  std::erase_if(slots_, [&](const Credential& slot) {
    return slot.target == target && slot.scheme == scheme;
  });
  return slots_.size() != before;
}

const Credential* CredentialSet::Find(AuthTarget target, AuthScheme scheme) const {
  for (const Credential& slot : slots_) {
    if (slot.target == target && slot.scheme == scheme) return &slot;
  }
  return nullptr;
}

}  // namespace openbits::core
