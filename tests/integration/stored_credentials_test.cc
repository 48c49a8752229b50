// Job property USE_STORED_CREDENTIALS (7): the job's identity's stored proxy credentials, on
// Linux the "machine" entries of its netrc ([auth] stored_credentials_file, here a file per uid
// in the test directory instead of ~/.netrc). Real peers: squid demanding Basic. The job is
// alice's, so bitsd reads alice's file as alice. What is observed: the job's state and error,
// who squid logged, and that the password never reaches bitsd's log.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "harness/proxy_peers.h"
#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

namespace fs = std::filesystem;

// The property's value, or 99 when it cannot be read.
std::uint32_t StoredTargets(Job& job) {
  auto value = job.GetUseStoredCredentials();
  return value ? *value : 99;
}

constexpr HRESULT kHttp407 = 0x80190197;  // BG_E_HTTP_ERROR_407

class StoredCredentialsTest : public DaemonTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to run clients as other uids";
    const passwd* alice = getpwnam("openbits-alice");
    ASSERT_NE(alice, nullptr) << "openbits-alice is missing (tests/run.sh makes it)";
    alice_ = {alice->pw_uid, alice->pw_gid};
    DaemonTest::SetUp();
    harness::WriteRandomFile(www() + "/file.bin", 100'000, 41);
    squid_ = std::make_unique<harness::Squid>(dir_, "basic", "basic");
    alice_dir_ = out() + "/alice";
    fs::create_directories(alice_dir_);
    ASSERT_EQ(chown(alice_dir_.c_str(), alice_.uid, alice_.gid), 0);
  }
  std::string Config() override {
    return DaemonTest::Config() +
           "[auth]\nallow_basic_over_http = true\nstored_credentials_file = " +
           std::string(dir_ / "netrc-%{uid}") + "\n";
  }
  std::string AlicesNetrc() const { return dir_ / ("netrc-" + std::to_string(alice_.uid)); }
  // Alice's stored credentials: `text`, owned by `owner`, with `mode`.
  void StoreForAlice(const std::string& text, fs::perms mode, harness::RunAs owner) {
    harness::WriteFile(AlicesNetrc(), text);
    ASSERT_EQ(chown(AlicesNetrc().c_str(), owner.uid, owner.gid), 0);
    fs::permissions(AlicesNetrc(), mode);
  }
  harness::CommandResult AsAlice(std::vector<std::string> args) {
    return harness::Run(Bitsadmin(std::move(args)), alice_);
  }
  // Alice's job `name` through squid, USE_STORED_CREDENTIALS set to `targets`, run until
  // TRANSFERRED or ERROR.
  Outcome Run(const std::string& name, std::uint32_t targets) {
    Outcome outcome;
    const auto created = AsAlice({"/create", name});
    EXPECT_EQ(created.exit_code, 0) << created.err;
    const auto id = Guid::Parse(created.out.substr(created.out.find('{'), 38));
    if (!id) {
      ADD_FAILURE() << created.out;
      return outcome;
    }
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"/addfile", name, server_->Url("/file.bin?" + name),
                                   alice_dir_ + "/" + name},
          {"/setproxysettings", name, "OVERRIDE", squid_->Address(), "NULL"},
          {"/setminretrydelay", name, "60"}}) {
      const auto done = AsAlice(args);
      EXPECT_EQ(done.exit_code, 0) << args[0] << ": " << done.out << done.err;
    }
    Job job = client_->OpenJob(*id);  // root, an administrator, sets the property
    EXPECT_TRUE(job.SetUseStoredCredentials(targets));
    EXPECT_EQ(StoredTargets(job), targets);
    EXPECT_EQ(AsAlice({"/resume", name}).exit_code, 0);
    outcome.state = WaitForState(job, {JobState::kTransferred, JobState::kError});
    if (auto error = job.GetError(); error && outcome.state == JobState::kError) {
      outcome.code = error->code;
      outcome.description = error->description;
    }
    return outcome;
  }

  harness::RunAs alice_{0, 0};
  std::string alice_dir_;
  std::unique_ptr<harness::Squid> squid_;
};

TEST_F(StoredCredentialsTest, OnlyTheProxyTargetIsSupported) {
  auto job = client_->CreateJob("targets");
  ASSERT_TRUE(job);
  EXPECT_EQ(StoredTargets(*job), 0u);
  for (std::uint32_t target : {1u, 3u, 4u}) {
    const Status refused = job->SetUseStoredCredentials(target);
    ASSERT_FALSE(refused) << target;
    EXPECT_EQ(refused.error().code(), hr::BG_E_USE_STORED_CREDENTIALS_NOT_SUPPORTED) << target;
  }
  EXPECT_TRUE(job->SetUseStoredCredentials(2));
  EXPECT_EQ(StoredTargets(*job), 2u);
  // Kept with the job across a restart.
  const Guid id = job->id();
  ASSERT_EQ(bitsd_->Stop(), 0);
  bitsd_->Start();
  client_ = Connect();
  Job reopened = client_->OpenJob(id);
  EXPECT_EQ(StoredTargets(reopened), 2u);
}

TEST_F(StoredCredentialsTest, TheOwnersNetrcEntryForTheProxyAuthenticatesTheJob) {
  StoreForAlice(
      "machine other.example login bob password bobpw\n"
      "machine localhost\n  login alice\n  password alicepw\n",
      fs::perms::owner_read | fs::perms::owner_write, alice_);
  const Outcome stored = Run("stored", 2);
  ASSERT_EQ(stored.state, JobState::kTransferred) << stored.description;
  EXPECT_TRUE(harness::WaitUntil([&] { return squid_->UserOf("?stored") == "alice"; }))
      << squid_->UserOf("?stored");
  // Without the property the same job has no proxy credentials.
  const Outcome unset = Run("unset", 0);
  EXPECT_EQ(unset.state, JobState::kError);
  EXPECT_EQ(unset.code, kHttp407) << unset.description;
  ASSERT_EQ(bitsd_->Stop(), 0);
  EXPECT_EQ(bitsd_->Log().find("alicepw"), std::string::npos);
  bitsd_->Start();
}

TEST_F(StoredCredentialsTest, WithoutAnEntryForTheProxyTheJobGets407SayingSo) {
  StoreForAlice(
      "machine other.example login alice password alicepw\ndefault login alice "
      "password alicepw\n",
      fs::perms::owner_read | fs::perms::owner_write, alice_);
  const Outcome outcome = Run("noentry", 2);
  EXPECT_EQ(outcome.state, JobState::kError);
  EXPECT_EQ(outcome.code, kHttp407) << outcome.description;
  EXPECT_NE(outcome.description.find("has no \"machine localhost login ...\" entry"),
            std::string::npos)
      << outcome.description;
  EXPECT_EQ(outcome.description.find("alicepw"), std::string::npos);
  fs::remove(AlicesNetrc());
  const Outcome missing = Run("missing", 2);
  EXPECT_EQ(missing.code, kHttp407) << missing.description;
  EXPECT_NE(missing.description.find("No such file or directory"), std::string::npos)
      << missing.description;
}

// Like ssh's keys: a file others may read is refused, and so is a file that is not alice's
// (read as alice, root's private file cannot even be opened).
TEST_F(StoredCredentialsTest, ANetrcOthersMayReadOrThatIsNotTheOwnersIsRefused) {
  const std::string entry = "machine localhost login alice password alicepw\n";
  StoreForAlice(entry, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read,
                alice_);
  const Outcome exposed = Run("exposed", 2);
  EXPECT_EQ(exposed.code, kHttp407) << exposed.description;
  EXPECT_NE(exposed.description.find("readable by it alone"), std::string::npos)
      << exposed.description;
  StoreForAlice(entry, fs::perms::owner_read | fs::perms::owner_write, {0, 0});
  const Outcome roots = Run("roots", 2);
  EXPECT_EQ(roots.code, kHttp407) << roots.description;
  EXPECT_NE(roots.description.find("Permission denied"), std::string::npos) << roots.description;
  EXPECT_EQ(squid_->UserOf("?exposed"), "");
  EXPECT_EQ(squid_->UserOf("?roots"), "");
}

// "The owner's (or helper's)": a system account's job with alice's helper token and
// BG_TOKEN_NETWORK uses alice's stored credentials, read as alice; the system account has none.
TEST_F(StoredCredentialsTest, WithANetworkHelperTokenTheHelpersStoreIsUsed) {
  StoreForAlice("machine localhost login alice password alicepw\n",
                fs::perms::owner_read | fs::perms::owner_write, alice_);
  const harness::RunAs system{1, 1};
  const std::string system_dir = out() + "/system";
  fs::create_directories(system_dir);
  ASSERT_EQ(chown(system_dir.c_str(), system.uid, system.gid), 0);
  const auto token = harness::Run(MintWithDefaultCache(), alice_);
  ASSERT_EQ(token.exit_code, 0) << token.err;
  const auto created = harness::Run(Bitsadmin({"/create", "helped"}), system);
  const auto id = Guid::Parse(created.out.substr(created.out.find('{'), 38));
  ASSERT_TRUE(id) << created.out;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"/addfile", "helped", server_->Url("/file.bin?helped"),
                                 system_dir + "/helped"},
        {"/setproxysettings", "helped", "OVERRIDE", squid_->Address(), "NULL"},
        {"/setminretrydelay", "helped", "60"},
        {"/sethelpertoken", "helped", token.out.substr(0, 64)}}) {
    const auto done = harness::Run(Bitsadmin(args), system);
    ASSERT_EQ(done.exit_code, 0) << args[0] << ": " << done.out << done.err;
  }
  Job job = client_->OpenJob(*id);
  ASSERT_TRUE(job.SetUseStoredCredentials(2));
  // Flags 0 first: the system account's own store (none) is used, so squid answers 407.
  ASSERT_EQ(harness::Run(Bitsadmin({"/resume", "helped"}), system).exit_code, 0);
  ASSERT_EQ(WaitForState(job, {JobState::kTransferred, JobState::kError}), JobState::kError);
  auto error = job.GetError();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, kHttp407) << error->description;
  EXPECT_NE(error->description.find("netrc-1"), std::string::npos) << error->description;
  // With BG_TOKEN_NETWORK, alice's.
  ASSERT_EQ(
      harness::Run(Bitsadmin({"/sethelpertokenflags", "helped", "NETWORK"}), system).exit_code, 0);
  ASSERT_EQ(harness::Run(Bitsadmin({"/resume", "helped"}), system).exit_code, 0);
  ASSERT_EQ(WaitForState(job, {JobState::kTransferred, JobState::kError}), JobState::kTransferred)
      << job.GetError()->description;
  EXPECT_TRUE(harness::WaitUntil([&] { return squid_->UserOf("?helped") == "alice"; }));
}

}  // namespace
}  // namespace openbits::integration
