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

}  // namespace openbits::transfer
