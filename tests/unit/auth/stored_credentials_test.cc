// The netrc reader behind USE_STORED_CREDENTIALS: which entry is used for a proxy host, and
// what is never used (a default entry, a macro body, another host's entry).
#include "auth/stored_credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace openbits::auth {
namespace {

class StoredCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/openbits-netrc.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  Result<core::Credential> Lookup(const std::string& text, const std::string& host) {
    const std::string path = dir_ + "/netrc";
    std::ofstream(path, std::ios::trunc) << text;
    chmod(path.c_str(), 0600);
    return StoredCredentialFor(path, core::FileOwner{geteuid(), getegid()}, host,
                               AuthTarget::kProxy, AuthScheme::kBasic);
  }
  std::string dir_;
};

TEST_F(StoredCredentialsTest, TheEntryOfTheHostIsUsedWhateverItsLayout) {
  auto found = Lookup(
      "machine other.example login bob password bobpw\n"
      "machine proxy.example\n\taccount ignored\n  password pw1 login alice\n"
      "machine proxy.example login second password pw2\n",
      "proxy.example");
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->user.reveal(), "alice");
  EXPECT_EQ(found->password.reveal(), "pw1");
  EXPECT_EQ(found->target, AuthTarget::kProxy);
  EXPECT_EQ(found->scheme, AuthScheme::kBasic);
  EXPECT_FALSE(found->implicit);
}

TEST_F(StoredCredentialsTest, DefaultEntriesMacrosAndOtherHostsAreNeverUsed) {
  auto refused = Lookup(
      "macdef init\nmachine proxy.example login evil password macro\n\n"
      "machine proxy.example.evil login eve password evepw\n"
      "default login anyone password anypw\n",
      "proxy.example");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), hr::E_ACCESSDENIED);
  EXPECT_NE(refused.error().message().find("no \"machine proxy.example login ...\" entry"),
            std::string::npos)
      << refused.error().message();
  for (const char* secret : {"macro", "evepw", "anypw"}) {
    EXPECT_EQ(refused.error().message().find(secret), std::string::npos);
  }
  // An entry without a login is no entry.
  EXPECT_FALSE(Lookup("machine proxy.example password pw\n", "proxy.example"));
}

}  // namespace
}  // namespace openbits::auth
