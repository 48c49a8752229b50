// What FindProxyForURL answers ("PROXY a:3128; PROXY b:3128; DIRECT") as routes, in order.
#pragma once

#include <string_view>
#include <vector>

#include "proxy/proxy_list.h"

namespace openbits::proxy {

// PROXY and HTTP are http proxies, HTTPS an https one, DIRECT goes direct; SOCKS entries are
// skipped (not supported). BG_E_INVALID_PROXY_INFO when nothing usable is left, naming the
// answer.
Result<std::vector<Route>> ParsePacResult(std::string_view answer);

}  // namespace openbits::proxy
