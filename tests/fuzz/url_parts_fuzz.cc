// Fuzz target: URLs from users (AddFile) and from servers (Location of a redirect): the
// parts the transport routes and authenticates by, what a PAC script is shown, user info
// split off, and the redaction used in logs and messages. See fuzz_regression_main.cc.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/log.h"
#include "core/credentials.h"
#include "transfer/url_parts.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace openbits;
  const std::string url(reinterpret_cast<const char*>(data), size);
  if (auto parts = transfer::SplitUrl(url)) {
    const std::string pac = transfer::PacUrl(*parts);
    // What PAC sees parses again, to the same host.
    if (auto again = transfer::SplitUrl(pac); again && again->host != parts->host) __builtin_trap();
  }
  (void)core::SplitUrlCredentials(url);
  (void)log::RedactUrl(url);
  return 0;
}
