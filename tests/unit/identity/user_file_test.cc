// ReadUserFile (src/identity/user_file.h), the one reader of user-named paths, attacked the
// way a local user would: a path swapped between a file of one's own and a symbolic link to
// someone else's while bitsd reads it, a hard link, a FIFO, and a probe for files one cannot
// see. Needs root (it takes on two made-up uids).
#include "identity/user_file.h"

#include <sys/fsuid.h>

#include "identity/fs_identity.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

namespace openbits::identity {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// uids with no entry in the user database: ScopedFsIdentity takes them on all the same.
constexpr core::FileOwner kAttacker{61001, 61001};
constexpr core::FileOwner kVictim{61002, 61002};

class UserFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to act as two uids";
    char pattern[] = "/tmp/openbits-user-file-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
    ASSERT_EQ(chmod(root_.c_str(), 0755), 0);
    attacker_dir_ = MakeDir("attacker", kAttacker, 0755);
    victim_dir_ = MakeDir("victim", kVictim, 0755);
    private_dir_ = MakeDir("private", kVictim, 0700);
    victim_file_ = Write(victim_dir_ + "/cache", "VICTIM", kVictim, 0644);
  }
  void TearDown() override {
    if (!root_.empty()) fs::remove_all(root_);
  }

  std::string MakeDir(const std::string& name, core::FileOwner owner, mode_t mode) {
    const std::string path = root_ + "/" + name;
    EXPECT_EQ(mkdir(path.c_str(), mode), 0);
    EXPECT_EQ(chown(path.c_str(), owner.uid, owner.gid), 0);
    EXPECT_EQ(chmod(path.c_str(), mode), 0);
    return path;
  }
  static std::string Write(const std::string& path, const std::string& content,
                           core::FileOwner owner, mode_t mode) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    EXPECT_EQ(chown(path.c_str(), owner.uid, owner.gid), 0);
    EXPECT_EQ(chmod(path.c_str(), mode), 0);
    return path;
  }
  static UserFileRules Rules() {
    UserFileRules rules;
    rules.what = "the test file";
    return rules;
  }

  std::string root_, attacker_dir_, victim_dir_, private_dir_, victim_file_;
};

TEST_F(UserFileTest, ReadsTheUsersOwnFile) {
  const std::string path = Write(attacker_dir_ + "/mine", "MINE", kAttacker, 0600);
  auto read = ReadUserFile(kAttacker, path, Rules());
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(read->bytes.reveal(), "MINE");
}

// The swap of defect 1: the path is the attacker's own file when looked at and a link to the
// victim's when opened. An lstat-then-open reader reads the victim's bytes within a few
// hundred rounds; a reader that checks what it opened never does.
TEST_F(UserFileTest, APathSwappedBetweenOwnFileAndALinkToAnotherUsersNeverReadsTheOther) {
  const std::string mine = Write(attacker_dir_ + "/mine", "MINE", kAttacker, 0600);
  const std::string path = attacker_dir_ + "/cache";
  const std::string staged_file = attacker_dir_ + "/staged-file";
  const std::string staged_link = attacker_dir_ + "/staged-link";
  ASSERT_EQ(link(mine.c_str(), path.c_str()), 0);
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    while (!stop) {
      // rename() replaces the name atomically: the path always exists, as one or the other.
      unlink(staged_file.c_str());
      if (link(mine.c_str(), staged_file.c_str()) == 0) rename(staged_file.c_str(), path.c_str());
      unlink(staged_link.c_str());
      if (symlink(victim_file_.c_str(), staged_link.c_str()) == 0) {
        rename(staged_link.c_str(), path.c_str());
      }
    }
  });
  int own = 0, refused = 0, victims = 0;
  for (int round = 0; round < 5000; ++round) {
    auto read = ReadUserFile(kAttacker, path, Rules());
    if (!read) {
      ++refused;
    } else if (read->bytes.reveal() == "VICTIM") {
      ++victims;
    } else {
      EXPECT_EQ(read->bytes.reveal(), "MINE");
      ++own;
    }
  }
  stop = true;
  swapper.join();
  EXPECT_EQ(victims, 0) << "read the victim's file " << victims << " times (own " << own
                        << ", refused " << refused << ")";
  EXPECT_GT(own + refused, 0);
}

TEST_F(UserFileTest, ASymbolicLinkOrAHardLinkToAnotherUsersFileIsRefused) {
  const std::string soft = attacker_dir_ + "/soft";
  ASSERT_EQ(symlink(victim_file_.c_str(), soft.c_str()), 0);
  auto by_symlink = ReadUserFile(kAttacker, soft, Rules());
  ASSERT_FALSE(by_symlink);
  EXPECT_EQ(by_symlink.error().code(), hr::E_ACCESSDENIED);
  EXPECT_NE(by_symlink.error().message().find("is a symbolic link"), std::string::npos)
      << by_symlink.error().message();
  // (fs.protected_hardlinks stops a user from making this link; root makes it here.)
  const std::string hard = attacker_dir_ + "/hard";
  ASSERT_EQ(link(victim_file_.c_str(), hard.c_str()), 0);
  auto by_hard_link = ReadUserFile(kAttacker, hard, Rules());
  ASSERT_FALSE(by_hard_link);
  EXPECT_EQ(by_hard_link.error().message(),
            "the test file '" + hard + "' must belong to uid 61001 and be writable by it alone");
}

TEST_F(UserFileTest, AFifoIsRefusedAtOnceInsteadOfBlockingTheThread) {
  const std::string fifo = attacker_dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(chown(fifo.c_str(), kAttacker.uid, kAttacker.gid), 0);
  auto reading =
      std::async(std::launch::async, [&] { return ReadUserFile(kAttacker, fifo, Rules()); });
  if (reading.wait_for(2s) != std::future_status::ready) {
    // Free the blocked reader (a writer opens the FIFO) so the test can end, then fail.
    const int writer = open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (writer >= 0) close(writer);
    FAIL() << "ReadUserFile blocked on a FIFO";
  }
  auto read = reading.get();
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), hr::E_ACCESSDENIED);
  EXPECT_EQ(read.error().message(), "the test file '" + fifo + "' is not a regular file");
}

// Defect 9: root sees into every directory; the user does not. A file in another user's
// private directory and a file that does not exist answer the same, and that answer is the
// one the user would get (Permission denied: the directory cannot be searched).
TEST_F(UserFileTest, AnotherUsersPrivateFileAndAMissingOneAnswerTheSame) {
  Write(private_dir_ + "/secret", "VICTIM", kVictim, 0600);
  auto existing = ReadUserFile(kAttacker, private_dir_ + "/secret", Rules());
  auto missing = ReadUserFile(kAttacker, private_dir_ + "/missing", Rules());
  ASSERT_FALSE(existing);
  ASSERT_FALSE(missing);
  EXPECT_EQ(existing.error().message(),
            "the test file '" + private_dir_ + "/secret' cannot be opened: " + strerror(EACCES));
  EXPECT_EQ(missing.error().message(),
            "the test file '" + private_dir_ + "/missing' cannot be opened: " + strerror(EACCES));
  EXPECT_EQ(existing.error().code(), missing.error().code());
  // Where the user may look, a missing file is reported as missing.
  auto absent = ReadUserFile(kAttacker, attacker_dir_ + "/absent", Rules());
  ASSERT_FALSE(absent);
  EXPECT_NE(absent.error().message().find(strerror(ENOENT)), std::string::npos);
}

TEST_F(UserFileTest, ModeRulesAndTheSizeLimitHold) {
  const std::string shared = Write(attacker_dir_ + "/shared", "MINE", kAttacker, 0620);
  auto group_writable = ReadUserFile(kAttacker, shared, Rules());
  ASSERT_FALSE(group_writable);
  EXPECT_NE(group_writable.error().message().find("writable by it alone"), std::string::npos);

  UserFileRules private_rules = Rules();
  private_rules.forbidden_mode = 077;
  private_rules.mode_rule = "readable by it alone";
  const std::string readable = Write(attacker_dir_ + "/readable", "MINE", kAttacker, 0640);
  auto group_readable = ReadUserFile(kAttacker, readable, private_rules);
  ASSERT_FALSE(group_readable);
  EXPECT_NE(group_readable.error().message().find("readable by it alone"), std::string::npos);

  UserFileRules small = Rules();
  small.max_bytes = 3;
  const std::string big = Write(attacker_dir_ + "/big", "MINE", kAttacker, 0600);
  auto too_big = ReadUserFile(kAttacker, big, small);
  ASSERT_FALSE(too_big);
  EXPECT_NE(too_big.error().message().find("larger than 3 bytes"), std::string::npos);

  // A file the user may read but does not own, where ownership does not matter.
  UserFileRules shared_read = Rules();
  shared_read.owned_by_user = false;
  auto others = ReadUserFile(kAttacker, victim_file_, shared_read);
  ASSERT_TRUE(others) << others.error().message();
  EXPECT_EQ(others->bytes.reveal(), "VICTIM");
}

// ReadUserFile takes on the user's identity itself; a caller already inside a scope (the
// certificate store lists a directory as the user) gets its own identity back afterwards.
TEST(FsIdentityTest, ScopesNestAndRestoreTheIdentityTheyFound) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch identities";
  auto fsuid = [] { return static_cast<std::uint32_t>(setfsuid(static_cast<uid_t>(-1))); };
  auto fsgid = [] { return static_cast<std::uint32_t>(setfsgid(static_cast<gid_t>(-1))); };
  {
    ScopedFsIdentity outer(kAttacker.uid, kAttacker.gid);
    ASSERT_TRUE(outer.status());
    {
      ScopedFsIdentity inner(kVictim.uid, kVictim.gid);
      ASSERT_TRUE(inner.status());
      EXPECT_EQ(fsuid(), kVictim.uid);
      EXPECT_EQ(fsgid(), kVictim.gid);
    }
    EXPECT_EQ(fsuid(), kAttacker.uid);
    EXPECT_EQ(fsgid(), kAttacker.gid);
  }
  EXPECT_EQ(fsuid(), 0u);
  EXPECT_EQ(fsgid(), static_cast<std::uint32_t>(getegid()));
}

}  // namespace
}  // namespace openbits::identity
