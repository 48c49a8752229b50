// Resolver: the routes (proxies, or direct) to try for a URL, in order, from the job's
// proxy settings and the machine's [proxy] configuration (DESIGN.md 8).
//
// PRECONFIG (the default) uses the [proxy] section of bitsd.conf; with nothing there it goes
// direct. OVERRIDE uses the job's list and bypass list. NO_PROXY goes direct, whatever the
// environment of bitsd says. AUTODETECT (WPAD and PAC) is not available yet and fails the
// job with BG_E_INVALID_PROXY_INFO rather than silently going direct.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/proxy_settings.h"
#include "proxy/proxy_list.h"

namespace openbits::proxy {

// One way to reach a URL: through this proxy, or direct (nullopt).
using Route = std::optional<ProxyServer>;

struct ResolverOptions {
  // [proxy] usage/list/bypass: what PRECONFIG jobs use (default: direct).
  core::ProxySettings machine;
};

class Resolver {
 public:
  explicit Resolver(ResolverOptions options) : options_(std::move(options)) {}
  // The routes for a URL of `scheme` ("http", "https") to `host`:`port`, best first.
  // BG_E_INVALID_PROXY_INFO (context GENERAL_TRANSPORT) when the settings cannot be used.
  Result<std::vector<Route>> Routes(const core::ProxySettings& job, const std::string& scheme,
                                    const std::string& host, int port) const;

 private:
  ResolverOptions options_;
};

}  // namespace openbits::proxy
