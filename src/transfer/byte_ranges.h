// Multi-range downloads (AddFileWithRanges): the Range header, the multipart/byteranges
// body, and the check that what arrives is exactly the bytes asked for, in order.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/job.h"
#include "openbits/result.h"

namespace openbits::transfer {

// "bytes=0-99,200-" (an open end for "to EOF").
std::string RangeHeaderValue(const std::vector<core::SourceRange>& ranges);
// The boundary of a "multipart/byteranges; boundary=..." content type, or nullopt.
std::optional<std::string> MultipartBoundary(std::string_view content_type);

// Follows the wanted source ranges while bytes arrive. A part must start at the next wanted
// byte; it may run on into the next range only if that range follows without a gap (servers
// may merge adjacent ranges). Anything else is BG_E_INVALID_SERVER_RESPONSE.
class RangeCursor {
 public:
  explicit RangeCursor(std::vector<core::SourceRange> ranges);
  // Resolves a range "to EOF" once the remote size is known.
  void SetRemoteSize(std::uint64_t size);
  Status StartPart(std::uint64_t first, std::uint64_t last);
  Status Consume(std::uint64_t length);
  bool done() const { return index_ >= ranges_.size(); }

 private:
  std::vector<core::SourceRange> ranges_;
  std::size_t index_ = 0;
  std::uint64_t next_ = 0;            // the next wanted source byte
  std::uint64_t part_remaining_ = 0;  // bytes left in the current part
};

// A streaming parser of a multipart/byteranges body (RFC 9110 14.6).
class MultipartParser {
 public:
  using PartStart =
      std::function<Status(std::uint64_t first, std::uint64_t last, std::uint64_t total)>;
  using PartData = std::function<Status(const char* data, std::size_t length)>;

  explicit MultipartParser(std::string boundary) : boundary_("--" + std::move(boundary)) {}
  Status Feed(const char* data, std::size_t length, const PartStart& on_part,
              const PartData& on_data);
  bool finished() const { return state_ == State::kDone; }

 private:
  enum class State { kBoundary, kHeaders, kData, kDone };
  Status OnLine(std::string_view line, const PartStart& on_part);

  std::string boundary_;
  State state_ = State::kBoundary;
  std::string line_;
  std::optional<std::string> content_range_;
  std::uint64_t data_remaining_ = 0;
  int stray_lines_ = 0;
};

// "bytes 100-199/4194304" -> (first, last, total); total kSizeUnknown for "*".
struct ContentRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t total = kSizeUnknown;
};
std::optional<ContentRange> ParseContentRange(std::string_view value);

// Whether a 206 to a resumed request ("Range: bytes=N-" with If-Range) is of the version of
// the file whose first N bytes are already here: nullopt when it is, else what changed. A
// server that ignores If-Range sends the new version's bytes; they must not be spliced on.
// An ETag must come back unchanged (RFC 9110 15.3.7 requires it in a 206); Last-Modified
// and the size are compared when both sides have them.
std::optional<std::string> ResumeMismatch(const core::RemoteValidators& stored,
                                          std::uint64_t stored_total,
                                          const core::RemoteValidators& received,
                                          std::uint64_t received_total);

}  // namespace openbits::transfer
