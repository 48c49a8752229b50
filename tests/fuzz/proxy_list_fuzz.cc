// Fuzz target: proxy lists, bypass lists and PAC answers (from jobs, bitsd.conf, the
// creator's environment and PAC scripts). See fuzz_regression_main.cc.
#include <cstddef>
#include <cstdint>
#include <string>

#include "proxy/pac_result.h"
#include "proxy/proxy_list.h"
#include "proxy/resolver.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace openbits::proxy;
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto servers = ParseProxyList(text)) {
    for (const ProxyServer& server : *servers) (void)server.Url();
  }
  if (auto bypass = BypassList::Parse(text)) {
    (void)bypass->Matches("host.example.org", 443);
    (void)bypass->Matches(text.substr(0, 64), 80);
  }
  (void)ParsePacResult(text);
  (void)DevolutionCandidates(text);
  (void)EnvironmentRoutes({{"http_proxy", text}, {"no_proxy", text}}, "http", "a.b");
  return 0;
}
