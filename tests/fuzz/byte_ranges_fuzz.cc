// Fuzz target: what a server says about byte ranges: Content-Range, the multipart/byteranges
// content type and body (fed in uneven chunks), the range cursor that checks the parts
// against what was asked for, and the resume check of a 206. See fuzz_regression_main.cc.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "transfer/byte_ranges.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace openbits;
  using namespace openbits::transfer;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto range = ParseContentRange(text);
  (void)MultipartBoundary(text);
  // The first line is the content type, the rest the body.
  const auto newline = text.find('\n');
  const std::string content_type = text.substr(0, newline);
  const std::string body = newline == std::string::npos ? "" : text.substr(newline + 1);
  const auto boundary = MultipartBoundary(content_type);
  MultipartParser parser(boundary.value_or("B0UND"));
  RangeCursor cursor({{0, 9}, {20, 24}, {100, kSizeUnknown}});
  Status status = Ok();
  for (std::size_t at = 0, chunk = 1; at < body.size() && status;
       at += chunk, chunk = chunk * 3 % 17 + 1) {
    status = parser.Feed(
        body.data() + at, std::min(chunk, body.size() - at),
        [&](std::uint64_t first, std::uint64_t last, std::uint64_t total) -> Status {
          if (total != kSizeUnknown) cursor.SetRemoteSize(total);
          return cursor.StartPart(first, last);
        },
        [&](const char*, std::size_t length) -> Status { return cursor.Consume(length); });
  }
  (void)parser.finished();
  if (range) {
    (void)ResumeMismatch({"\"e\"", "d"}, 100, {content_type, body}, range->total);
  }
  return 0;
}
