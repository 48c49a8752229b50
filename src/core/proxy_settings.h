// A job's proxy settings (IBackgroundCopyJob::SetProxySettings) and the rules BITS checks
// when they are set. The lists themselves are parsed by proxy/ (proxy_list.h) when a
// transfer resolves its proxy, and again here at set time so that a typo fails at once.
#pragma once

#include <string>

#include "openbits/result.h"
#include "openbits/types.h"

namespace openbits::core {

// The proxy and bypass lists: BITS documents 4,000 characters for each.
inline constexpr std::size_t kMaxProxyListLength = 4000;

struct ProxySettings {
  ProxyUsage usage = ProxyUsage::kPreconfig;
  std::string list;    // OVERRIDE only: "[scheme=][scheme://]host[:port]" ...
  std::string bypass;  // OVERRIDE only: "<local>", "*.example.org", "host:port" ...
  bool operator==(const ProxySettings&) const = default;
};

// Checks SetProxySettings' arguments: a known usage (E_INVALIDARG), lists only with OVERRIDE
// and a proxy list required with it (E_INVALIDARG), the lengths (BG_E_PROXY_LIST_TOO_LARGE,
// BG_E_PROXY_BYPASS_LIST_TOO_LARGE).
Status ValidateProxySettings(std::uint32_t usage, const std::string& list,
                             const std::string& bypass);

}  // namespace openbits::core
