#include "proxy/resolver.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "base/text.h"
#include "proxy/pac_result.h"

namespace openbits::proxy {
namespace {

using text::Lower;

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

std::vector<std::string> DevolutionCandidates(const std::string& resolv_conf_text) {
  std::vector<std::string> domains;
  std::istringstream lines(resolv_conf_text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string keyword;
    words >> keyword;
    if (keyword != "search" && keyword != "domain") continue;
    for (std::string domain; words >> domain;) {
      while (!domain.empty() && domain.back() == '.') domain.pop_back();
      if (!domain.empty()) domains.push_back(Lower(domain));
    }
  }
  std::vector<std::string> candidates;
  for (std::string domain : domains) {
    // Devolve while at least two labels remain: never wpad.<tld>.
    while (domain.find('.') != std::string::npos) {
      const std::string url = "http://wpad." + domain + "/wpad.dat";
      if (std::find(candidates.begin(), candidates.end(), url) == candidates.end()) {
        candidates.push_back(url);
      }
      domain = domain.substr(domain.find('.') + 1);
    }
  }
  return candidates;
}

std::vector<std::string> Resolver::WpadCandidates() const {
  if (!options_.wpad_url.empty()) return {options_.wpad_url};
  std::ifstream file(options_.resolv_conf);
  std::stringstream text;
  text << file.rdbuf();
  return DevolutionCandidates(text.str());
}

Result<std::string> Resolver::Script(const std::string& pac_url) {
  {
    std::lock_guard lock(mutex_);
    const auto it = scripts_.find(pac_url);
    if (it != scripts_.end() && Clock::now() - it->second.fetched < options_.pac_cache_ttl) {
      return it->second.script;
    }
  }
  if (!fetcher_) {
    return Error(hr::BG_E_INVALID_PROXY_INFO, ErrorContext::kGeneralTransport,
                 "PAC scripts cannot be fetched here");
  }
  auto script = fetcher_->Fetch(pac_url);
  if (!script) return script.error();
  std::lock_guard lock(mutex_);
  if (scripts_.size() >= kMaxCachedScripts && !scripts_.contains(pac_url)) {
    // The least recently fetched goes.
    scripts_.erase(std::min_element(scripts_.begin(), scripts_.end(), [](auto& a, auto& b) {
      return a.second.fetched < b.second.fetched;
    }));
  }
  scripts_[pac_url] = {*script, Clock::now()};
  return script;
}

Result<std::vector<Route>> Resolver::PacRoutes(const std::string& pac_url,
                                               const Destination& destination) {
  const auto key = std::pair{pac_url, destination.url};
  {
    std::lock_guard lock(mutex_);
    const auto it = answers_.find(key);
    if (it != answers_.end() && Clock::now() - it->second.found < options_.pac_cache_ttl) {
      return it->second.routes;
    }
  }
  auto script = Script(pac_url);
  if (!script) return script.error();
  auto answer = evaluator_.Evaluate(*script, destination.url, destination.host);
  if (!answer) {
    return Error(answer.error().code(), answer.error().context(),
                 "the PAC file " + pac_url + ": " + answer.error().message());
  }
  auto routes = ParsePacResult(*answer);
  if (!routes) {
    return Error(routes.error().code(), routes.error().context(),
                 "the PAC file " + pac_url + ": " + routes.error().message());
  }
  std::lock_guard lock(mutex_);
  if (answers_.size() >= kMaxCachedAnswers) {
    std::erase_if(answers_, [&](const auto& entry) {
      return Clock::now() - entry.second.found >= options_.pac_cache_ttl;
    });
    if (answers_.size() >= kMaxCachedAnswers) answers_.clear();
  }
  answers_[key] = {*routes, Clock::now()};
  return routes;
}

Result<std::vector<Route>> Resolver::AutodetectRoutes(const Destination& destination) {
  std::optional<std::string> found;
  {
    std::lock_guard lock(mutex_);
    if (wpad_found_ && Clock::now() - wpad_found_->second < options_.pac_cache_ttl) {
      found = wpad_found_->first;
    }
  }
  if (!found) {
    for (const std::string& candidate : WpadCandidates()) {
      if (Script(candidate)) {
        found = candidate;
        break;
      }
    }
    std::lock_guard lock(mutex_);
    wpad_found_ = std::pair{found.value_or(""), Clock::now()};
  }
  // Nothing found: direct, as WinHTTP's autodetection does.
  if (!found || found->empty()) return std::vector<Route>{std::nullopt};
  return PacRoutes(*found, destination);
}

Result<std::vector<Route>> Resolver::Routes(const JobProxy& job, const Destination& destination) {
  const std::string& scheme = destination.scheme;
  const std::string& host = destination.host;
  const int port = destination.port;
  switch (job.settings.usage) {
    case ProxyUsage::kNoProxy:
      return std::vector<Route>{std::nullopt};
    case ProxyUsage::kOverride:
      return ListRoutes(job.settings.list, job.settings.bypass, scheme, host, port);
    case ProxyUsage::kAutodetect:
      return AutodetectRoutes(destination);
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
        return AutodetectRoutes(destination);
      case core::AccountProxyMode::kAutoscript:
        return PacRoutes(account->autoscript_url, destination);
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
  if (machine.usage == ProxyUsage::kAutodetect) return AutodetectRoutes(destination);
  return std::vector<Route>{std::nullopt};
}

}  // namespace openbits::proxy
