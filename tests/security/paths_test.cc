// Security tests: the paths boundary. Each case is an attack by a local user, an
// administrator or a hostile server, asserting the secure outcome (docs/security.md).
//
// Paths a caller names (KRB5CCNAME, NTLM_USER_FILE, certificate store files) are opened
// without blocking and as the caller: a FIFO does not freeze the daemon, and the errors are
// those the caller would get, so that they tell nothing about files it cannot see.
#include <fstream>

#include "security/user_paths_fixture.h"

namespace openbits::integration {
namespace {

using std::chrono::steady_clock;

class UserPathsAttackTest : public UserPathsTest {};

TEST_F(UserPathsAttackTest, AFifoAsCredentialCacheFailsTheJobAtOnceAndTheDaemonAnswers) {
  const std::string fifo = alice_dir_ + "/fifo";
  MakeFifo(fifo, alice_);
  const auto start = steady_clock::now();
  const UserJob job = RunImplicit(alice_, "fifo-ccache", "/negotiate/file.bin", "NEGOTIATE",
                                  {"KRB5CCNAME=FILE:" + fifo}, 15s);
  const auto took = steady_clock::now() - start;
  ReleaseFifoReaders(fifo);
  EXPECT_EQ(job.state, "ERROR");
  EXPECT_LT(took, 10s);
  EXPECT_NE(job.error.find("'" + fifo + "' is not a regular file"), std::string::npos) << job.error;
  EXPECT_LT(BobsListTakes(), 2s);
}

TEST_F(UserPathsAttackTest, AFifoAsNtlmUserFileFailsTheJobAtOnceAndTheDaemonAnswers) {
  const std::string fifo = alice_dir_ + "/fifo";
  MakeFifo(fifo, alice_);
  const UserJob job =
      RunImplicit(alice_, "fifo-ntlm", "/ntlm/file.bin", "NTLM", {"NTLM_USER_FILE=" + fifo}, 15s);
  ReleaseFifoReaders(fifo);
  EXPECT_EQ(job.state, "ERROR");
  EXPECT_NE(job.error.find("'" + fifo + "' is not a regular file"), std::string::npos) << job.error;
  EXPECT_LT(BobsListTakes(), 2s);
}

// The certificate store is listed on the bus thread: a FIFO there froze every client.
TEST_F(UserPathsAttackTest, AFifoInACertificateStoreFreezesNeitherTheBusNorAJob) {
  const std::string home = dir_.path() + "/home-openbits-alice";
  const std::string store = home + "/certs/MY";
  std::filesystem::create_directories(store);
  for (const std::string& path : {home, home + "/certs", store}) {
    ASSERT_EQ(chown(path.c_str(), alice_.uid, alice_.gid), 0);
  }
  MakeFifo(store + "/a.pem", alice_);
  const auto listed = As(alice_, {}, {"/util", "/listcertificates", "CURRENT_USER", "MY"}, 5s);
  EXPECT_LT(BobsListTakes(), 2s);
  ReleaseFifoReaders(store + "/a.pem");
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("Listed 0 certificate(s)."), std::string::npos) << listed.out;

  // A job that names a certificate of that store ends in ERROR with the BITS code at once.
  const auto created = As(alice_, {}, {"/rawreturn", "/create", "fifo-cert"});
  const std::string id = created.out.substr(0, created.out.find('\n'));
  ASSERT_EQ(
      As(alice_, {}, {"/addfile", id, server_->Url("/file.bin"), alice_dir_ + "/cert"}).exit_code,
      0);
  ASSERT_EQ(
      As(alice_, {}, {"/setclientcertificatebyname", id, "CURRENT_USER", "MY", "anyone"}).exit_code,
      0);
  ASSERT_EQ(As(alice_, {}, {"/resume", id}).exit_code, 0);
  std::string state;
  harness::WaitUntil(
      [&] {
        state = As(alice_, {}, {"/getstate", id}, 5s).out;
        return state == "ERROR\n" || state == "TRANSFERRED\n";
      },
      10s);
  ReleaseFifoReaders(store + "/a.pem");
  EXPECT_EQ(state, "ERROR\n");
  EXPECT_EQ(As(alice_, {}, {"/rawreturn", "/geterror", id}).out,
            FormatHresult(hr::CRYPT_E_NOT_FOUND) + "\n");
  EXPECT_LT(BobsListTakes(), 2s);
}

// Complete renames the temp file on the bus thread. The temp file lies in the caller's own
// directory, where the caller can replace it with a FIFO between the transfer and Complete:
// opening that FIFO for reading must not freeze the daemon.
TEST_F(UserPathsAttackTest, AFifoSwappedInForTheTempFileDoesNotFreezeComplete) {
  const auto created = As(alice_, {}, {"/rawreturn", "/create", "swap-temp"});
  const std::string id = created.out.substr(0, created.out.find('\n'));
  ASSERT_EQ(
      As(alice_, {}, {"/addfile", id, server_->Url("/file.bin"), alice_dir_ + "/landed"}).exit_code,
      0);
  ASSERT_EQ(As(alice_, {}, {"/resume", id}).exit_code, 0);
  ASSERT_TRUE(harness::WaitUntil([&] {
    return As(alice_, {}, {"/getstate", id}).out == "TRANSFERRED\n";
  }));
  std::string temp = As(alice_, {}, {"/rawreturn", "/gettemporaryname", id, "0"}).out;
  if (!temp.empty() && temp.back() == '\n') temp.pop_back();
  ASSERT_EQ(unlink(temp.c_str()), 0) << temp;
  MakeFifo(temp, alice_);
  const auto start = steady_clock::now();
  const auto completed = As(alice_, {}, {"/complete", id}, 5s);
  const auto took = steady_clock::now() - start;
  const auto bob_waits = BobsListTakes();
  ReleaseFifoReaders(temp);
  EXPECT_LT(took, 4s);
  EXPECT_NE(completed.exit_code, 137) << "bitsadmin /complete was killed: the daemon hung";
  EXPECT_LT(bob_waits, 2s);
  struct stat landed {};
  if (lstat((alice_dir_ + "/landed").c_str(), &landed) == 0) {
    EXPECT_FALSE(S_ISFIFO(landed.st_mode)) << "a FIFO was committed as the download";
  }
}

// Defect 9: bitsd opened the paths as root, so "does not belong to uid N" (exists) and "no
// such file" (missing) told alice what is inside bob's private directory. Now both answer
// what alice herself gets: Permission denied.
TEST_F(UserPathsAttackTest, BobsPrivateFileAndAMissingOneGiveAliceTheSameError) {
  KinitInto("bob", bob_dir_ + "/cache", bob_);
  harness::WriteFile(bob_dir_ + "/ntlm_users", "TESTDOM:bob:bobpw\n");
  ASSERT_EQ(chown((bob_dir_ + "/ntlm_users").c_str(), bob_.uid, bob_.gid), 0);
  ASSERT_EQ(chmod((bob_dir_ + "/ntlm_users").c_str(), 0600), 0);
  // The texts with the names that differ on purpose (job, file) taken out.
  auto without = [](std::string text, const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      for (auto at = text.find(name); at != std::string::npos; at = text.find(name)) {
        text.replace(at, name.size(), "NAME");
      }
    }
    return text;
  };
  for (const auto& [scheme, variable, path, existing] :
       {std::tuple{"NEGOTIATE", "KRB5CCNAME=FILE:", "/negotiate/file.bin", "cache"},
        std::tuple{"NTLM", "NTLM_USER_FILE=", "/ntlm/file.bin", "ntlm_users"}}) {
    const std::string probe = std::string("probe-") + existing,
                      none = std::string("none-") + existing;
    const UserJob bobs =
        RunImplicit(alice_, probe, path, scheme, {variable + bob_dir_ + "/" + existing});
    const UserJob missing =
        RunImplicit(alice_, none, path, scheme, {variable + bob_dir_ + "/missing"});
    EXPECT_EQ(bobs.state, "ERROR");
    EXPECT_EQ(missing.state, "ERROR");
    EXPECT_NE(bobs.error.find(std::string("cannot be opened: ") + strerror(EACCES)),
              std::string::npos)
        << bobs.error;
    EXPECT_EQ(without(bobs.error, {bob_dir_ + "/" + existing, probe}),
              without(missing.error, {bob_dir_ + "/missing", none}))
        << "'" << bobs.error << "' vs '" << missing.error << "'";
  }
  EXPECT_FALSE(ServerSaw("bob"));
}

}  // namespace
}  // namespace openbits::integration
