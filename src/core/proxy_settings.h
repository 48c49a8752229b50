// A job's proxy settings (IBackgroundCopyJob::SetProxySettings) and the rules BITS checks
// when they are set. The lists themselves are parsed by proxy/ (proxy_list.h) when a
// transfer resolves its proxy, and again here at set time so that a typo fails at once.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/credentials.h"
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

// The proxy variables of the client's environment at CreateJob: http_proxy, https_proxy,
// all_proxy and no_proxy (lower-case names). PRECONFIG's second source, after the account's
// own settings and before the [proxy] section of bitsd.conf.
using ProxyEnvironment = std::map<std::string, std::string>;
// Keeps the variables above (either case; the lower-case one wins), each at most 4,000
// characters; drops everything else.
ProxyEnvironment FilterProxyEnvironment(const std::map<std::string, std::string>& variables);
// Takes the user name and password out of the proxy environment's URLs (curl's
// "http://user:password@proxy:port"), so that the environment names only proxies and the
// password is kept, sealed, with the job's credentials: the proxy slots Basic, Digest and
// NTLM (curl offers them to whatever the proxy asks for), from http_proxy, else https_proxy,
// else all_proxy. Empty when no URL holds one.
std::vector<Credential> TakeProxyEnvironmentCredentials(ProxyEnvironment& environment);

// Whether a proxy list or URL holds a user name or password ("user:password@host").
bool HasUserinfo(std::string_view list_or_url);
// The list or URL with each entry's user name and password replaced by "***", for replies
// and messages: versions before schema 11 stored what callers gave them.
std::string RedactProxyUserinfo(std::string_view list_or_url);

// An account's own proxy settings (bitsadmin /util /setieproxy): PRECONFIG's first source,
// the stand-in for a Windows user's IE settings.
enum class AccountProxyMode : std::uint32_t {
  kNoProxy = 0,
  kAutodetect = 1,
  kManualProxy = 2,
  kAutoscript = 3,
};
struct AccountProxy {
  AccountProxyMode mode = AccountProxyMode::kNoProxy;
  std::string list;            // MANUAL_PROXY
  std::string bypass;          // MANUAL_PROXY
  std::string autoscript_url;  // AUTOSCRIPT: the PAC URL (http or https)
  bool operator==(const AccountProxy&) const = default;
};
// Lists only with MANUAL_PROXY (which needs a list), a URL only with AUTOSCRIPT (which needs
// one), the same lengths as SetProxySettings, no user name or password in either (they are
// read back by GetAccountProxy).
Status ValidateAccountProxy(const AccountProxy& settings);

// Checks SetProxySettings' arguments: a known usage (E_INVALIDARG), lists only with OVERRIDE
// and a proxy list required with it (E_INVALIDARG), the lengths (BG_E_PROXY_LIST_TOO_LARGE,
// BG_E_PROXY_BYPASS_LIST_TOO_LARGE), no user name or password in the list (E_INVALIDARG: as
// in BITS, proxy credentials go through SetCredentials with BG_AUTH_TARGET_PROXY, which keeps
// them sealed and never returns them; a list is returned by GetProxySettings).
Status ValidateProxySettings(std::uint32_t usage, const std::string& list,
                             const std::string& bypass);

}  // namespace openbits::core
