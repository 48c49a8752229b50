#include "proxy/proxy_list.h"

#include "base/log.h"
#include "base/text.h"

#include <cctype>
#include <charconv>

namespace openbits::proxy {
namespace {

using text::Lower;

std::vector<std::string_view> Split(std::string_view list) {
  std::vector<std::string_view> items;
  std::size_t start = 0;
  while (start < list.size()) {
    const std::size_t end = list.find_first_of(" \t;,", start);
    const std::size_t stop = end == std::string_view::npos ? list.size() : end;
    if (stop > start) items.push_back(list.substr(start, stop - start));
    start = stop + 1;
  }
  return items;
}

std::optional<int> ParsePort(std::string_view text) {
  int port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port < 1 || port > 65535) {
    return std::nullopt;
  }
  return port;
}

// "host", "host:port", "[v6]", "[v6]:port" into host and port.
bool SplitHostPort(std::string_view text, std::string& host, std::optional<int>& port) {
  if (text.starts_with("[")) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(text.substr(1, close - 1));
    text.remove_prefix(close + 1);
    if (text.empty()) return !host.empty();
    if (text.front() != ':') return false;
    port = ParsePort(text.substr(1));
    return port.has_value() && !host.empty();
  }
  const auto colon = text.rfind(':');
  if (colon != std::string_view::npos && text.find(':') == colon) {
    host = std::string(text.substr(0, colon));
    port = ParsePort(text.substr(colon + 1));
    return port.has_value() && !host.empty();
  }
  host = std::string(text);  // a bare IPv6 literal has several colons and no port
  return !host.empty();
}

Error Invalid(std::string_view entry, const std::string& why) {
  // The entry may hold a password (user:password@host): the message is stored and logged.
  return Error(hr::BG_E_INVALID_PROXY_INFO, ErrorContext::kGeneralTransport,
               "the proxy entry '" + log::RedactProxyEntry(entry) + "' " + why);
}

}  // namespace

std::string ProxyServer::Url() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<std::vector<ProxyServer>> ParseProxyList(std::string_view list) {
  std::vector<ProxyServer> servers;
  for (std::string_view entry : Split(list)) {
    ProxyServer server;
    std::string_view rest = entry;
    if (const auto equals = rest.find('='); equals != std::string_view::npos) {
      server.for_scheme = Lower(rest.substr(0, equals));
      rest.remove_prefix(equals + 1);
      if (server.for_scheme != "http" && server.for_scheme != "https") {
        return Invalid(entry, "names the scheme '" + server.for_scheme +
                                  "'; only http= and https= are supported");
      }
    }
    if (const auto sep = rest.find("://"); sep != std::string_view::npos) {
      server.scheme = Lower(rest.substr(0, sep));
      rest.remove_prefix(sep + 3);
      if (server.scheme != "http" && server.scheme != "https") {
        return Invalid(entry, "uses the protocol '" + server.scheme +
                                  "'; proxies are spoken to with http:// or https://");
      }
    }
    while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    std::optional<int> port;
    if (!SplitHostPort(rest, server.host, port)) return Invalid(entry, "is not host[:port]");
    for (char c : server.host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' &&
          c != ':') {
        return Invalid(entry, "has a host name with the character '" + std::string(1, c) + "'");
      }
    }
    server.port = port.value_or(server.scheme == "https" ? 443 : 80);
    servers.push_back(std::move(server));
  }
  if (servers.empty()) {
    return Error(hr::BG_E_INVALID_PROXY_INFO, ErrorContext::kGeneralTransport,
                 "the proxy list names no proxy");
  }
  return servers;
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Iterative wildcard matching with one backtrack point: linear for one '*', at worst
  // O(pattern x text) for several; both are bounded by the 4,000-character list limit.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Result<BypassList> BypassList::Parse(std::string_view list) {
  BypassList bypass;
  for (std::string_view item : Split(list)) {
    if (Lower(item) == "<local>") {
      bypass.local_ = true;
      continue;
    }
    // Scheme prefixes ("http://host") are accepted as WinHTTP does, and ignored.
    if (const auto sep = item.find("://"); sep != std::string_view::npos) {
      item.remove_prefix(sep + 3);
    }
    Entry entry;
    std::string host;
    std::optional<int> port;
    // "*:8080" and "host:port"; a bare IPv6 literal stays whole.
    if (!SplitHostPort(item, host, port)) {
      return Error(hr::BG_E_INVALID_PROXY_INFO, ErrorContext::kGeneralTransport,
                   "the proxy bypass entry '" + std::string(item) + "' is not host[:port]");
    }
    entry.pattern = Lower(host);
    entry.port = port;
    bypass.entries_.push_back(std::move(entry));
  }
  return bypass;
}

bool BypassList::Matches(std::string_view host, int port) const {
  const std::string lower = Lower(host);
  if (local_ && lower.find('.') == std::string::npos && lower.find(':') == std::string::npos) {
    return true;
  }
  for (const Entry& entry : entries_) {
    if (entry.port && *entry.port != port) continue;
    if (GlobMatch(entry.pattern, lower)) return true;
  }
  return false;
}

}  // namespace openbits::proxy
