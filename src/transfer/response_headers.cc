#include "transfer/response_headers.h"

#include <charconv>

#include "base/log.h"
#include "base/text.h"
#include "transfer/response_limits.h"

namespace openbits::transfer {

using text::StartsWithNoCase;
using text::Trim;

std::optional<std::uint64_t> ParseDecimal(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Status ResponseHeaders::AddLine(std::string_view line, std::string_view url) {
  if (line.starts_with("HTTP/")) {
    Reset();
    const auto space = line.find(' ');
    if (space != std::string_view::npos) {
      std::from_chars(line.data() + space + 1, line.data() + line.size(), status);
    }
  }
  if (raw.size() + line.size() > kMaxResponseHeaderBytes) {
    return Error(hr::BG_E_INVALID_SERVER_RESPONSE, ErrorContext::kRemoteFile,
                 "the response headers are larger than " +
                     std::to_string(kMaxResponseHeaderBytes / 1024) +
                     " KiB (the cap on a header block) for " + log::RedactUrl(url));
  }
  raw.append(line);
  if (line.starts_with("HTTP/")) return Ok();
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return Ok();
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = Trim(line.substr(colon + 1));
  auto is = [&](std::string_view wanted) {
    return name.size() == wanted.size() && StartsWithNoCase(name, wanted);
  };
  if (is("content-length")) {
    content_length = ParseDecimal(value);
  } else if (is("content-range")) {
    content_range = std::string(value);
  } else if (is("content-type")) {
    content_type = std::string(value);
  } else if (is("etag")) {
    // A weak ETag cannot validate a byte range (RFC 9110 13.1.5).
    etag = value.starts_with("W/") ? "" : std::string(value);
  } else if (is("last-modified")) {
    last_modified = std::string(value);
  } else if (is("retry-after")) {
    retry_after = std::string(value);
  } else if (is("www-authenticate") && status / 100 == 3 &&
             StartsWithNoCase(value, "passport1.4")) {
    passport_challenge = true;
  }
  return Ok();
}

}  // namespace openbits::transfer
