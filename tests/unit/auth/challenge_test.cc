#include "auth/challenge.h"

#include <gtest/gtest.h>

namespace openbits::auth {
namespace {

TEST(ChallengeTest, ParsesSeveralChallengesWithParamsAndTokens) {
  const auto challenges = ParseChallenges(
      R"(Basic realm="a, \"quoted\" realm", Digest realm=x, nonce="n1", qop="auth,auth-int", )"
      R"(Negotiate oYGRMIGO==, NTLM)");
  ASSERT_EQ(challenges.size(), 4u);
  EXPECT_EQ(challenges[0].scheme, "basic");
  EXPECT_EQ(challenges[0].Param("realm"), "a, \"quoted\" realm");
  EXPECT_EQ(challenges[1].scheme, "digest");
  EXPECT_EQ(challenges[1].Param("realm"), "x");
  EXPECT_EQ(challenges[1].Param("nonce"), "n1");
  EXPECT_EQ(challenges[1].Param("qop"), "auth,auth-int");
  EXPECT_EQ(challenges[2].scheme, "negotiate");
  EXPECT_EQ(challenges[2].token68, "oYGRMIGO==");
  EXPECT_EQ(challenges[3].scheme, "ntlm");
  EXPECT_TRUE(challenges[3].token68.empty());
}

TEST(ChallengeTest, CollectsEveryHeaderLineOfTheName) {
  const std::string headers =
      "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\n"
      "Proxy-Authenticate: Basic realm=p\r\nwww-authenticate: Basic realm=\"s\"\r\n\r\n";
  const auto server = ChallengesFromHeaders(headers, "WWW-Authenticate");
  ASSERT_EQ(server.size(), 2u);
  EXPECT_EQ(server[0].scheme, "negotiate");
  EXPECT_EQ(server[1].Param("realm"), "s");
  EXPECT_EQ(ChallengesFromHeaders(headers, "Proxy-Authenticate").size(), 1u);
}

TEST(ChallengeTest, GarbageNeverThrowsAndKeepsWhatWasReadable) {
  EXPECT_TRUE(ParseChallenges("").empty());
  EXPECT_TRUE(ParseChallenges(",,, ,").empty());
  EXPECT_TRUE(ParseChallenges("\"just a quote").empty());
  const auto unterminated = ParseChallenges("Digest realm=\"open, nonce=1");
  ASSERT_EQ(unterminated.size(), 1u);
  EXPECT_FALSE(unterminated[0].Param("nonce"));
  const auto stopped = ParseChallenges("Basic realm=x, @@@ Digest nonce=1");
  ASSERT_GE(stopped.size(), 1u);
  EXPECT_EQ(stopped[0].scheme, "basic");
}

TEST(ChallengeTest, Base64RoundTripsAndRejectsNonBase64) {
  for (const std::string& text :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    EXPECT_EQ(Base64Decode(Base64Encode(text)), text);
  }
  EXPECT_EQ(Base64Encode("alice:alicepw"), "YWxpY2U6YWxpY2Vwdw==");
  EXPECT_FALSE(Base64Decode("not base64!"));
  EXPECT_FALSE(Base64Decode("A"));
}

}  // namespace
}  // namespace openbits::auth
