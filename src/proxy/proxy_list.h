// Proxy and bypass lists in BITS's syntax (bits-reference.md 2.4): untrusted text from jobs,
// configuration and PAC scripts, parsed without exceptions; a bad entry is named in the error.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "openbits/result.h"

namespace openbits::proxy {

// One proxy of a list: "[scheme=][scheme://]host[:port]".
struct ProxyServer {
  std::string for_scheme;       // "http" or "https": only for URLs of that scheme; "" for all
  std::string scheme = "http";  // how the proxy is spoken to: http (or https)
  std::string host;             // without brackets for IPv6
  int port = 80;
  // "http://host:port" as libcurl takes it (IPv6 hosts bracketed).
  std::string Url() const;
  bool operator==(const ProxyServer&) const = default;
};

// One way to reach a URL: through this proxy, or direct (nullopt).
using Route = std::optional<ProxyServer>;

// Entries separated by spaces or semicolons. BG_E_INVALID_PROXY_INFO naming the entry.
Result<std::vector<ProxyServer>> ParseProxyList(std::string_view list);

// "<local>" (a host name without a dot), "*" wildcards anywhere ("*.example.org", "10.*"),
// "host:port" (that port only), IP literals; case-insensitive.
class BypassList {
 public:
  static Result<BypassList> Parse(std::string_view list);
  bool Matches(std::string_view host, int port) const;
  bool empty() const { return entries_.empty() && !local_; }

 private:
  struct Entry {
    std::string pattern;  // lower case, may hold '*'
    std::optional<int> port;
  };
  std::vector<Entry> entries_;
  bool local_ = false;
};

// Whether `text` matches the glob `pattern` ('*' matches any run of characters).
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace openbits::proxy
