// The headers of the response being received, read one line at a time as libcurl hands
// them over (untrusted: a hostile server chooses every byte). Only what the transport
// decides on is kept, plus the raw block for the challenges and GetReplyHeaders-style
// reporting, and the block is capped (response_limits.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "openbits/result.h"

namespace openbits::transfer {

struct ResponseHeaders {
  std::string raw;  // the whole block, status line first
  long status = 0;
  std::optional<std::uint64_t> content_length;
  std::optional<std::string> content_range;
  std::string content_type;
  std::string etag;  // strong ETags only: a weak one cannot validate a byte range
  std::string last_modified;
  std::string retry_after;
  // A 3xx that challenges with Passport1.4 (a Passport site's way to ask for a sign-in).
  bool passport_challenge = false;

  void Reset() { *this = ResponseHeaders{}; }
  // One line, CRLF included. A status line ("HTTP/...") starts a new response (a redirect
  // or a 1xx before the final one). BG_E_INVALID_SERVER_RESPONSE (context REMOTE_FILE) when
  // the block grows past kMaxResponseHeaderBytes; that message names `url` (redacted: the
  // redaction is only paid for when the message is made).
  Status AddLine(std::string_view line, std::string_view url);
};

// A decimal number with nothing around it, or nullopt.
std::optional<std::uint64_t> ParseDecimal(std::string_view text);

}  // namespace openbits::transfer
