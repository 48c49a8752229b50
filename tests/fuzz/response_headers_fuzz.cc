// Fuzz target: a server's (or a proxy's) header block, line by line as libcurl hands it to
// the transport (with its cap), and a proxy's answer to CONNECT as the tunnel reads it.
// See fuzz_regression_main.cc.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/challenge.h"
#include "transfer/connect_tunnel.h"
#include "transfer/response_headers.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace openbits::transfer;
  const std::string text(reinterpret_cast<const char*>(data), size);
  ResponseHeaders headers;
  for (std::size_t at = 0; at < text.size();) {
    auto end = text.find('\n', at);
    end = end == std::string::npos ? text.size() : end + 1;
    if (!headers.AddLine(std::string_view(text).substr(at, end - at), "http://h/")) break;
    at = end;
  }
  (void)openbits::auth::ChallengesFromHeaders(headers.raw, "WWW-Authenticate");
  (void)ParseDecimal(headers.retry_after);
  if (auto response = ParseProxyResponse(text)) {
    (void)openbits::auth::ChallengesFromHeaders(response->headers, "Proxy-Authenticate");
  }
  return 0;
}
