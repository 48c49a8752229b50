// What the transport reads of a server's answer: header lines under their cap, the resume
// check of a 206, and the URL a PAC script is shown.
#include <gtest/gtest.h>

#include "transfer/byte_ranges.h"
#include "transfer/response_headers.h"
#include "transfer/response_limits.h"
#include "transfer/url_parts.h"

namespace openbits::transfer {
namespace {

TEST(ResponseHeadersTest, KeepsWhatTheTransportDecidesOnAndOnlyTheLastResponse) {
  ResponseHeaders headers;
  for (const char* line : {"HTTP/1.1 302 Found\r\n", "Location: /x\r\n", "ETag: \"old\"\r\n",
                           "HTTP/1.1 206 Partial Content\r\n", "content-length: 10\r\n",
                           "Content-Range: bytes 5-14/100\r\n", "ETag: W/\"weak\"\r\n",
                           "Last-Modified: Tue, 01 Dec 2026 10:00:00 GMT\r\n", "\r\n"}) {
    ASSERT_TRUE(headers.AddLine(line, "http://h/"));
  }
  EXPECT_EQ(headers.status, 206);
  EXPECT_EQ(headers.content_length, 10u);
  EXPECT_EQ(headers.content_range, "bytes 5-14/100");
  EXPECT_EQ(headers.etag, "");  // weak: cannot validate a range
  EXPECT_EQ(headers.last_modified, "Tue, 01 Dec 2026 10:00:00 GMT");
  EXPECT_TRUE(headers.raw.starts_with("HTTP/1.1 206"));
  EXPECT_FALSE(headers.passport_challenge);
}

TEST(ResponseHeadersTest, APassportChallengeOnARedirectIsFlagged) {
  ResponseHeaders headers;
  ASSERT_TRUE(headers.AddLine("HTTP/1.1 302 Found\r\n", "u"));
  ASSERT_TRUE(headers.AddLine("WWW-Authenticate: Passport1.4 lc=1033,id=10\r\n", "u"));
  EXPECT_TRUE(headers.passport_challenge);
}

TEST(ResponseHeadersTest, ABlockOverTheCapIsRefusedNamingIt) {
  ResponseHeaders headers;
  ASSERT_TRUE(headers.AddLine("HTTP/1.1 200 OK\r\n", "u"));
  const std::string line = "X-Filler: " + std::string(1000, 'v') + "\r\n";
  Status added = Ok();
  std::size_t lines = 0;
  while (added && lines < 1000) {
    added = headers.AddLine(line, "http://h/f");
    ++lines;
  }
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code(), hr::BG_E_INVALID_SERVER_RESPONSE);
  EXPECT_NE(added.error().message().find("256 KiB"), std::string::npos);
  EXPECT_NE(added.error().message().find("http://h/f"), std::string::npos);
  EXPECT_LE(headers.raw.size(), kMaxResponseHeaderBytes);
}

TEST(ResumeMismatchTest, TheSameVersionPasses) {
  const core::RemoteValidators stored{"\"e1\"", "Tue, 01 Dec 2026 10:00:00 GMT"};
  EXPECT_EQ(ResumeMismatch(stored, 100, stored, 100), std::nullopt);
  // A 206 need not repeat Last-Modified (RFC 9110 15.3.7 lists ETag, not Last-Modified).
  EXPECT_EQ(ResumeMismatch(stored, 100, {"\"e1\"", ""}, 100), std::nullopt);
  // Nothing stored to compare: the size still is.
  EXPECT_EQ(ResumeMismatch({}, kSizeUnknown, {"\"e2\"", "x"}, 7), std::nullopt);
}

TEST(ResumeMismatchTest, AChangedOrMissingETagAChangedDateOrSizeIsAnotherVersion) {
  const core::RemoteValidators stored{"\"e1\"", "Tue, 01 Dec 2026 10:00:00 GMT"};
  auto changed = ResumeMismatch(stored, 100, {"\"e2\"", stored.last_modified}, 100);
  ASSERT_TRUE(changed);
  EXPECT_NE(changed->find("\"e2\""), std::string::npos);
  EXPECT_TRUE(ResumeMismatch(stored, 100, {"", stored.last_modified}, 100));
  EXPECT_TRUE(
      ResumeMismatch({"", stored.last_modified}, 100, {"", "Wed, 02 Dec 2026 10:00:00 GMT"}, 100));
  changed = ResumeMismatch({}, 100, {}, 101);
  ASSERT_TRUE(changed);
  EXPECT_NE(changed->find("from 100 to 101"), std::string::npos);
}

std::string Pac(const std::string& url) {
  auto parts = SplitUrl(url);
  return parts ? PacUrl(*parts) : "unparsed";
}

TEST(PacUrlTest, HttpsIsSchemeHostAndPortOnly) {
  EXPECT_EQ(Pac("https://user:pw@example.org/a/b?token=1#frag"), "https://example.org/");
  EXPECT_EQ(Pac("https://example.org:8443/a?b"), "https://example.org:8443/");
  EXPECT_EQ(Pac("https://[::1]:444/x"), "https://[::1]:444/");
}

TEST(PacUrlTest, HttpKeepsPathAndQueryButNoUserInfoOrFragment) {
  EXPECT_EQ(Pac("http://user:pw@example.org/a/b.exe?x=1#frag"), "http://example.org/a/b.exe?x=1");
  EXPECT_EQ(Pac("http://example.org:8080"), "http://example.org:8080/");
}

}  // namespace
}  // namespace openbits::transfer
