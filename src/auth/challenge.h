// HTTP authentication challenges (RFC 9110 11.6.1): what a 401's WWW-Authenticate and a
// 407's Proxy-Authenticate offer. Untrusted input: the parser never throws, bounds its
// work by the input's size, and drops what it cannot read instead of guessing.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace openbits::auth {

struct Challenge {
  std::string scheme;   // lower case: "basic", "digest", "negotiate", "ntlm", "passport1.4"
  std::string token68;  // Negotiate and NTLM legs carry one base64 token
  std::vector<std::pair<std::string, std::string>> params;  // names lower case, values unquoted

  // The value of parameter `name` (lower case), if present.
  std::optional<std::string> Param(std::string_view name) const;
};

// Parses one header value, which may hold several comma-separated challenges.
std::vector<Challenge> ParseChallenges(std::string_view header_value);

// The values (trimmed) of every header line named `header_name` (case-insensitive) in a
// raw header block, in order.
std::vector<std::string_view> HeaderValues(std::string_view raw_headers,
                                           std::string_view header_name);

// The challenges of every header line named `header_name` (case-insensitive) in a raw header
// block, in order.
std::vector<Challenge> ChallengesFromHeaders(std::string_view raw_headers,
                                             std::string_view header_name);

std::string Base64Encode(std::string_view bytes);
// nullopt when `text` is not base64.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace openbits::auth
