#include "core/helper_tokens.h"

#include <sys/random.h>

#include <array>
#include <cerrno>

#include "openbits/hresult.h"

namespace openbits::core {

HelperTokenRegistry::HelperTokenRegistry(std::function<std::string(std::string_view)> digest,
                                         std::function<std::int64_t()> now_us,
                                         std::chrono::seconds lifetime)
    : digest_(std::move(digest)), now_us_(std::move(now_us)), lifetime_(lifetime) {}

Result<SecretString> HelperTokenRegistry::Mint(const HelperIdentity& identity) {
  if (!digest_) return Error(hr::E_NOTIMPL, ErrorContext::kNone, "helper tokens are not set up");
  std::array<unsigned char, kHelperTokenHexLength / 2> bytes{};
  std::size_t filled = 0;
  while (filled < bytes.size()) {
    const ssize_t got = getrandom(bytes.data() + filled, bytes.size() - filled, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      return Error(hr::E_FAIL, ErrorContext::kNone, "no random bytes for a helper token");
    }
    filled += static_cast<std::size_t>(got);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text(kHelperTokenHexLength, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    text[2 * i] = kHex[bytes[i] >> 4];
    text[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  bytes.fill(0);
  SecretString token(std::move(text));
  const std::string key = digest_(token.reveal());
  const std::int64_t now = now_us_();
  MutexLock lock(mutex_);
  DropExpired(now);
  // At most kMaxOutstandingHelperTokensPerUid per uid: the oldest go first.
  std::size_t held = 0;
  auto oldest = grants_.end();
  for (auto it = grants_.begin(); it != grants_.end(); ++it) {
    if (it->second.identity.uid != identity.uid) continue;
    ++held;
    if (oldest == grants_.end() || it->second.serial < oldest->second.serial) oldest = it;
  }
  if (held >= kMaxOutstandingHelperTokensPerUid) grants_.erase(oldest);
  grants_[key] =
      Grant{identity, now + std::chrono::microseconds(lifetime_).count(), next_serial_++};
  return token;
}

Result<HelperIdentity> HelperTokenRegistry::Redeem(const SecretString& token) {
  const Error refused(hr::E_ACCESSDENIED, ErrorContext::kNone,
                      "the helper token is not valid: unknown, already used or expired");
  if (token.size() != kHelperTokenHexLength || !digest_) return refused;
  const std::string key = digest_(token.reveal());
  const std::int64_t now = now_us_();
  MutexLock lock(mutex_);
  DropExpired(now);
  const auto it = grants_.find(key);
  if (it == grants_.end()) return refused;
  HelperIdentity identity = std::move(it->second.identity);
  grants_.erase(it);
  return identity;
}

std::size_t HelperTokenRegistry::Outstanding() const {
  MutexLock lock(mutex_);
  return grants_.size();
}

void HelperTokenRegistry::DropExpired(std::int64_t now) {
  std::erase_if(grants_, [now](const auto& entry) { return entry.second.expires_us <= now; });
}

}  // namespace openbits::core
