#include "core/proxy_settings.h"

#include <cctype>

#include "base/log.h"

namespace openbits::core {
namespace {

Error UserinfoRefused(const char* what) {
  return Error::InvalidArg(std::string(what) +
                           " holds a user name or password (user:password@host); give proxy "
                           "credentials with SetCredentials for BG_AUTH_TARGET_PROXY instead");
}

}  // namespace

bool HasUserinfo(std::string_view list_or_url) {
  std::size_t start = 0;
  while (start < list_or_url.size()) {
    std::size_t end = list_or_url.find_first_of(" \t;,", start);
    if (end == std::string_view::npos) end = list_or_url.size();
    const std::string_view entry = list_or_url.substr(start, end - start);
    const auto scheme_end = entry.find("://");
    const std::size_t authority = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
    const std::string_view rest = entry.substr(authority);
    if (rest.substr(0, rest.find_first_of("/?#")).find('@') != std::string_view::npos) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

std::string RedactProxyUserinfo(std::string_view list_or_url) {
  std::string redacted;
  std::size_t start = 0;
  while (start <= list_or_url.size()) {
    std::size_t end = list_or_url.find_first_of(" \t;,", start);
    if (end == std::string_view::npos) end = list_or_url.size();
    const std::string_view entry = list_or_url.substr(start, end - start);
    redacted += HasUserinfo(entry) ? log::RedactProxyEntry(entry) : std::string(entry);
    if (end < list_or_url.size()) redacted += list_or_url[end];
    start = end + 1;
  }
  return redacted;
}

std::vector<Credential> TakeProxyEnvironmentCredentials(ProxyEnvironment& environment) {
  std::optional<UrlCredentials> taken;
  for (const char* name : {"http_proxy", "https_proxy", "all_proxy"}) {
    const auto it = environment.find(name);
    if (it == environment.end()) continue;
    // curl takes "user:password@host:port" without a scheme as http://.
    const bool bare = it->second.find("://") == std::string::npos;
    auto split = SplitUrlCredentials(bare ? "http://" + it->second : it->second);
    if (!split) continue;
    it->second = bare ? split->url.substr(7) : split->url;
    if (!taken) taken = std::move(split);
  }
  std::vector<Credential> credentials;
  if (!taken) return credentials;
  for (AuthScheme scheme : {AuthScheme::kBasic, AuthScheme::kDigest, AuthScheme::kNtlm}) {
    Credential credential;
    credential.target = AuthTarget::kProxy;
    credential.scheme = scheme;
    credential.user = taken->user;
    credential.password = taken->password;
    if (ValidateCredential(credential)) credentials.push_back(std::move(credential));
  }
  return credentials;
}

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
  if (HasUserinfo(list)) return UserinfoRefused("the proxy list");
  return Ok();
}

ProxyEnvironment FilterProxyEnvironment(const std::map<std::string, std::string>& variables) {
  ProxyEnvironment kept;
  for (const char* name : {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}) {
    std::string upper = name;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (const std::string& key : {std::string(name), upper}) {
      const auto it = variables.find(key);
      if (it != variables.end() && !it->second.empty() &&
          it->second.size() <= kMaxProxyListLength && !kept.contains(name)) {
        kept[name] = it->second;
      }
    }
  }
  return kept;
}

Status ValidateAccountProxy(const AccountProxy& settings) {
  if (settings.mode > AccountProxyMode::kAutoscript) {
    return Error::InvalidArg("unknown proxy mode " +
                             std::to_string(static_cast<std::uint32_t>(settings.mode)));
  }
  if (settings.list.size() > kMaxProxyListLength) {
    return Error(hr::BG_E_PROXY_LIST_TOO_LARGE, ErrorContext::kNone,
                 "the proxy list is longer than 4,000 characters");
  }
  if (settings.bypass.size() > kMaxProxyListLength) {
    return Error(hr::BG_E_PROXY_BYPASS_LIST_TOO_LARGE, ErrorContext::kNone,
                 "the proxy bypass list is longer than 4,000 characters");
  }
  const bool manual = settings.mode == AccountProxyMode::kManualProxy;
  if (!manual && (!settings.list.empty() || !settings.bypass.empty())) {
    return Error::InvalidArg("a proxy list or bypass list goes only with MANUAL_PROXY");
  }
  if (manual && settings.list.find_first_not_of(" \t;") == std::string::npos) {
    return Error::InvalidArg("MANUAL_PROXY needs a proxy list");
  }
  const bool script = settings.mode == AccountProxyMode::kAutoscript;
  if (script != !settings.autoscript_url.empty()) {
    return Error::InvalidArg(script ? "AUTOSCRIPT needs the URL of a PAC file"
                                    : "a PAC URL goes only with AUTOSCRIPT");
  }
  if (script && !settings.autoscript_url.starts_with("http://") &&
      !settings.autoscript_url.starts_with("https://")) {
    return Error::InvalidArg("the PAC URL must be http:// or https://");
  }
  if (settings.autoscript_url.size() > kMaxProxyListLength) {
    return Error::InvalidArg("the PAC URL is too long");
  }
  if (HasUserinfo(settings.list)) return UserinfoRefused("the proxy list");
  if (HasUserinfo(settings.autoscript_url)) return UserinfoRefused("the PAC URL");
  return Ok();
}

}  // namespace openbits::core
