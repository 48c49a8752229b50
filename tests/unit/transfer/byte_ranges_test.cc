// Multi-range requests: the header, the multipart parser and the range cursor.
#include "transfer/byte_ranges.h"

#include <gtest/gtest.h>

namespace openbits::transfer {
namespace {

using core::SourceRange;

// Feeds `body` in chunks of `chunk` bytes and returns what the parts delivered, "first:data|".
std::string Parse(const std::string& body, std::size_t chunk, Status* status = nullptr) {
  MultipartParser parser("B0UND");
  std::string seen;
  Status result;
  for (std::size_t at = 0; at < body.size() && result; at += chunk) {
    result = parser.Feed(
        body.data() + at, std::min(chunk, body.size() - at),
        [&](std::uint64_t first, std::uint64_t, std::uint64_t) {
          seen += "|" + std::to_string(first) + ":";
          return Ok();
        },
        [&](const char* data, std::size_t length) {
          seen.append(data, length);
          return Ok();
        });
  }
  if (status) *status = result;
  if (result && !parser.finished()) seen += "(unfinished)";
  return seen;
}

const std::string kBody =
    "preamble\r\n--B0UND\r\nContent-Type: application/octet-stream\r\n"
    "Content-Range: bytes 0-3/100\r\n\r\nabcd\r\n--B0UND\r\n"
    "Content-Range: bytes 50-51/100\r\n\r\n\r\n\r\n--B0UND--\r\nepilogue";

TEST(MultipartParserTest, DeliversEveryPartWhateverTheChunking) {
  for (std::size_t chunk : {1, 2, 7, 1000}) {
    EXPECT_EQ(Parse(kBody, chunk), "|0:abcd|50:\r\n") << chunk;
  }
}

TEST(MultipartParserTest, PartsWithoutContentRangeAreRejected) {
  Status status;
  Parse("--B0UND\r\nContent-Type: text/plain\r\n\r\nabc\r\n--B0UND--\r\n", 5, &status);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), hr::BG_E_INVALID_SERVER_RESPONSE);
  EXPECT_EQ(Parse("--B0UND\r\nContent-Range: bytes 0-3/10\r\n\r\nab", 3), "|0:ab(unfinished)");
}

TEST(ByteRangesTest, HeaderAndBoundary) {
  EXPECT_EQ(RangeHeaderValue({{0, 99}, {200, kSizeUnknown}}), "bytes=0-99,200-");
  EXPECT_EQ(MultipartBoundary("multipart/byteranges; boundary=THIS_STRING"), "THIS_STRING");
  EXPECT_EQ(MultipartBoundary("Multipart/ByteRanges; boundary=\"q b\"; x=y"), "q b");
  EXPECT_FALSE(MultipartBoundary("application/octet-stream"));
  auto range = ParseContentRange(" bytes 5-9/10");
  ASSERT_TRUE(range);
  EXPECT_EQ(range->last, 9u);
  EXPECT_FALSE(ParseContentRange("bytes 9-5/10"));
  EXPECT_FALSE(ParseContentRange("bytes 5-10/10"));
}

TEST(RangeCursorTest, AcceptsTheWantedBytesInOrderAndMergedAdjacentRanges) {
  RangeCursor cursor({{10, 19}, {20, 29}, {50, kSizeUnknown}});
  cursor.SetRemoteSize(60);
  ASSERT_TRUE(cursor.StartPart(10, 29));  // the server merged two adjacent ranges
  ASSERT_TRUE(cursor.Consume(20));
  ASSERT_TRUE(cursor.StartPart(50, 59));
  ASSERT_TRUE(cursor.Consume(10));
  EXPECT_TRUE(cursor.done());
}

TEST(RangeCursorTest, RejectsGapsWrongStartsAndExtraBytes) {
  RangeCursor gap({{0, 9}, {20, 29}});
  ASSERT_TRUE(gap.StartPart(0, 29));
  EXPECT_EQ(gap.Consume(30).error().code(), hr::BG_E_INVALID_SERVER_RESPONSE);
  RangeCursor wrong({{0, 9}});
  EXPECT_FALSE(wrong.StartPart(5, 9));
  RangeCursor extra({{0, 9}});
  ASSERT_TRUE(extra.StartPart(0, 9));
  EXPECT_FALSE(extra.Consume(11));
}

}  // namespace
}  // namespace openbits::transfer
