// Security tests: the mode of downloaded files. A file bitsd writes for a user looks like one
// the user's own process created: the caller's umask at AddFile decides its permission bits,
// and where the directory has a default ACL, the ACL decides (as open(2) does), so that a
// download is neither more readable than the user asked (umask 077) nor less (umask 002, a
// shared directory's ACL).
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

namespace fs = std::filesystem;

class FileModeTest : public DaemonTest {
 protected:
  void SetUp() override {
    std::string why_not;
    auto users = harness::FindTestUsers(&why_not);
    if (!users) GTEST_SKIP() << why_not;
    alice_ = users->alice;
    bob_ = users->bob;
    DaemonTest::SetUp();
    harness::WriteRandomFile(www() + "/data.bin", 32 * 1024, 5);
    alice_dir_ = out() + "/alice";
    fs::create_directories(alice_dir_);
    ASSERT_EQ(chown(alice_dir_.c_str(), alice_.uid, alice_.gid), 0);
    ASSERT_EQ(chmod(alice_dir_.c_str(), 0755), 0);
    ASSERT_EQ(chmod(out().c_str(), 0755), 0);
  }

  // Alice downloads data.bin to `target` with `umask` in effect in the bitsadmin process that
  // calls AddFile (not in the ones that create, resume or complete the job).
  void DownloadAsAlice(const std::string& target, const std::string& umask) {
    const auto created = harness::Run(Bitsadmin({"/rawreturn", "/create", "moded"}), alice_);
    ASSERT_EQ(created.exit_code, 0) << created.err;
    const std::string id = created.out.substr(0, created.out.find('\n'));
    std::string command = "umask " + umask + " && exec";
    for (const std::string& arg : Bitsadmin({"/addfile", id, server_->Url("/data.bin"), target})) {
      command += " '" + arg + "'";
    }
    const auto added = harness::Run({"/bin/sh", "-c", command}, alice_);
    ASSERT_EQ(added.exit_code, 0) << added.err;
    ASSERT_EQ(harness::Run(Bitsadmin({"/resume", id}), alice_).exit_code, 0);
    ASSERT_TRUE(harness::WaitUntil([&] {
      return harness::Run(Bitsadmin({"/getstate", id}), alice_).out == "TRANSFERRED\n";
    }));
    const auto completed = harness::Run(Bitsadmin({"/complete", id}), alice_);
    ASSERT_EQ(completed.exit_code, 0) << completed.err;
  }

  // What alice's own process makes at `path` with `umask` (open(2) with 0666, as touch does).
  void CreateAsAlice(const std::string& path, const std::string& umask) {
    const auto made =
        harness::Run({"/bin/sh", "-c", "umask " + umask + " && echo x > '" + path + "'"}, alice_);
    ASSERT_EQ(made.exit_code, 0) << made.err;
  }

  static mode_t ModeOf(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return 07777;
    return st.st_mode & 07777;
  }

  // getfacl's view of a file without its name, to compare two files' access ACLs.
  static std::string AclOf(const std::string& path) {
    const auto acl = harness::Run({"/usr/bin/getfacl", "--omit-header", "--absolute-names", path});
    return acl.exit_code == 0 ? acl.out : "getfacl failed: " + acl.err;
  }

  harness::RunAs alice_{0, 0};
  harness::RunAs bob_{0, 0};
  std::string alice_dir_;
};

TEST_F(FileModeTest, TheCallersUmaskAtAddFileDecidesTheModeOfTheFile) {
  for (const auto& [umask, expected] :
       std::vector<std::pair<std::string, mode_t>>{{"077", 0600}, {"002", 0664}, {"022", 0644}}) {
    const std::string target = alice_dir_ + "/umask-" + umask + ".bin";
    DownloadAsAlice(target, umask);
    EXPECT_EQ(ModeOf(target), expected) << "umask " << umask;
    // The same as alice's own process makes with that umask.
    const std::string own = alice_dir_ + "/own-" + umask;
    CreateAsAlice(own, umask);
    EXPECT_EQ(ModeOf(target), ModeOf(own)) << "umask " << umask;
  }
  // A file private to alice stays private: bob cannot read it.
  EXPECT_NE(harness::Run({"/bin/cat", alice_dir_ + "/umask-077.bin"}, bob_).exit_code, 0);
}

TEST_F(FileModeTest, ADirectorysDefaultAclAppliesAsToAFileTheUserCreated) {
  if (harness::Run({"/usr/bin/setfacl", "--version"}).exit_code != 0)
    GTEST_SKIP() << "setfacl missing";
  // A directory alice shares with bob: group-writable, closed to others, bob may enter, and
  // bob reads what is created in it.
  const std::string shared = alice_dir_ + "/shared";
  fs::create_directories(shared);
  ASSERT_EQ(chown(shared.c_str(), alice_.uid, alice_.gid), 0);
  ASSERT_EQ(chmod(shared.c_str(), 0770), 0);
  const auto acl = harness::Run(
      {"/usr/bin/setfacl", "-m", "u:openbits-bob:rx", "-d", "-m", "u:openbits-bob:r", shared});
  ASSERT_EQ(acl.exit_code, 0) << acl.err;

  // Alice's umask does not apply where a default ACL does, for her own files as for BITS's.
  const std::string downloaded = shared + "/downloaded.bin";
  DownloadAsAlice(downloaded, "077");
  const std::string own = shared + "/own";
  CreateAsAlice(own, "077");

  EXPECT_EQ(AclOf(downloaded), AclOf(own));
  EXPECT_EQ(ModeOf(downloaded), ModeOf(own));
  EXPECT_EQ(ModeOf(own), 0660u);  // the default ACL's group::rwx and other::--- masked by 0666
  const auto read = harness::Run({"/bin/cat", downloaded}, bob_);
  EXPECT_EQ(read.exit_code, 0) << read.err;
}

}  // namespace
}  // namespace openbits::integration
