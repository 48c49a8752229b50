#include "proxy/resolver.h"

namespace openbits::proxy {
namespace {

Result<std::vector<Route>> OverrideRoutes(const core::ProxySettings& settings,
                                          const std::string& scheme, const std::string& host,
                                          int port) {
  auto bypass = BypassList::Parse(settings.bypass);
  if (!bypass) return bypass.error();
  if (bypass->Matches(host, port)) return std::vector<Route>{std::nullopt};
  auto servers = ParseProxyList(settings.list);
  if (!servers) return servers.error();
  std::vector<Route> routes;
  for (ProxyServer& server : *servers) {
    if (server.for_scheme.empty() || server.for_scheme == scheme) routes.emplace_back(server);
  }
  // "http=proxy:80" alone serves no https URL: those go direct, as with WinHTTP.
  if (routes.empty()) routes.emplace_back(std::nullopt);
  return routes;
}

}  // namespace

Result<std::vector<Route>> Resolver::Routes(const core::ProxySettings& job,
                                            const std::string& scheme, const std::string& host,
                                            int port) const {
  const core::ProxySettings& settings =
      job.usage == ProxyUsage::kPreconfig ? options_.machine : job;
  switch (settings.usage) {
    case ProxyUsage::kPreconfig:  // nothing configured for the machine
    case ProxyUsage::kNoProxy:
      return std::vector<Route>{std::nullopt};
    case ProxyUsage::kOverride:
      return OverrideRoutes(settings, scheme, host, port);
    case ProxyUsage::kAutodetect:
      return Error(hr::BG_E_INVALID_PROXY_INFO, ErrorContext::kGeneralTransport,
                   "AUTODETECT (WPAD and PAC) is not available yet; use OVERRIDE or NO_PROXY");
  }
  return Error(hr::BG_E_INVALID_PROXY_INFO, ErrorContext::kGeneralTransport, "unknown proxy usage");
}

}  // namespace openbits::proxy
