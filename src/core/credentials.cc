#include "core/credentials.h"

#include <algorithm>
#include <cctype>
#include <string_view>

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
  if (credential.credential_cache.size() > kMaxCredentialCacheLength ||
      credential.ntlm_user_file.size() > kMaxCredentialCacheLength) {
    return Error::InvalidArg("the credential cache or NTLM user file name is too long");
  }
  return Ok();
}

namespace {

std::string PercentDecode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

std::optional<UrlCredentials> SplitUrlCredentials(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return std::nullopt;
  const std::size_t start = scheme_end + 3;
  std::size_t end = url.find_first_of("/?#", start);
  if (end == std::string::npos) end = url.size();
  const std::string_view authority(url.data() + start, end - start);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view userinfo = authority.substr(0, at);
  const auto colon = userinfo.find(':');
  UrlCredentials split;
  split.url = url.substr(0, start) + url.substr(start + at + 1);
  std::string user = PercentDecode(userinfo.substr(0, colon));
  std::string password =
      colon == std::string_view::npos ? std::string() : PercentDecode(userinfo.substr(colon + 1));
  split.user = SecretString(std::move(user));
  split.password = SecretString(std::move(password));
  return split;
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
