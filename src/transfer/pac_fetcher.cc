#include "transfer/pac_fetcher.h"

#include <curl/curl.h>

#include "base/log.h"
#include "transfer/curl_errors.h"

namespace openbits::transfer {
namespace {

constexpr std::size_t kMaxScriptBytes = 1 << 20;

size_t Collect(char* data, size_t size, size_t count, void* out) {
  auto* body = static_cast<std::string*>(out);
  if (body->size() + size * count > kMaxScriptBytes) return 0;  // too large: stop
  body->append(data, size * count);
  return size * count;
}

}  // namespace

Result<std::string> CurlPacFetcher::Fetch(const std::string& url) {
  CURL* curl = curl_easy_init();
  if (!curl) return Error::Internal("no curl handle");
  std::string body;
  char detail[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 3L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout_s_);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent_.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
  TlsRequest tls{trust_, 0, false};
  ConfigureTls(curl, &tls);
  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  const std::string where = "the PAC file " + log::RedactUrl(url);
  if (code == CURLE_WRITE_ERROR) {
    return Error(hr::BG_E_INVALID_PROXY_INFO, ErrorContext::kGeneralTransport,
                 where + " is larger than 1 MiB");
  }
  if (code != CURLE_OK) {
    const Error error = CurlError(code, detail, log::RedactUrl(url));
    return Error(error.code(), ErrorContext::kGeneralTransport,
                 where + " could not be fetched: " + error.message());
  }
  if (status >= 500) {
    return Error(HttpStatusToHresult(static_cast<int>(status)), ErrorContext::kGeneralTransport,
                 where + " could not be fetched: HTTP status " + std::to_string(status));
  }
  if (status >= 300 || body.empty()) {
    return Error(hr::BG_E_INVALID_PROXY_INFO, ErrorContext::kGeneralTransport,
                 where + (body.empty() && status < 300
                              ? " is empty"
                              : " could not be fetched: HTTP status " + std::to_string(status)));
  }
  return body;
}

}  // namespace openbits::transfer
