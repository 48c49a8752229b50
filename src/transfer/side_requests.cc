#include "transfer/side_requests.h"

#include <curl/curl.h>
#include <string.h>

#include "base/log.h"
#include "transfer/curl_errors.h"
#include "transfer/response_limits.h"

namespace openbits::transfer {
namespace {

struct Reply {
  CURLcode code = CURLE_OK;
  std::string detail;
  long status = 0;
  std::string headers;
  std::string body;
  std::optional<std::string> too_large;  // which cap stopped the transfer
};

size_t Collect(char* data, size_t size, size_t count, void* out) {
  auto* reply = static_cast<Reply*>(out);
  if (reply->body.size() + size * count > kMaxSideBodyBytes) {
    reply->too_large =
        "the body is larger than " + std::to_string(kMaxSideBodyBytes >> 20) + " MiB";
    return 0;  // stops the transfer
  }
  reply->body.append(data, size * count);
  return size * count;
}

size_t CollectHeaders(char* data, size_t size, size_t count, void* out) {
  auto* reply = static_cast<Reply*>(out);
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) reply->headers.clear();  // only the last response counts
  if (reply->headers.size() + line.size() > kMaxResponseHeaderBytes) {
    reply->too_large = "the response headers are larger than " +
                       std::to_string(kMaxResponseHeaderBytes / 1024) +
                       " KiB (the cap on a header block)";
    return 0;
  }
  reply->headers.append(line);
  return size * count;
}

// One direct GET, redirects followed (at most 3), with the daemon's TLS trust.
Reply DirectGet(const std::string& url, const TlsTrust* trust, const std::string& user_agent,
                long timeout_s, const SecretString& authorization) {
  Reply reply;
  CURL* curl = curl_easy_init();
  if (!curl) {
    reply.code = CURLE_OUT_OF_MEMORY;
    return reply;
  }
  char detail[CURL_ERROR_SIZE] = {};
  curl_slist* headers = nullptr;
  if (!authorization.empty()) {
    std::string line = "Authorization: ";
    line.append(authorization.reveal());
    headers = curl_slist_append(nullptr, line.c_str());
    explicit_bzero(line.data(), line.size());
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  // The Authorization header is ours: never to another host (curl's rule for custom ones).
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 3L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout_s);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &CollectHeaders);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
  TlsRequest tls{trust, 0, false};
  ConfigureTls(curl, &tls);
  reply.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_easy_cleanup(curl);
  for (curl_slist* node = headers; node; node = node->next) {
    explicit_bzero(node->data, std::strlen(node->data));
  }
  curl_slist_free_all(headers);
  reply.detail = detail;
  return reply;
}

}  // namespace

Result<std::string> CurlPacFetcher::Fetch(const std::string& url) {
  Reply reply = DirectGet(url, trust_, user_agent_, timeout_s_, SecretString());
  const std::string where = "the PAC file " + log::RedactUrl(url);
  if (reply.too_large) {
    return Error(hr::BG_E_INVALID_PROXY_INFO, ErrorContext::kGeneralTransport,
                 where + " cannot be used: " + *reply.too_large);
  }
  if (reply.code != CURLE_OK) {
    const Error error = CurlError(reply.code, reply.detail.c_str(), log::RedactUrl(url));
    return Error(error.code(), ErrorContext::kGeneralTransport,
                 where + " could not be fetched: " + error.message());
  }
  if (reply.status >= 500) {
    return Error(HttpStatusToHresult(static_cast<int>(reply.status)),
                 ErrorContext::kGeneralTransport,
                 where + " could not be fetched: HTTP status " + std::to_string(reply.status));
  }
  if (reply.status >= 300 || reply.body.empty()) {
    return Error(
        hr::BG_E_INVALID_PROXY_INFO, ErrorContext::kGeneralTransport,
        where + (reply.body.empty() && reply.status < 300
                     ? " is empty"
                     : " could not be fetched: HTTP status " + std::to_string(reply.status)));
  }
  return std::move(reply.body);
}

Result<auth::HttpReply> CurlSideChannel::Get(const std::string& url,
                                             const SecretString& authorization) {
  Reply reply = DirectGet(url, trust_, user_agent_, timeout_s_, authorization);
  if (reply.too_large) {
    return Error(hr::BG_E_INVALID_SERVER_RESPONSE, ErrorContext::kRemoteFile,
                 "the answer of " + log::RedactUrl(url) + " cannot be used: " + *reply.too_large);
  }
  if (reply.code != CURLE_OK) {
    return CurlError(reply.code, reply.detail.c_str(), log::RedactUrl(url));
  }
  return auth::HttpReply{reply.status, std::move(reply.headers)};
}

}  // namespace openbits::transfer
