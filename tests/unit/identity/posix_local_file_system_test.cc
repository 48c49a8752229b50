// PosixLocalFileSystem attacked the way a job's owner could: TakeOwnership hands the job's temp
// files to the new owner as root (only root can chown), so whatever sits at a temp file's path
// must be the temp file itself, not a link to a file of someone else's. Needs root.
#include "identity/posix_local_file_system.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace openbits::identity {
namespace {

namespace fs = std::filesystem;

constexpr core::FileOwner kNewOwner{61003, 61003};

class GiveTempTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to give files away";
    char pattern[] = "/tmp/openbits-give-temp-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  static struct stat StatOf(const fs::path& path) {
    struct stat info {};
    EXPECT_EQ(lstat(path.c_str(), &info), 0) << path;
    return info;
  }

  fs::path dir_;
  PosixLocalFileSystem files_;
};

TEST_F(GiveTempTest, ATempFileOfTheJobChangesHands) {
  const fs::path temp = dir_ / ".f.bits-0-0.tmp";
  std::ofstream(temp) << "partial";
  ASSERT_TRUE(files_.GiveTemp(kNewOwner, temp));
  EXPECT_EQ(StatOf(temp).st_uid, kNewOwner.uid);
  EXPECT_EQ(StatOf(temp).st_gid, kNewOwner.gid);
}

// Where fs.protected_hardlinks is off, the old owner can hard-link a file it does not own (here
// root's) in place of its temp file: TakeOwnership must not give that file away.
TEST_F(GiveTempTest, AHardLinkInPlaceOfTheTempFileIsNotGivenAway) {
  const fs::path rootfile = dir_ / "root-owned";
  std::ofstream(rootfile) << "root's";
  const fs::path temp = dir_ / ".f.bits-0-0.tmp";
  fs::create_hard_link(rootfile, temp);
  auto given = files_.GiveTemp(kNewOwner, temp);
  EXPECT_FALSE(given);
  EXPECT_EQ(StatOf(rootfile).st_uid, 0u) << "root's file was given to the new owner";
}

TEST_F(GiveTempTest, ASymbolicLinkInPlaceOfTheTempFileIsNotFollowed) {
  const fs::path rootfile = dir_ / "root-owned";
  std::ofstream(rootfile) << "root's";
  const fs::path temp = dir_ / ".f.bits-0-0.tmp";
  fs::create_symlink(rootfile, temp);
  (void)files_.GiveTemp(kNewOwner, temp);
  EXPECT_EQ(StatOf(rootfile).st_uid, 0u);
}

TEST_F(GiveTempTest, AMissingTempFileIsNothingToGive) {
  EXPECT_TRUE(files_.GiveTemp(kNewOwner, dir_ / ".gone.bits-0-0.tmp"));
}

}  // namespace
}  // namespace openbits::identity
