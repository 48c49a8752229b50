#include "transfer/curl_errors.h"

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

}  // namespace openbits::transfer
