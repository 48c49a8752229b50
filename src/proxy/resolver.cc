#include "proxy/resolver.h"

#include <cctype>

namespace openbits::proxy {
namespace {

Result<std::vector<Route>> ListRoutes(const std::string& list, const std::string& bypass_text,
                                      const std::string& scheme, const std::string& host,
                                      int port) {
  auto bypass = BypassList::Parse(bypass_text);
  if (!bypass) return bypass.error();
  if (bypass->Matches(host, port)) return std::vector<Route>{std::nullopt};
  auto servers = ParseProxyList(list);
  if (!servers) return servers.error();
  std::vector<Route> routes;
  for (ProxyServer& server : *servers) {
    if (server.for_scheme.empty() || server.for_scheme == scheme) routes.emplace_back(server);
  }
  // "http=proxy:80" alone serves no https URL: those go direct, as with WinHTTP.
  if (routes.empty()) routes.emplace_back(std::nullopt);
  return routes;
}

Error NotYet(const std::string& what) {
  return Error(hr::BG_E_INVALID_PROXY_INFO, ErrorContext::kGeneralTransport,
               what +
                   " (WPAD and PAC scripts) is not available yet; use OVERRIDE, NO_PROXY "
                   "or manual proxy settings");
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// no_proxy (curl's rules): comma- or space-separated host suffixes, "*" for all.
bool NoProxyMatches(const std::string& no_proxy, const std::string& host) {
  const std::string lower = Lower(host);
  std::size_t start = 0;
  while (start < no_proxy.size()) {
    std::size_t end = no_proxy.find_first_of(", ", start);
    if (end == std::string::npos) end = no_proxy.size();
    std::string entry = Lower(no_proxy.substr(start, end - start));
    start = end + 1;
    if (entry.empty()) continue;
    if (entry == "*") return true;
    if (entry.front() == '.') entry.erase(0, 1);
    if (lower == entry || (lower.size() > entry.size() && lower.ends_with("." + entry))) {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<std::optional<std::vector<Route>>> EnvironmentRoutes(const core::ProxyEnvironment& env,
                                                            const std::string& scheme,
                                                            const std::string& host) {
  auto value = [&](const char* name) -> std::string {
    const auto it = env.find(name);
    return it == env.end() ? "" : it->second;
  };
  std::string proxy = value(scheme == "https" ? "https_proxy" : "http_proxy");
  if (proxy.empty()) proxy = value("all_proxy");
  if (proxy.empty()) return std::optional<std::vector<Route>>();
  if (NoProxyMatches(value("no_proxy"), host)) {
    return std::optional<std::vector<Route>>(std::vector<Route>{std::nullopt});
  }
  auto servers = ParseProxyList(proxy);
  if (!servers) {
    return Error(hr::BG_E_INVALID_PROXY_INFO, ErrorContext::kGeneralTransport,
                 "the creator's proxy environment cannot be used: " + servers.error().message());
  }
  std::vector<Route> routes;
  for (ProxyServer& server : *servers) routes.emplace_back(server);
  return std::optional<std::vector<Route>>(std::move(routes));
}

Result<std::vector<Route>> Resolver::Routes(const JobProxy& job, const std::string& scheme,
                                            const std::string& host, int port) const {
  switch (job.settings.usage) {
    case ProxyUsage::kNoProxy:
      return std::vector<Route>{std::nullopt};
    case ProxyUsage::kOverride:
      return ListRoutes(job.settings.list, job.settings.bypass, scheme, host, port);
    case ProxyUsage::kAutodetect:
      return NotYet("AUTODETECT");
    case ProxyUsage::kPreconfig:
      break;
  }
  // PRECONFIG, source 1: the account's own settings.
  if (const auto account = accounts_ ? accounts_->Get(job.owner_uid) : std::nullopt) {
    switch (account->mode) {
      case core::AccountProxyMode::kNoProxy:
        return std::vector<Route>{std::nullopt};
      case core::AccountProxyMode::kManualProxy:
        return ListRoutes(account->list, account->bypass, scheme, host, port);
      case core::AccountProxyMode::kAutodetect:
        return NotYet("the account's AUTODETECT setting");
      case core::AccountProxyMode::kAutoscript:
        return NotYet("the account's AUTOSCRIPT setting " + account->autoscript_url);
    }
  }
  // Source 2: the creator's environment.
  auto from_environment = EnvironmentRoutes(job.environment, scheme, host);
  if (!from_environment) return from_environment.error();
  if (*from_environment) return std::move(**from_environment);
  // Source 3: bitsd.conf.
  const core::ProxySettings& machine = options_.machine;
  if (machine.usage == ProxyUsage::kOverride) {
    return ListRoutes(machine.list, machine.bypass, scheme, host, port);
  }
  if (machine.usage == ProxyUsage::kAutodetect) return NotYet("[proxy] usage = AUTODETECT");
  return std::vector<Route>{std::nullopt};
}

}  // namespace openbits::proxy
