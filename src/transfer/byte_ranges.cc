#include "transfer/byte_ranges.h"

#include "base/text.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace openbits::transfer {
namespace {

using text::StartsWithNoCase;
using text::Trim;

constexpr std::size_t kMaxLineLength = 8192;
constexpr int kMaxStrayLines = 16;

Error BadResponse(const std::string& why) {
  return Error(hr::BG_E_INVALID_SERVER_RESPONSE, ErrorContext::kRemoteFile, why);
}

std::optional<std::uint64_t> Number(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<ContentRange> ParseContentRange(std::string_view value) {
  value = Trim(value);
  if (!StartsWithNoCase(value, "bytes ")) return std::nullopt;
  value.remove_prefix(6);
  const auto dash = value.find('-');
  const auto slash = value.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) {
    return std::nullopt;
  }
  auto first = Number(value.substr(0, dash));
  auto last = Number(value.substr(dash + 1, slash - dash - 1));
  if (!first || !last || *last < *first) return std::nullopt;
  ContentRange range{*first, *last, kSizeUnknown};
  if (value.substr(slash + 1) != "*") {
    auto total = Number(value.substr(slash + 1));
    if (!total || *total <= *last) return std::nullopt;
    range.total = *total;
  }
  return range;
}

std::string RangeHeaderValue(const std::vector<core::SourceRange>& ranges) {
  std::string value = "bytes=";
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (i) value += ',';
    value += std::to_string(ranges[i].first) + "-";
    if (ranges[i].last != kSizeUnknown) value += std::to_string(ranges[i].last);
  }
  return value;
}

std::optional<std::string> MultipartBoundary(std::string_view content_type) {
  if (!StartsWithNoCase(Trim(content_type), "multipart/byteranges")) return std::nullopt;
  const auto at = content_type.find("boundary=");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view boundary = content_type.substr(at + 9);
  boundary = boundary.substr(0, boundary.find(';'));
  boundary = Trim(boundary);
  if (boundary.size() >= 2 && boundary.front() == '"' && boundary.back() == '"') {
    boundary = boundary.substr(1, boundary.size() - 2);
  }
  if (boundary.empty() || boundary.size() > 70) return std::nullopt;
  return std::string(boundary);
}

RangeCursor::RangeCursor(std::vector<core::SourceRange> ranges) : ranges_(std::move(ranges)) {
  if (!ranges_.empty()) next_ = ranges_.front().first;
}

void RangeCursor::SetRemoteSize(std::uint64_t size) {
  for (core::SourceRange& range : ranges_) {
    if (range.last == kSizeUnknown && size > 0) range.last = size - 1;
  }
}

Status RangeCursor::StartPart(std::uint64_t first, std::uint64_t last) {
  if (done()) return BadResponse("the server sent a byte range that was not asked for");
  if (first != next_ || part_remaining_ != 0) {
    return BadResponse("the server sent bytes " + std::to_string(first) + "-" +
                       std::to_string(last) + " where byte " + std::to_string(next_) +
                       " was expected");
  }
  part_remaining_ = last - first + 1;
  return Ok();
}

Status RangeCursor::Consume(std::uint64_t length) {
  if (length > part_remaining_) return BadResponse("a range part is longer than announced");
  part_remaining_ -= length;
  while (length > 0) {
    if (done()) return BadResponse("the server sent more bytes than were asked for");
    core::SourceRange& range = ranges_[index_];
    const std::uint64_t available = range.last - next_ + 1;
    const std::uint64_t taken = std::min(length, available);
    next_ += taken;
    length -= taken;
    if (next_ > range.last) {
      ++index_;
      if (done()) continue;
      // Bytes still in this part must be the next range, without a gap.
      if (length > 0 && ranges_[index_].first != next_) {
        return BadResponse("the server merged byte ranges that are not adjacent");
      }
      next_ = ranges_[index_].first;
    }
  }
  return Ok();
}

Status MultipartParser::Feed(const char* data, std::size_t length, const PartStart& on_part,
                             const PartData& on_data) {
  while (length > 0) {
    if (state_ == State::kData) {
      const std::size_t taken =
          static_cast<std::size_t>(std::min<std::uint64_t>(data_remaining_, length));
      OPENBITS_RETURN_IF_ERROR(on_data(data, taken));
      data += taken;
      length -= taken;
      data_remaining_ -= taken;
      if (data_remaining_ == 0) state_ = State::kBoundary;
      continue;
    }
    if (state_ == State::kDone) return Ok();  // the epilogue is ignored
    const char c = *data++;
    --length;
    if (c != '\n') {
      if (line_.size() >= kMaxLineLength) return BadResponse("a multipart header is too long");
      line_ += c;
      continue;
    }
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    const std::string line = std::move(line_);
    line_.clear();
    OPENBITS_RETURN_IF_ERROR(OnLine(line, on_part));
  }
  return Ok();
}

Status MultipartParser::OnLine(std::string_view line, const PartStart& on_part) {
  if (state_ == State::kBoundary) {
    if (line == boundary_) {
      state_ = State::kHeaders;
      content_range_.reset();
    } else if (line == boundary_ + "--") {
      state_ = State::kDone;
    } else if (++stray_lines_ > kMaxStrayLines) {
      return BadResponse("the multipart body has no boundary where one belongs");
    }
    return Ok();
  }
  // kHeaders
  if (!line.empty()) {
    if (StartsWithNoCase(line, "content-range:")) content_range_ = std::string(line.substr(14));
    return Ok();
  }
  auto range = content_range_ ? ParseContentRange(*content_range_) : std::nullopt;
  if (!range) return BadResponse("a part of the multipart body has no valid Content-Range");
  OPENBITS_RETURN_IF_ERROR(on_part(range->first, range->last, range->total));
  data_remaining_ = range->last - range->first + 1;
  stray_lines_ = 0;
  state_ = State::kData;
  return Ok();
}

std::optional<std::string> ResumeMismatch(const core::RemoteValidators& stored,
                                          std::uint64_t stored_total,
                                          const core::RemoteValidators& received,
                                          std::uint64_t received_total) {
  // The server's text goes into an error message: keep it short.
  auto shown = [](const std::string& value) {
    return value.empty()       ? std::string("none")
           : value.size() > 64 ? value.substr(0, 64) + "..."
                               : value;
  };
  if (!stored.etag.empty() && received.etag != stored.etag) {
    return "the ETag changed from " + shown(stored.etag) + " to " + shown(received.etag);
  }
  if (!stored.last_modified.empty() && !received.last_modified.empty() &&
      received.last_modified != stored.last_modified) {
    return "Last-Modified changed from " + shown(stored.last_modified) + " to " +
           shown(received.last_modified);
  }
  if (stored_total != kSizeUnknown && received_total != kSizeUnknown &&
      stored_total != received_total) {
    return "the size changed from " + std::to_string(stored_total) + " to " +
           std::to_string(received_total) + " bytes";
  }
  return std::nullopt;
}

}  // namespace openbits::transfer
