// Per-user isolation on a shared bus: a job is visible only to its owner (and admins), and its
// files are written with the owner's identity. Needs root, to act as two other uids.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

namespace fs = std::filesystem;

class IsolationTest : public DaemonTest {
 protected:
  void SetUp() override {
    std::string why_not;
    auto users = harness::FindTestUsers(&why_not);
    if (!users) GTEST_SKIP() << why_not;
    kAlice = users->alice;
    kBob = users->bob;
    DaemonTest::SetUp();
    alice_dir_ = out() + "/alice";
    fs::create_directories(alice_dir_);
    ASSERT_EQ(chown(alice_dir_.c_str(), kAlice.uid, kAlice.gid), 0);
    ASSERT_EQ(chmod(alice_dir_.c_str(), 0700), 0);
  }
  std::string Config() override {
    return DaemonTest::Config() + "[notify]\ncommand_timeout_s = 1\n";
  }

  std::string alice_dir_;
  harness::RunAs kAlice{0, 0};
  harness::RunAs kBob{0, 0};
};

TEST_F(IsolationTest, AnotherUserCannotSeeOrTouchAJob) {
  harness::WriteRandomFile(www() + "/mine.bin", 256 * 1024, 9);
  const auto created = harness::Run(Bitsadmin({"/rawreturn", "/create", "alice-job"}), kAlice);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = created.out.substr(0, created.out.find('\n'));
  ASSERT_TRUE(Guid::Parse(id)) << created.out;

  for (const std::vector<std::string>& verb :
       {std::vector<std::string>{"/info", id},
        {"/cancel", id},
        {"/resume", id},
        {"/addfile", id, server_->Url("/mine.bin"), "/tmp/stolen"},
        {"/getstate", "alice-job"}}) {
    const auto denied = harness::Run(Bitsadmin(verb), kBob);
    EXPECT_EQ(denied.exit_code, 1) << verb[0];
    EXPECT_NE(denied.err.find("BG_E_NOT_FOUND"), std::string::npos)
        << verb[0] << ": " << denied.err;
  }
  const auto listed = harness::Run(Bitsadmin({"/list"}), kBob);
  EXPECT_EQ(listed.exit_code, 0);
  EXPECT_EQ(listed.out.find(id), std::string::npos);
  EXPECT_NE(listed.out.find("Listed 0 job(s)."), std::string::npos) << listed.out;
  // Listing everybody's jobs is for administrators.
  const auto all = harness::Run(Bitsadmin({"/list", "/allusers"}), kBob);
  EXPECT_EQ(all.exit_code, 1);
  EXPECT_NE(all.err.find("E_ACCESSDENIED"), std::string::npos) << all.err;

  // The owner transfers into a directory only she can write; the file is hers.
  const std::string target = alice_dir_ + "/mine.bin";
  ASSERT_EQ(harness::Run(Bitsadmin({"/addfile", id, server_->Url("/mine.bin"), target}), kAlice)
                .exit_code,
            0);
  ASSERT_EQ(harness::Run(Bitsadmin({"/resume", id}), kAlice).exit_code, 0);
  ASSERT_TRUE(harness::WaitUntil([&] {
    return harness::Run(Bitsadmin({"/getstate", id}), kAlice).out == "TRANSFERRED\n";
  }));
  ASSERT_EQ(harness::Run(Bitsadmin({"/complete", id}), kAlice).exit_code, 0);
  struct stat st {};
  ASSERT_EQ(stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kAlice.uid);
  EXPECT_EQ(st.st_gid, kAlice.gid);
  EXPECT_EQ(harness::Sha256OfFile(target), harness::Sha256OfFile(www() + "/mine.bin"));
}

TEST_F(IsolationTest, AJobCannotWriteWhereItsOwnerCannot) {
  const auto created = harness::Run(Bitsadmin({"/rawreturn", "/create", "bob-job"}), kBob);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = created.out.substr(0, created.out.find('\n'));
  // Alice's directory is 0700: bitsd (root) must not write there on Bob's behalf.
  const auto added =
      harness::Run(Bitsadmin({"/addfile", id, server_->Url("/x"), alice_dir_ + "/planted"}), kBob);
  EXPECT_EQ(added.exit_code, 1);
  EXPECT_NE(added.err.find("E_ACCESSDENIED"), std::string::npos) << added.err;
  EXPECT_FALSE(fs::exists(alice_dir_ + "/planted"));
}

TEST_F(IsolationTest, SignalsGoToTheOwnerAndNobodyElse) {
  harness::WriteRandomFile(www() + "/signal.bin", 64 * 1024, 13);
  const auto created = harness::Run(Bitsadmin({"/rawreturn", "/create", "signalled"}), kAlice);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = created.out.substr(0, created.out.find('\n'));
  const std::string path = "/org/openbits/bits1/job/" + Guid::Parse(id)->ToHex();
  // TRANSFERRED | ERROR | MODIFICATION | FILE_TRANSFERRED.
  ASSERT_EQ(harness::Run(Bitsadmin({"/setnotifyflags", id, "0x1B"}), kAlice).exit_code, 0);
  ASSERT_EQ(harness::Run(Bitsadmin({"/getnotifyflags", id}), kAlice).out, "0x0000001B\n");
  ASSERT_EQ(harness::Run(Bitsadmin({"/addfile", id, server_->Url("/signal.bin"),
                                    alice_dir_ + "/signal.bin"}),
                         kAlice)
                .exit_code,
            0);

  const std::string alice_log = dir_ / "alice-signals.log", bob_log = dir_ / "bob-signals.log";
  auto alice = harness::Process::Start({harness::SignalListenerPath(), bus_->address(), path, "30"},
                                       alice_log, kAlice);
  auto bob = harness::Process::Start({harness::SignalListenerPath(), bus_->address(), path, "30"},
                                     bob_log, kBob);
  ASSERT_TRUE(harness::WaitUntil([&] {
    return harness::ReadFile(alice_log).find("ready") != std::string::npos &&
           harness::ReadFile(bob_log).find("ready") != std::string::npos;
  }));
  EXPECT_NE(harness::ReadFile(bob_log).find("call-failed org.openbits.bits1.Error.BG_E_NOT_FOUND"),
            std::string::npos);

  ASSERT_EQ(harness::Run(Bitsadmin({"/resume", id}), kAlice).exit_code, 0);
  EXPECT_EQ(alice.Wait(30s), 0) << harness::ReadFile(alice_log);
  const std::string alice_saw = harness::ReadFile(alice_log);
  EXPECT_NE(alice_saw.find("JobModification 2"), std::string::npos) << alice_saw;  // TRANSFERRING
  EXPECT_NE(alice_saw.find("FileTransferred 0"), std::string::npos) << alice_saw;
  EXPECT_NE(alice_saw.find("JobTransferred"), std::string::npos) << alice_saw;
  // bitsd sent everything it had to send by the time Alice got JobTransferred.
  bob.Stop();
  EXPECT_EQ(harness::ReadFile(bob_log).find("Job"), std::string::npos)
      << harness::ReadFile(bob_log);
}

TEST_F(IsolationTest, NotifyCommandLineRunsAsItsUserAndAgainWhileItFails) {
  harness::WriteRandomFile(www() + "/notified.bin", 32 * 1024, 14);
  const auto created = harness::Run(Bitsadmin({"/rawreturn", "/create", "notified"}), kAlice);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = created.out.substr(0, created.out.find('\n'));
  ASSERT_EQ(harness::Run(Bitsadmin({"/addfile", id, server_->Url("/notified.bin"),
                                    alice_dir_ + "/notified.bin"}),
                         kAlice)
                .exit_code,
            0);
  // Fails the first time (leaving a mark), succeeds the second: BITS runs it again after the
  // minimum retry delay. Alice's directory is 0700, so only a command running as Alice can
  // write there.
  // ran.txt appears whole (written aside, then renamed), so the test never reads it half done.
  const std::string script = "if test -e " + alice_dir_ + "/first; then id -u > " + alice_dir_ +
                             "/ran.tmp && mv " + alice_dir_ + "/ran.tmp " + alice_dir_ +
                             "/ran.txt; else touch " + alice_dir_ + "/first; exit 3; fi";
  ASSERT_EQ(harness::Run(Bitsadmin({"/setminretrydelay", id, "5"}), kAlice).exit_code, 0);
  const auto set = harness::Run(
      Bitsadmin({"/setnotifycmdline", id, "/bin/sh", "sh -c \"" + script + "\""}), kAlice);
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_NE(harness::Run(Bitsadmin({"/getnotifycmdline", id}), kAlice).out.find("'/bin/sh'"),
            std::string::npos);
  ASSERT_EQ(harness::Run(Bitsadmin({"/resume", id}), kAlice).exit_code, 0);

  ASSERT_TRUE(
      harness::WaitUntil([&] { return std::filesystem::exists(alice_dir_ + "/first"); }, 20s));
  ASSERT_TRUE(
      harness::WaitUntil([&] { return std::filesystem::exists(alice_dir_ + "/ran.txt"); }, 20s))
      << bitsd_->Log();
  EXPECT_EQ(harness::ReadFile(alice_dir_ + "/ran.txt"), std::to_string(kAlice.uid) + "\n");
  struct stat st {};
  ASSERT_EQ(stat((alice_dir_ + "/ran.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kAlice.uid);
  EXPECT_NE(bitsd_->Log().find("exit code 3"), std::string::npos);
}

TEST_F(IsolationTest, AnAdministratorTakesOwnershipAndTheOwnersSecretsAreDropped) {
  harness::WriteRandomFile(www() + "/owned.bin", 8 * 1024 * 1024, 15);
  const auto created = harness::Run(Bitsadmin({"/rawreturn", "/create", "owned"}), kAlice);
  const std::string id = created.out.substr(0, created.out.find('\n'));
  // A world-writable directory, so that the new owner may use it too.
  const std::string shared = out() + "/shared";
  std::filesystem::create_directories(shared);
  std::filesystem::permissions(shared, std::filesystem::perms::all);
  ASSERT_EQ(harness::Run(Bitsadmin({"/addfile", id, server_->Url("/owned.bin?rate=4000000"),
                                    shared + "/owned.bin"}),
                         kAlice)
                .exit_code,
            0);
  ASSERT_EQ(
      harness::Run(Bitsadmin({"/setnotifycmdline", id, "/bin/true", "NULL"}), kAlice).exit_code, 0);
  ASSERT_EQ(
      harness::Run(Bitsadmin({"/setcredentials", id, "SERVER", "DIGEST", "alice", "pw"}), kAlice)
          .exit_code,
      0);
  ASSERT_EQ(harness::Run(Bitsadmin({"/resume", id}), kAlice).exit_code, 0);
  ASSERT_TRUE(harness::WaitUntil([&] {
    return std::stoull(
               "0" +
               harness::Run(Bitsadmin({"/rawreturn", "/getbytestransferred", id}), kAlice).out) > 0;
  }));

  // Only administrators may take a job over: another user does not even see it, and the
  // owner herself is refused.
  const auto hidden = harness::Run(Bitsadmin({"/takeownership", id}), kBob);
  EXPECT_EQ(hidden.exit_code, 1);
  EXPECT_NE(hidden.err.find("BG_E_NOT_FOUND"), std::string::npos) << hidden.err;
  const auto denied = harness::Run(Bitsadmin({"/takeownership", id}), kAlice);
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_NE(denied.err.find("E_ACCESSDENIED"), std::string::npos) << denied.err;

  const auto taken = harness::Run(Bitsadmin({"/takeownership", id}));  // as root
  ASSERT_EQ(taken.exit_code, 0) << taken.err;
  EXPECT_EQ(harness::Run(Bitsadmin({"/getowner", id})).out, "root\n");
  EXPECT_EQ(harness::Run(Bitsadmin({"/getnotifycmdline", id})).out, "(none)\n");
  EXPECT_EQ(harness::Run(Bitsadmin({"/removecredentials", id, "SERVER", "DIGEST"})).out,
            "No credentials were set.\n");
  // Alice no longer sees it; the transfer goes on for its new owner to the end.
  EXPECT_NE(harness::Run(Bitsadmin({"/getstate", id}), kAlice).err.find("BG_E_NOT_FOUND"),
            std::string::npos);
  ASSERT_TRUE(harness::WaitUntil([&] {
    return harness::Run(Bitsadmin({"/getstate", id})).out == "TRANSFERRED\n";
  }));
  ASSERT_EQ(harness::Run(Bitsadmin({"/complete", id})).exit_code, 0);
  struct stat st {};
  ASSERT_EQ(stat((shared + "/owned.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(harness::Sha256OfFile(shared + "/owned.bin"),
            harness::Sha256OfFile(www() + "/owned.bin"));
}

TEST_F(IsolationTest, NotifyCommandThatHangsIsKilledAndOtherJobsGoOn) {
  // bitsd's limit is one second here (see Config); the command would sleep for a minute.
  harness::WriteFile(www() + "/small.txt", "small");
  const auto created = harness::Run(Bitsadmin({"/rawreturn", "/create", "hangs"}), kAlice);
  const std::string id = created.out.substr(0, created.out.find('\n'));
  ASSERT_EQ(harness::Run(
                Bitsadmin({"/addfile", id, server_->Url("/small.txt"), alice_dir_ + "/hangs.txt"}),
                kAlice)
                .exit_code,
            0);
  ASSERT_EQ(harness::Run(Bitsadmin({"/setnotifycmdline", id, "/bin/sleep", "sleep 60"}), kAlice)
                .exit_code,
            0);
  ASSERT_EQ(harness::Run(Bitsadmin({"/resume", id}), kAlice).exit_code, 0);
  ASSERT_TRUE(harness::WaitUntil([&] {
    return bitsd_->Log().find("Killed notification command /bin/sleep") != std::string::npos;
  }));
  // Meanwhile another job transfers as usual.
  const auto other = harness::Run(
      Bitsadmin({"/transfer", "other", server_->Url("/small.txt"), alice_dir_ + "/other.txt"}),
      kAlice);
  EXPECT_EQ(other.exit_code, 0) << other.out << other.err;
}

}  // namespace
}  // namespace openbits::integration
