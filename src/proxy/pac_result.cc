#include "proxy/pac_result.h"

#include "base/text.h"

#include <cctype>

namespace openbits::proxy {
namespace {

using text::Trim;

}  // namespace

Result<std::vector<Route>> ParsePacResult(std::string_view answer) {
  std::vector<Route> routes;
  auto invalid = [&](const std::string& why) {
    return Error(hr::BG_E_INVALID_PROXY_INFO, ErrorContext::kGeneralTransport,
                 "the PAC script answered '" + std::string(answer.substr(0, 200)) + "': " + why);
  };
  std::size_t start = 0;
  while (start <= answer.size()) {
    std::size_t end = answer.find(';', start);
    if (end == std::string_view::npos) end = answer.size();
    const std::string_view entry = Trim(answer.substr(start, end - start));
    start = end + 1;
    if (entry.empty()) continue;
    const std::size_t space = entry.find_first_of(" \t");
    std::string keyword(entry.substr(0, space));
    for (char& c : keyword) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const std::string_view where =
        space == std::string_view::npos ? std::string_view() : Trim(entry.substr(space));
    if (keyword == "DIRECT" && where.empty()) {
      routes.emplace_back(std::nullopt);
    } else if (keyword == "PROXY" || keyword == "HTTP" || keyword == "HTTPS") {
      const std::string spec = (keyword == "HTTPS" ? "https://" : "http://") + std::string(where);
      auto servers = ParseProxyList(spec);
      if (!servers || servers->size() != 1) return invalid("'" + std::string(entry) + "'");
      routes.emplace_back(servers->front());
    } else if (keyword.starts_with("SOCKS")) {
      continue;  // not spoken here; the next entry may be usable
    } else {
      return invalid("'" + std::string(entry) + "' is not DIRECT, PROXY, HTTPS or SOCKS");
    }
  }
  if (routes.empty()) return invalid("no usable route");
  return routes;
}

}  // namespace openbits::proxy
