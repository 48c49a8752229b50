#include "transfer/curl_errors.h"

#include <cstring>

#include "base/log.h"

namespace openbits::transfer {

Error CurlError(CURLcode code, const char* detail, const std::string& redacted_url) {
  HRESULT hr = hr::WINHTTP_INTERNAL_ERROR;
  ErrorContext context = ErrorContext::kRemoteFile;
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      hr = hr::WINHTTP_UNRECOGNIZED_SCHEME;
      break;
    case CURLE_COULDNT_RESOLVE_HOST:
      hr = hr::WINHTTP_NAME_NOT_RESOLVED;
      break;
    case CURLE_COULDNT_RESOLVE_PROXY:
      hr = hr::WINHTTP_NAME_NOT_RESOLVED;
      context = ErrorContext::kGeneralTransport;
      break;
    case CURLE_COULDNT_CONNECT:
      hr = hr::WINHTTP_CANNOT_CONNECT;
      break;
    case CURLE_OPERATION_TIMEDOUT:
      hr = hr::WINHTTP_TIMEOUT;
      break;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      hr = hr::WINHTTP_CONNECTION_ERROR;
      break;
    case CURLE_PARTIAL_FILE:
      hr = hr::BG_E_CONNECTION_CLOSED;
      break;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
      hr = hr::WINHTTP_INVALID_SERVER_RESPONSE;
      break;
    case CURLE_TOO_MANY_REDIRECTS:
      hr = hr::WINHTTP_REDIRECT_FAILED;
      break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
      hr = hr::WINHTTP_SECURE_FAILURE;
      break;
    case CURLE_OUT_OF_MEMORY:
      hr = hr::E_OUTOFMEMORY;
      context = ErrorContext::kGeneralTransport;
      break;
    default:
      break;
  }
  std::string message = std::string(curl_easy_strerror(code));
  if (detail && *detail) message += " (" + std::string(detail) + ")";
  return Error(hr, context, message + " for " + redacted_url);
}

Error CurlError(CURL* curl, CURLcode code, const char* detail, const std::string& redacted_url) {
  // libcurl's own text often hides the system's answer ("Couldn't connect to server" for a
  // refused connection): say which it was. Only for socket failures: libcurl keeps the last
  // errno of the handle, which would be stale for anything else.
  if (code == CURLE_TOO_MANY_REDIRECTS) {
    // Where the loop went: the Location the server answered last.
    const char* next = nullptr;
    curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &next);
    if (next) {
      const std::string why = std::string(detail ? detail : "") +
                              "; the last answer was a redirect to " + log::RedactUrl(next);
      return CurlError(code, why.c_str(), redacted_url);
    }
  }
  if (code == CURLE_OPERATION_TIMEDOUT) {
    // Whether the server never answered or stalled mid-response.
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    const std::string why =
        std::string(detail ? detail : "") +
        (status == 0 ? "; the server sent no response"
                     : "; the server stalled after answering HTTP " + std::to_string(status));
    return CurlError(code, why.c_str(), redacted_url);
  }
  const bool socket_failure =
      code == CURLE_COULDNT_CONNECT || code == CURLE_SEND_ERROR || code == CURLE_RECV_ERROR;
  long os_errno = 0;
  if (socket_failure) curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
  if (os_errno == 0) return CurlError(code, detail, redacted_url);
  const int number = static_cast<int>(os_errno);
  const char* name = strerrorname_np(number);
  const std::string errno_name = name ? name : "errno " + std::to_string(number);
  std::string why = detail ? detail : "";
  if (why.find(std::strerror(number)) != std::string::npos) {
    why += " (" + errno_name + ")";
  } else {
    why += std::string(why.empty() ? "" : "; ") + std::strerror(number) + " (" + errno_name + ")";
  }
  return CurlError(code, why.c_str(), redacted_url);
}

std::string_view HttpReasonPhrase(long status) {
  switch (status) {
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 305:
      return "Use Proxy";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 429:
      return "Too Many Requests";
    case 451:
      return "Unavailable For Legal Reasons";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

Error HttpStatusError(long status, std::string_view retry_after, const std::string& redacted_url) {
  // The authority of the URL: which server answered.
  std::string server = redacted_url;
  if (const auto scheme = server.find("://"); scheme != std::string::npos) {
    server = server.substr(scheme + 3);
  }
  server = server.substr(0, server.find_first_of("/?#"));
  server = server.substr(server.rfind('@') == std::string::npos ? 0 : server.rfind('@') + 1);
  std::string message = "the server " + server + " answered HTTP " + std::to_string(status);
  if (const std::string_view reason = HttpReasonPhrase(status); !reason.empty()) {
    message += " ";
    message += reason;
  }
  message += " for " + redacted_url;
  if (!retry_after.empty()) {
    message += " (Retry-After: ";
    message += retry_after;
    message += ")";
  }
  return Error(HttpStatusToHresult(static_cast<int>(status)), ErrorContext::kRemoteFile, message);
}

}  // namespace openbits::transfer
