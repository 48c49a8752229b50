#include "transfer/url_parts.h"

#include <curl/curl.h>

#include <cstdlib>

namespace openbits::transfer {

std::optional<UrlParts> SplitUrl(const std::string& url) {
  CURLU* handle = curl_url();
  if (curl_url_set(handle, CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    curl_url_cleanup(handle);
    return std::nullopt;
  }
  auto part = [&](CURLUPart which, unsigned flags = 0) {
    char* value = nullptr;
    std::string text;
    if (curl_url_get(handle, which, &value, flags) == CURLUE_OK && value) text = value;
    curl_free(value);
    return text;
  };
  UrlParts parts;
  const std::string scheme = part(CURLUPART_SCHEME);
  parts.host = part(CURLUPART_HOST);
  if (parts.host.size() > 2 && parts.host.front() == '[') {
    parts.host = parts.host.substr(1, parts.host.size() - 2);
  }
  const std::string port = part(CURLUPART_PORT, CURLU_DEFAULT_PORT);
  parts.origin = scheme + "://" + part(CURLUPART_HOST) + ":" + port;
  parts.scheme = scheme;
  parts.port = std::atoi(port.c_str());
  parts.target = part(CURLUPART_PATH);
  if (parts.target.empty()) parts.target = "/";
  if (const std::string query = part(CURLUPART_QUERY); !query.empty()) {
    parts.target += "?" + query;
  }
  parts.secure = scheme == "https";
  curl_url_cleanup(handle);
  return parts;
}

std::string PacUrl(const UrlParts& parts) {
  std::string url = parts.scheme + "://";
  url += parts.host.find(':') != std::string::npos ? "[" + parts.host + "]" : parts.host;
  const int default_port = parts.secure ? 443 : 80;
  if (parts.port != default_port) url += ":" + std::to_string(parts.port);
  url += parts.secure ? "/" : parts.target;
  return url;
}

}  // namespace openbits::transfer
