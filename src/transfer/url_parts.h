// The parts of an http(s) URL that routing and authentication need (libcurl's URL parser).
#pragma once

#include <optional>
#include <string>

namespace openbits::transfer {

struct UrlParts {
  std::string origin;  // scheme://host:port
  std::string scheme;
  std::string host;
  int port = 0;
  std::string target;  // path and query
  bool secure = false;
};

// nullopt when libcurl cannot parse `url`.
std::optional<UrlParts> SplitUrl(const std::string& url);

// The URL as a PAC script sees it (FindProxyForURL's `url`), which is the script's
// author's (a proxy's, or any WPAD server's on the network) to read: never a user name or
// password, nor a fragment; for https only scheme://host[:port]/, as Chrome and Windows
// do, since the path and query of an https request are not for the network to see. For
// http the path and query stay: they cross the network in the clear anyway, and PAC scripts
// match on them (shExpMatch(url, "http://*/*.exe")).
std::string PacUrl(const UrlParts& parts);

}  // namespace openbits::transfer
