// Resolver: the routes (proxies, or direct) to try for a URL, in order (DESIGN.md 8).
//
// OVERRIDE uses the job's list and bypass list; NO_PROXY goes direct, whatever the
// environment of bitsd says. PRECONFIG (the default) takes the first of: the owner
// account's own settings (bitsadmin /util /setieproxy), the proxy environment of the job's
// creator (http_proxy, https_proxy, all_proxy, no_proxy, sent with CreateJob), the [proxy]
// section of bitsd.conf; with none of them it goes direct. AUTODETECT (WPAD) and PAC scripts
// are not available yet and fail the job with BG_E_INVALID_PROXY_INFO rather than silently
// going direct.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/account_proxies.h"
#include "core/proxy_settings.h"
#include "proxy/proxy_list.h"

namespace openbits::proxy {

// One way to reach a URL: through this proxy, or direct (nullopt).
using Route = std::optional<ProxyServer>;

struct ResolverOptions {
  // [proxy] usage/list/bypass: PRECONFIG's last source (default: direct).
  core::ProxySettings machine;
};

// What a job says about its proxy.
struct JobProxy {
  core::ProxySettings settings;
  core::ProxyEnvironment environment;  // its creator's
  std::uint32_t owner_uid = 0;
};

class Resolver {
 public:
  // `accounts` may be null (no account has settings of its own).
  Resolver(ResolverOptions options, const core::AccountProxies* accounts)
      : options_(std::move(options)), accounts_(accounts) {}
  // The routes for a URL of `scheme` ("http", "https") to `host`:`port`, best first.
  // BG_E_INVALID_PROXY_INFO (context GENERAL_TRANSPORT) when the settings cannot be used.
  Result<std::vector<Route>> Routes(const JobProxy& job, const std::string& scheme,
                                    const std::string& host, int port) const;

 private:
  ResolverOptions options_;
  const core::AccountProxies* accounts_;
};

// The proxy environment's route for a URL (curl's rules: http_proxy for http, https_proxy
// for https, else all_proxy; no_proxy of host suffixes, "*" for all), or nullopt when the
// environment says nothing for it.
Result<std::optional<std::vector<Route>>> EnvironmentRoutes(const core::ProxyEnvironment& env,
                                                            const std::string& scheme,
                                                            const std::string& host);

}  // namespace openbits::proxy
