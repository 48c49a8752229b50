// Resolver: the routes (proxies, or direct) to try for a URL, in order (DESIGN.md 8).
//
// OVERRIDE uses the job's list and bypass list; NO_PROXY goes direct, whatever the
// environment of bitsd says. PRECONFIG (the default) takes the first of: the owner
// account's own settings (bitsadmin /util /setieproxy), the proxy environment of the job's
// creator (http_proxy, https_proxy, all_proxy, no_proxy, sent with CreateJob), the [proxy]
// section of bitsd.conf; with none of them it goes direct.
//
// PAC scripts (an account's AUTOSCRIPT, or what AUTODETECT finds) are fetched directly (no
// proxy) by a PacFetcher, evaluated by PacEvaluator in a helper process, and both the script
// and its answers are cached for pac_cache_ttl. AUTODETECT finds its PAC at [proxy] wpad_url,
// else by DNS devolution over the resolver's search domains (http://wpad.<domain>/wpad.dat,
// dropping one label at a time, never down to a bare top-level domain); where none is found
// it goes direct, as WinHTTP does.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/account_proxies.h"
#include "core/proxy_settings.h"
#include "proxy/pac_evaluator.h"
#include "proxy/proxy_list.h"

namespace openbits::proxy {

struct ResolverOptions {
  // [proxy] usage/list/bypass: PRECONFIG's last source (default: direct).
  core::ProxySettings machine;
  // [proxy] wpad_url: where AUTODETECT finds its PAC (default: DNS devolution).
  std::string wpad_url;
  // [proxy] pac_cache_s: how long PAC scripts and their answers are kept. Default: 300 s.
  std::chrono::seconds pac_cache_ttl{300};
  // The resolver configuration that DNS devolution reads the search domains from.
  std::string resolv_conf = "/etc/resolv.conf";
  PacEvaluatorOptions pac;
};

// Fetches a PAC script (the transport's, over libcurl, without a proxy).
class PacFetcher {
 public:
  virtual ~PacFetcher() = default;
  // The script; a transient error when the server is down, BG_E_INVALID_PROXY_INFO when it
  // answers with something that is not a script.
  virtual Result<std::string> Fetch(const std::string& url) = 0;
};

// What a job says about its proxy.
struct JobProxy {
  core::ProxySettings settings;
  core::ProxyEnvironment environment;  // its creator's
  std::uint32_t owner_uid = 0;
};

// The request a route is wanted for.
struct Destination {
  std::string url;     // as PAC scripts see it (transfer::PacUrl): no user info, no https path
  std::string scheme;  // "http", "https"
  std::string host;
  int port = 0;
};

class Resolver {
 public:
  // `accounts` may be null (no account has settings of its own); `fetcher` may be null
  // (PAC scripts are then unavailable).
  Resolver(ResolverOptions options, const core::AccountProxies* accounts, PacFetcher* fetcher)
      : options_(std::move(options)),
        accounts_(accounts),
        fetcher_(fetcher),
        evaluator_(options_.pac) {}
  void set_fetcher(PacFetcher* fetcher) { fetcher_ = fetcher; }
  // The routes for `destination`, best first. BG_E_INVALID_PROXY_INFO (context
  // GENERAL_TRANSPORT) when the settings cannot be used; a transient error when a PAC
  // server is down.
  Result<std::vector<Route>> Routes(const JobProxy& job, const Destination& destination);

 private:
  Result<std::vector<Route>> PacRoutes(const std::string& pac_url, const Destination& destination);
  Result<std::vector<Route>> AutodetectRoutes(const Destination& destination);
  // The candidate WPAD URLs: [proxy] wpad_url, else DNS devolution.
  std::vector<std::string> WpadCandidates() const;
  Result<std::string> Script(const std::string& pac_url);

  ResolverOptions options_;
  const core::AccountProxies* accounts_;
  PacFetcher* fetcher_;
  PacEvaluator evaluator_;
  using Clock = std::chrono::steady_clock;
  struct CachedScript {
    std::string script;
    Clock::time_point fetched;
  };
  struct CachedAnswer {
    std::vector<Route> routes;
    Clock::time_point found;
  };
  // The caches are bounded (docs/security.md): PAC URLs come from every account's settings
  // and answers from every URL asked for.
  static constexpr std::size_t kMaxCachedScripts = 8;  // each at most 1 MiB (the fetcher's cap)
  static constexpr std::size_t kMaxCachedAnswers = 4096;
  std::mutex mutex_;
  std::map<std::string, CachedScript> scripts_;                          // guarded by mutex_
  std::map<std::pair<std::string, std::string>, CachedAnswer> answers_;  // guarded by mutex_
  std::optional<std::pair<std::string, Clock::time_point>> wpad_found_;  // guarded by mutex_
};

// The WPAD URLs of DNS devolution for the search domains of `resolv_conf`'s text:
// "a.b.example.org" gives wpad.a.b.example.org, wpad.b.example.org, wpad.example.org.
std::vector<std::string> DevolutionCandidates(const std::string& resolv_conf_text);

// The proxy environment's route for a URL (curl's rules: http_proxy for http, https_proxy
// for https, else all_proxy; no_proxy of host suffixes, "*" for all), or nullopt when the
// environment says nothing for it.
Result<std::optional<std::vector<Route>>> EnvironmentRoutes(const core::ProxyEnvironment& env,
                                                            const std::string& scheme,
                                                            const std::string& host);

}  // namespace openbits::proxy
