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
#include <string>
#include <vector>

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

// Complete delivers a job's files in batches that share their syncs: each file of a batch gets
// its own outcome, and as when Complete renamed file after file, the first failure stops the
// batch (the files after it stay the job's).
TEST_F(GiveTempTest, CommitTempsDeliversABatchUpToItsFirstFailure) {
  const core::FileOwner root{0, 0};
  std::ofstream(dir_ / ".a.tmp") << "first";
  std::ofstream(dir_ / ".c.tmp") << "third";
  const std::int64_t mtime_us = 1'600'000'000'123'456;
  const std::vector<core::LocalFileSystem::TempCommit> batch = {
      {dir_ / ".a.tmp", dir_ / "a", mtime_us, 0640},
      {dir_ / ".b.tmp", dir_ / "b", 0, 0644},  // no temp file: this one fails
      {dir_ / ".c.tmp", dir_ / "c", 0, 0600},
  };
  const std::vector<Status> results = files_.CommitTemps(root, batch);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0]) << results[0].error().ToString();
  ASSERT_FALSE(results[1]);
  EXPECT_EQ(results[1].error().code(), hr::ERROR_PATH_NOT_FOUND);
  EXPECT_NE(results[1].error().message().find(".b.tmp"), std::string::npos)
      << results[1].error().message();
  ASSERT_FALSE(results[2]);
  EXPECT_EQ(results[2].error().code(), hr::E_FAIL);
  std::string text;
  std::ifstream(dir_ / "a") >> text;
  EXPECT_EQ(text, "first");
  EXPECT_FALSE(fs::exists(dir_ / ".a.tmp"));
  EXPECT_FALSE(fs::exists(dir_ / "b"));
  EXPECT_FALSE(fs::exists(dir_ / "c"));
  EXPECT_TRUE(fs::exists(dir_ / ".c.tmp"));
  EXPECT_EQ(StatOf(dir_ / "a").st_mode & 0777, 0640u);
  EXPECT_EQ(StatOf(dir_ / "a").st_mtim.tv_sec, 1'600'000'000);
  EXPECT_EQ(StatOf(dir_ / "a").st_mtim.tv_nsec, 123'456'000);
}

// A batch commit interrupted after its renames (the daemon died before recording them) is
// asked again: a file already in place counts as delivered.
TEST_F(GiveTempTest, CommitTempsCountsAFileAlreadyRenamedAsDelivered) {
  const core::FileOwner root{0, 0};
  std::ofstream(dir_ / ".a.tmp") << "first";
  const std::vector<core::LocalFileSystem::TempCommit> batch = {
      {dir_ / ".a.tmp", dir_ / "a", 0, 0644}};
  ASSERT_TRUE(files_.CommitTemps(root, batch)[0]);
  const std::vector<Status> again = files_.CommitTemps(root, batch);
  EXPECT_TRUE(again[0]) << again[0].error().ToString();
}

}  // namespace
}  // namespace openbits::identity
