// Owner logon gating (docs/logon-gating.md): a human uid's jobs run only while logind has it
// logged on. Real peers: a private dbus-daemon, bitsd, bitsadmin run as openbits-alice, and
// a stand-in for logind (tests/harness/login1_standin.cc) owning org.freedesktop.login1 on the
// private bus with logind's interface and signals. What is observed: job states and errors,
// the helper binding, the file on disk and bitsd's log.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

namespace fs = std::filesystem;

class LogonGatingTest : public DaemonTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to run clients as other uids";
    std::string why;
    const auto users = harness::FindTestUsers(&why);
    ASSERT_TRUE(users) << why;
    alice_ = users->alice;
    fs::create_directories(www());
    fs::create_directories(alice_dir());
    ASSERT_EQ(chown(alice_dir().c_str(), alice_.uid, alice_.gid), 0);
    harness::WriteRandomFile(www() + "/file.bin", 300'000, 7);
    // The bus, then logind's stand-in, then bitsd (which asks logind at start).
    bus_ = std::make_unique<harness::PrivateBus>(dir_);
    if (logind_on_own_bus_) logind_bus_ = std::make_unique<harness::PrivateBus>(logind_dir_);
    if (with_logind_) StartLogind();
    server_ = std::make_unique<harness::RangeServer>(dir_, www());
    bitsd_ = std::make_unique<harness::Bitsd>(dir_, bus_->address(), Config());
    bitsd_->Start();
    client_ = Connect();
  }

  std::string Config() override {
    return "[transfer]\ncheckpoint_interval_ms = 100\n[logon]\ngating = " +
           std::string(gating_ ? "true" : "false") + "\nlogin1_bus = " + logind_address() + "\n";
  }

  void StartLogind() {
    std::vector<std::string> argv = {LOGIN1_STANDIN_PATH, logind_address()};
    for (const std::uint32_t uid : logged_on_at_start_) argv.push_back(std::to_string(uid));
    logind_ = harness::Process::Start(argv, logind_log());
    ASSERT_TRUE(harness::WaitUntil([&] {
      return harness::ReadFile(logind_log()).find("ready") != std::string::npos;
    })) << harness::ReadFile(logind_log());
  }
  std::string logind_log() const { return dir_ / "login1.log"; }
  std::string logind_address() const {
    return logind_bus_ ? logind_bus_->address() : bus_->address();
  }

  // The stand-in logs `uid` on or off (logind's signals), and bitsd has heard it.
  void LogOn(std::uint32_t uid) {
    Drive("LogOn", uid, "uid " + std::to_string(uid) + " logged on");
  }
  void LogOff(std::uint32_t uid) {
    Drive("LogOff", uid, "uid " + std::to_string(uid) + " logged off");
  }
  void Drive(const std::string& method, std::uint32_t uid, const std::string& bitsd_says) {
    const std::size_t before = Count(bitsd_says);
    const auto called = harness::Run(
        {"/usr/bin/busctl", "--address=" + logind_address(), "call", "org.freedesktop.login1",
         "/org/freedesktop/login1", "org.openbits.test.Login1", method, "u", std::to_string(uid)});
    ASSERT_EQ(called.exit_code, 0) << called.err;
    ASSERT_TRUE(harness::WaitUntil([&] { return Count(bitsd_says) > before; }))
        << "bitsd did not hear " << method << " " << uid;
  }
  std::size_t Count(const std::string& text) const {
    const std::string log = bitsd_->Log();
    std::size_t count = 0;
    for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++count;
    return count;
  }

  harness::CommandResult AsAlice(std::vector<std::string> args) {
    return harness::Run(Bitsadmin(std::move(args)), alice_);
  }
  // Alice's job `name` for `path` on the range server, into her directory; its id.
  Guid AliceJob(const std::string& name, const std::string& path) {
    const auto created = AsAlice({"/rawreturn", "/create", name});
    EXPECT_EQ(created.exit_code, 0) << created.err;
    const auto id = Guid::Parse(created.out.substr(0, created.out.find('\n')));
    EXPECT_TRUE(id) << created.out;
    const auto added = AsAlice({"/addfile", name, server_->Url(path), alice_dir() + "/" + name});
    EXPECT_EQ(added.exit_code, 0) << added.err;
    return id ? *id : Guid{};
  }
  // The root client's view of a job (an administrator sees every job).
  Job Watch(const Guid& id) {
    auto job = client_->GetJob(id);
    if (!job) throw std::runtime_error(job.error().ToString());
    return std::move(*job);
  }
  std::string alice_dir() const { return out() + "/alice"; }

  bool with_logind_ = true;
  // logind on a bus of its own, which a test can take away.
  bool logind_on_own_bus_ = false;
  harness::TempDir logind_dir_;
  std::unique_ptr<harness::PrivateBus> logind_bus_;
  bool gating_ = true;
  std::vector<std::uint32_t> logged_on_at_start_;
  harness::RunAs alice_{0, 0};
  harness::Process logind_;
};

// Alice's session at start: she creates her job while logged on.
class AliceLoggedOnTest : public LogonGatingTest {
 protected:
  void SetUp() override {
    std::string why;
    if (const auto users = harness::FindTestUsers(&why)) logged_on_at_start_ = {users->alice.uid};
    LogonGatingTest::SetUp();
  }
};

TEST_F(AliceLoggedOnTest, AJobOfALoggedOffOwnerWaitsInQueuedAndStartsByItselfAtHerNextLogon) {
  const Guid id = AliceJob("waits", "/file.bin");
  LogOff(alice_.uid);
  ASSERT_EQ(AsAlice({"/resume", "waits"}).exit_code, 0);
  Job alices = Watch(id);
  // A system account's job, resumed after hers, runs to the end meanwhile: the scheduler
  // has decided, and hers is still waiting for her.
  const Outcome root = RunJob("root", server_->Url("/file.bin"), [](Job&) { return Ok(); });
  EXPECT_EQ(root.state, JobState::kTransferred);
  const auto waiting = alices.GetState();
  ASSERT_TRUE(waiting);
  EXPECT_EQ(*waiting, JobState::kQueued);
  EXPECT_FALSE(fs::exists(alice_dir() + "/waits"));

  LogOn(alice_.uid);  // UserNew and SessionNew: nothing else wakes the job
  EXPECT_EQ(WaitForState(alices, {JobState::kTransferred, JobState::kError}),
            JobState::kTransferred);
  ASSERT_EQ(AsAlice({"/complete", "waits"}).exit_code, 0);
  EXPECT_EQ(harness::Sha256OfFile(alice_dir() + "/waits"),
            harness::Sha256OfFile(www() + "/file.bin"));
}

TEST_F(AliceLoggedOnTest, ALogoffSendsTheOwnersRunningTransferBackToQueuedUntilHerLogon) {
  const Guid id = AliceJob("running", "/file.bin?rate=30000");  // ten seconds
  ASSERT_EQ(AsAlice({"/resume", "running"}).exit_code, 0);
  Job alices = Watch(id);
  ASSERT_EQ(WaitForState(alices, {JobState::kTransferring}), JobState::kTransferring);
  LogOff(alice_.uid);
  EXPECT_EQ(WaitForState(alices, {JobState::kQueued, JobState::kTransferred}), JobState::kQueued);
  EXPECT_EQ(Count("waits for uid " + std::to_string(alice_.uid) + " to log on again"), 1u);
  LogOn(alice_.uid);
  EXPECT_NE(WaitForState(alices,
                         {JobState::kConnecting, JobState::kTransferring, JobState::kTransferred}),
            JobState::kQueued);
  ASSERT_EQ(AsAlice({"/cancel", "running"}).exit_code, 0);
}

TEST_F(AliceLoggedOnTest, ALogoffDiscardsTheHelperTokenOfTheOwnersJobWhichFailsWithTokenRequired) {
  const Guid id = AliceJob("helped", "/file.bin?rate=30000");
  const auto minted = harness::Run(MintWithDefaultCache(), alice_);
  ASSERT_EQ(minted.exit_code, 0) << minted.err;
  std::string token = minted.out.substr(0, minted.out.find('\n'));
  ASSERT_EQ(AsAlice({"/sethelpertoken", "helped", token}).exit_code, 0);
  ASSERT_NE(AsAlice({"/gethelpertokensid", "helped"}).out, "(none)\n");
  ASSERT_EQ(AsAlice({"/resume", "helped"}).exit_code, 0);
  Job alices = Watch(id);
  ASSERT_EQ(WaitForState(alices, {JobState::kTransferring}), JobState::kTransferring);

  LogOff(alice_.uid);
  ASSERT_EQ(WaitForState(alices, {JobState::kError, JobState::kTransferred}), JobState::kError);
  const auto error = alices.GetError();
  ASSERT_TRUE(error) << error.error().ToString();
  EXPECT_EQ(error->code, hr::BG_E_TOKEN_REQUIRED);
  EXPECT_EQ(error->context, ErrorContext::kGeneralQueueManager);
  EXPECT_NE(error->description.find("logged off"), std::string::npos) << error->description;
  EXPECT_EQ(AsAlice({"/gethelpertokensid", "helped"}).out, "(none)\n");
  // Discarded for good: a restart does not bring the binding back from the store.
  ASSERT_EQ(bitsd_->Stop(), 0);
  bitsd_->Start();
  EXPECT_EQ(AsAlice({"/gethelpertokensid", "helped"}).out, "(none)\n");
  EXPECT_EQ(bitsd_->Log().find(token), std::string::npos);
}

class LogindBusLostTest : public AliceLoggedOnTest {
 protected:
  LogindBusLostTest() { logind_on_own_bus_ = true; }
};

TEST_F(LogindBusLostTest, LosingLogindsBusTurnsGatingOffOnceAndWaitingJobsRun) {
  const Guid id = AliceJob("stranded", "/file.bin");
  LogOff(alice_.uid);
  ASSERT_EQ(AsAlice({"/resume", "stranded"}).exit_code, 0);
  Job alices = Watch(id);
  const auto waiting = alices.GetState();
  ASSERT_TRUE(waiting);
  EXPECT_EQ(*waiting, JobState::kQueued);
  // Logons can no longer be seen: holding her job until a logon nobody would report is worse
  // than running it.
  logind_.Stop();
  logind_bus_.reset();
  EXPECT_EQ(WaitForState(alices, {JobState::kTransferred, JobState::kError}),
            JobState::kTransferred);
  EXPECT_EQ(Count("Owner logon gating is off from now on (lost the connection to logind's bus"), 1u)
      << bitsd_->Log();
}

TEST_F(LogonGatingTest, ASystemAccountsJobRunsWithoutASession) {
  // Nobody is logged on; root (uid 0) is a system account.
  const Outcome root = RunJob("system", server_->Url("/file.bin"), [](Job&) { return Ok(); });
  EXPECT_EQ(root.state, JobState::kTransferred);
  EXPECT_EQ(root.sha256, harness::Sha256OfFile(www() + "/file.bin"));
}

TEST_F(LogonGatingTest, AHumanUidWithNoLogonCannotCreateAJobUntilItLogsOn) {
  const auto refused = AsAlice({"/create", "never"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("ERROR_NOT_LOGGED_ON"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("has no login session"), std::string::npos) << refused.err;
  const auto listed = harness::Run(Bitsadmin({"/list", "/allusers"}));
  EXPECT_NE(listed.out.find("Listed 0 job(s)."), std::string::npos) << listed.out;

  LogOn(alice_.uid);
  EXPECT_EQ(AsAlice({"/create", "now"}).exit_code, 0);
}

class NoLogindTest : public LogonGatingTest {
 protected:
  NoLogindTest() { with_logind_ = false; }
};

TEST_F(NoLogindTest, GatingIsOffAndSaidOnceAndEveryonesJobsRun) {
  EXPECT_EQ(Count("Owner logon gating is off: no logind (org.freedesktop.login1) answers"), 1u)
      << bitsd_->Log();
  const Guid id = AliceJob("free", "/file.bin");
  ASSERT_EQ(AsAlice({"/resume", "free"}).exit_code, 0);
  Job alices = Watch(id);
  EXPECT_EQ(WaitForState(alices, {JobState::kTransferred, JobState::kError}),
            JobState::kTransferred);
  EXPECT_EQ(Count("Owner logon gating is off"), 1u);
}

class GatingOffTest : public LogonGatingTest {
 protected:
  GatingOffTest() { gating_ = false; }
};

TEST_F(GatingOffTest, JobsOfALoggedOffOwnerRun) {
  EXPECT_EQ(Count("Owner logon gating is off ([logon] gating = false)"), 1u) << bitsd_->Log();
  const Guid id = AliceJob("free", "/file.bin");
  ASSERT_EQ(AsAlice({"/resume", "free"}).exit_code, 0);
  Job alices = Watch(id);
  EXPECT_EQ(WaitForState(alices, {JobState::kTransferred, JobState::kError}),
            JobState::kTransferred);
}

}  // namespace
}  // namespace openbits::integration
