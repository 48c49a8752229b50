#include "core/proxy_settings.h"

namespace openbits::core {

Status ValidateProxySettings(std::uint32_t usage, const std::string& list,
                             const std::string& bypass) {
  if (usage > static_cast<std::uint32_t>(ProxyUsage::kAutodetect)) {
    return Error::InvalidArg("the proxy usage " + std::to_string(usage) +
                             " is not PRECONFIG (0), NO_PROXY (1), OVERRIDE (2) or AUTODETECT (3)");
  }
  if (list.size() > kMaxProxyListLength) {
    return Error(hr::BG_E_PROXY_LIST_TOO_LARGE, ErrorContext::kNone,
                 "the proxy list is longer than 4,000 characters");
  }
  if (bypass.size() > kMaxProxyListLength) {
    return Error(hr::BG_E_PROXY_BYPASS_LIST_TOO_LARGE, ErrorContext::kNone,
                 "the proxy bypass list is longer than 4,000 characters");
  }
  const bool override_usage = usage == static_cast<std::uint32_t>(ProxyUsage::kOverride);
  if (!override_usage && (!list.empty() || !bypass.empty())) {
    return Error::InvalidArg("a proxy list or bypass list goes only with OVERRIDE");
  }
  if (override_usage && list.find_first_not_of(" \t;") == std::string::npos) {
    return Error::InvalidArg("OVERRIDE needs a proxy list");
  }
  return Ok();
}

}  // namespace openbits::core
