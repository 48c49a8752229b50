// The helper token registry: single use, short-lived, unforgeable, kept only as a digest.
#include "core/helper_tokens.h"

#include <gtest/gtest.h>

#include <optional>
#include <set>

#include "store/secret_box.h"

namespace openbits::core {
namespace {

class HelperTokensTest : public ::testing::Test {
 protected:
  HelperTokenRegistry registry_{[this](std::string_view token) {
                                  digested_.insert(std::string(token));
                                  return store::Sha256(token);
                                },
                                [this] { return now_us_; }, std::chrono::seconds(300)};
  std::int64_t now_us_ = 1'000'000'000'000;
  std::set<std::string> digested_;
  const HelperIdentity alice_{1001, 1001, false, "FILE:/tmp/krb5cc_1001"};
};

TEST_F(HelperTokensTest, ATokenIsRedeemedOnceForTheIdentityThatMintedIt) {
  auto token = registry_.Mint(alice_);
  ASSERT_TRUE(token);
  EXPECT_EQ(token->size(), kHelperTokenHexLength);
  EXPECT_EQ(token->reveal().find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(registry_.Outstanding(), 1u);
  auto identity = registry_.Redeem(*token);
  ASSERT_TRUE(identity);
  EXPECT_EQ(*identity, alice_);
  EXPECT_EQ(registry_.Outstanding(), 0u);
  auto again = registry_.Redeem(*token);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), hr::E_ACCESSDENIED);
}

TEST_F(HelperTokensTest, TokensAreDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto token = registry_.Mint(alice_);
    ASSERT_TRUE(token);
    EXPECT_TRUE(seen.insert(std::string(token->reveal())).second);
  }
}

TEST_F(HelperTokensTest, AnExpiredTokenIsRefused) {
  auto token = registry_.Mint(alice_);
  ASSERT_TRUE(token);
  now_us_ += 300'000'000;  // the lifetime, to the microsecond
  auto late = registry_.Redeem(*token);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code(), hr::E_ACCESSDENIED);
  EXPECT_EQ(registry_.Outstanding(), 0u);
}

TEST_F(HelperTokensTest, ATokenJustInsideItsLifetimeIsAccepted) {
  auto token = registry_.Mint(alice_);
  ASSERT_TRUE(token);
  now_us_ += 299'999'999;
  EXPECT_TRUE(registry_.Redeem(*token));
}

TEST_F(HelperTokensTest, ForgedTokensAreRefusedAndDoNotUseUpTheRealOne) {
  auto token = registry_.Mint(alice_);
  ASSERT_TRUE(token);
  std::string forged(token->reveal());
  forged[0] = forged[0] == 'a' ? 'b' : 'a';
  for (const std::string& attempt :
       {forged, std::string(kHelperTokenHexLength, '0'), std::string(token->reveal()) + "0",
        std::string(token->reveal().substr(1)), std::string()}) {
    auto refused = registry_.Redeem(SecretString(attempt));
    ASSERT_FALSE(refused) << attempt;
    EXPECT_EQ(refused.error().code(), hr::E_ACCESSDENIED);
    EXPECT_NE(refused.error().message().find("not valid"), std::string::npos);
  }
  EXPECT_TRUE(registry_.Redeem(*token));
}

TEST_F(HelperTokensTest, TheRegistryKeepsOnlyADigest) {
  // The token reaches the digest and nothing else is kept; a digest is not a token.
  auto token = registry_.Mint(alice_);
  ASSERT_TRUE(token);
  EXPECT_EQ(digested_.count(std::string(token->reveal())), 1u);
  const std::string digest = store::Sha256(token->reveal());
  EXPECT_EQ(digest.size(), 32u);
  EXPECT_FALSE(registry_.Redeem(SecretString(digest)));
  EXPECT_TRUE(registry_.Redeem(*token));
}

TEST_F(HelperTokensTest, AUserMintingInALoopHoldsABoundedNumberAndLosesTheOldest) {
  auto first = registry_.Mint(alice_);
  ASSERT_TRUE(first);
  auto bobs = registry_.Mint(HelperIdentity{1002, 1002, false, ""});
  ASSERT_TRUE(bobs);
  std::optional<SecretString> last;
  for (std::size_t i = 0; i < 10 * kMaxOutstandingHelperTokensPerUid; ++i) {
    auto token = registry_.Mint(alice_);
    ASSERT_TRUE(token);
    last = std::move(*token);
  }
  EXPECT_EQ(registry_.Outstanding(), kMaxOutstandingHelperTokensPerUid + 1);
  EXPECT_FALSE(registry_.Redeem(*first));  // alice's oldest went
  EXPECT_TRUE(registry_.Redeem(*last));    // her newest stays
  EXPECT_TRUE(registry_.Redeem(*bobs));    // another user's are untouched
}

TEST(HelperTokensSetupTest, WithoutADigestNothingIsMintedOrRedeemed) {
  HelperTokenRegistry registry(
      {}, [] { return std::int64_t{0}; }, std::chrono::seconds(300));
  auto token = registry.Mint({});
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().code(), hr::E_NOTIMPL);
  EXPECT_FALSE(registry.Redeem(SecretString(std::string(kHelperTokenHexLength, 'a'))));
}

}  // namespace
}  // namespace openbits::core
