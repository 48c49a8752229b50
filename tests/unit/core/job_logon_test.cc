// JobManager and owner logon gating (job_logon.cc): which jobs the scheduler may start, what
// a logoff does to the owner's runs and helper tokens, and CreateJob without a logon.
#include <gtest/gtest.h>

#include <thread>

#include "core/job_manager.h"
#include "core/system_clock.h"
#include "fakes/fake_ports.h"
#include "fakes/wait.h"

namespace openbits::core {
namespace {

using namespace std::chrono_literals;

using fakes::WaitUntil;

class JobLogonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Any digest does for the registry; the daemon uses SHA-256.
    options_.helper_token_digest = [](std::string_view token) { return std::string(token); };
    manager_ = std::make_unique<JobManager>(options_, store_, transport_, files_, events_,
                                            commands_, clock_);
    manager_->SetLogonGating(true, {alice_.uid});
    ASSERT_TRUE(manager_->Start());
  }
  void TearDown() override { manager_.reset(); }

  JobState StateOf(const Guid& id) {
    auto job = manager_->GetJob(root_, id);
    return job ? job->state : JobState::kCancelled;
  }
  Guid JobOf(const Caller& owner, const std::string& url) {
    auto id = manager_->CreateJob(owner, "j", JobType::kDownload);
    EXPECT_TRUE(id) << id.error().ToString();
    EXPECT_TRUE(manager_->AddFiles(owner, *id, {{url, "/d/" + std::to_string(owner.uid)}}));
    return *id;
  }

  const Caller daemon_{1, 1, false};  // a system account
  const Caller alice_{1000, 1000, false};
  const Caller bob_{1001, 1001, false};
  const Caller root_{0, 0, true};
  ManagerOptions options_;
  fakes::InMemoryJobStore store_;
  fakes::ScriptedTransport transport_;
  fakes::InMemoryFileSystem files_;
  fakes::RecordingEventSink events_;
  fakes::FakeCommandRunner commands_;
  SystemClock clock_;
  std::unique_ptr<JobManager> manager_;
};

TEST_F(JobLogonTest, AJobOfALoggedOffOwnerWaitsInQueuedAndStartsAtHerLogon) {
  transport_.Serve("http://h/a", "alice's");
  transport_.Serve("http://h/d", "daemon's");
  const Guid alices = JobOf(alice_, "http://h/a");
  manager_->SetLoggedOn(alice_.uid, false);
  ASSERT_TRUE(manager_->Resume(alice_, alices));
  // The system account's job, resumed after hers, runs to the end: the scheduler has passed.
  const Guid daemons = JobOf(daemon_, "http://h/d");
  ASSERT_TRUE(manager_->Resume(daemon_, daemons));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(daemons) == JobState::kTransferred; }));
  EXPECT_EQ(StateOf(alices), JobState::kQueued);
  EXPECT_EQ(transport_.Downloads("http://h/a"), 0);

  manager_->SetLoggedOn(alice_.uid, true);
  EXPECT_TRUE(WaitUntil([&] { return StateOf(alices) == JobState::kTransferred; }));
}

TEST_F(JobLogonTest, ALogoffSendsTheOwnersRunBackToQueuedUntilHerLogon) {
  transport_.Serve("http://h/held", std::string(1000, 'x'));
  transport_.Hold("http://h/held");
  const Guid id = JobOf(alice_, "http://h/held");
  ASSERT_TRUE(manager_->Resume(alice_, id));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kTransferring; }));
  manager_->SetLoggedOn(alice_.uid, false);
  EXPECT_EQ(StateOf(id), JobState::kQueued);
  EXPECT_FALSE(manager_->GetJob(root_, id)->error);
  manager_->SetLoggedOn(alice_.uid, true);
  EXPECT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kTransferring; }));
  EXPECT_EQ(transport_.Downloads("http://h/held"), 2);
  ASSERT_TRUE(manager_->Suspend(alice_, id));
}

TEST_F(JobLogonTest, ALogoffDiscardsHelperTokensAndFailsUnfinishedJobsWithTokenRequired) {
  transport_.Serve("http://h/held", std::string(1000, 'x'));
  transport_.Hold("http://h/held");
  const Guid running = JobOf(alice_, "http://h/held");
  const Guid suspended = JobOf(alice_, "http://h/held");
  for (const Guid& id : {running, suspended}) {
    auto token = manager_->CreateHelperToken(alice_, "");
    ASSERT_TRUE(token);
    ASSERT_TRUE(manager_->SetHelperToken(alice_, id, *token));
  }
  ASSERT_TRUE(manager_->Resume(alice_, running));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(running) == JobState::kTransferring; }));

  manager_->SetLoggedOn(alice_.uid, false);
  EXPECT_EQ(StateOf(running), JobState::kError);
  const auto error = manager_->GetJob(alice_, running)->error;
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, hr::BG_E_TOKEN_REQUIRED);
  EXPECT_EQ(error->context, ErrorContext::kGeneralQueueManager);
  EXPECT_NE(error->message.find("uid 1000) logged off"), std::string::npos) << error->message;
  // The token is gone from both jobs, in memory and in the store; a suspended job keeps its
  // state (it was not waiting to run).
  for (const Guid& id : {running, suspended}) {
    EXPECT_FALSE(manager_->GetHelperBinding(alice_, id)->identity);
    EXPECT_FALSE(store_.Get(id).helper.identity);
  }
  EXPECT_EQ(StateOf(suspended), JobState::kSuspended);
}

TEST_F(JobLogonTest, AHumanUidWithNoLogonCannotCreateAJob) {
  const auto refused = manager_->CreateJob(bob_, "j", JobType::kDownload);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), hr::ERROR_NOT_LOGGED_ON);
  EXPECT_NE(refused.error().message().find("uid 1001 has no login session"), std::string::npos)
      << refused.error().message();
  EXPECT_EQ(store_.size(), 0u);
  // System accounts are always logged on; a logged-on uid may; gating off lets everyone.
  EXPECT_TRUE(manager_->CreateJob(daemon_, "j", JobType::kDownload));
  EXPECT_TRUE(manager_->CreateJob(root_, "j", JobType::kDownload));
  manager_->SetLoggedOn(bob_.uid, true);
  EXPECT_TRUE(manager_->CreateJob(bob_, "j", JobType::kDownload));
  manager_->SetLoggedOn(bob_.uid, false);
  manager_->SetLogonGating(false);
  EXPECT_TRUE(manager_->CreateJob(bob_, "j", JobType::kDownload));
}

TEST_F(JobLogonTest, SystemAccountsAreAlwaysLoggedOn) {
  transport_.Serve("http://h/d", "daemon's");
  manager_->SetLoggedOn(daemon_.uid, false);  // logind may list them; it changes nothing
  const Guid id = JobOf(daemon_, "http://h/d");
  ASSERT_TRUE(manager_->Resume(daemon_, id));
  EXPECT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kTransferred; }));
}

// "System accounts (uid < 1000 or listed in bitsd.conf) are always runnable": a listed uid
// of 1000 or more is one, though logind never lists it.
TEST_F(JobLogonTest, AListedSystemAccountIsAlwaysLoggedOn) {
  const Caller service{5000, 5000, false};
  options_.system_accounts = {service.uid};
  EXPECT_TRUE(options_.IsSystemAccount(service.uid));
  EXPECT_TRUE(options_.IsSystemAccount(daemon_.uid));
  EXPECT_FALSE(options_.IsSystemAccount(bob_.uid));
  manager_ = std::make_unique<JobManager>(options_, store_, transport_, files_, events_, commands_,
                                          clock_);
  manager_->SetLogonGating(true, {alice_.uid});
  ASSERT_TRUE(manager_->Start());
  transport_.Serve("http://h/s", "service's");
  manager_->SetLoggedOn(service.uid, false);     // changes nothing
  const Guid id = JobOf(service, "http://h/s");  // CreateJob is not refused
  ASSERT_TRUE(manager_->Resume(service, id));
  EXPECT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kTransferred; }));
  // Bob (not listed, not logged on) is still refused.
  EXPECT_EQ(manager_->CreateJob(bob_, "j", JobType::kDownload).error().code(),
            hr::ERROR_NOT_LOGGED_ON);
}

TEST_F(JobLogonTest, AHelperTokenOfAnOwnerWhoIsNotLoggedOnAtStartIsDiscarded) {
  transport_.Serve("http://h/held", std::string(1000, 'x'));
  transport_.Hold("http://h/held");
  const Guid id = JobOf(alice_, "http://h/held");
  auto token = manager_->CreateHelperToken(alice_, "");
  ASSERT_TRUE(token);
  ASSERT_TRUE(manager_->SetHelperToken(alice_, id, *token));
  ASSERT_TRUE(manager_->Resume(alice_, id));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kTransferring; }));
  manager_.reset();  // bitsd stops; alice logs off meanwhile
  manager_ = std::make_unique<JobManager>(options_, store_, transport_, files_, events_, commands_,
                                          clock_);
  manager_->SetLogonGating(true, {});
  ASSERT_TRUE(manager_->Start());
  EXPECT_EQ(StateOf(id), JobState::kError);
  const auto error = manager_->GetJob(root_, id)->error;
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, hr::BG_E_TOKEN_REQUIRED);
  EXPECT_NE(error->message.find("was not logged on when bitsd started"), std::string::npos)
      << error->message;
  EXPECT_FALSE(store_.Get(id).helper.identity);
}

TEST_F(JobLogonTest, AHelperTokenSurvivesARestartWhileItsOwnerIsLoggedOn) {
  const Guid id = JobOf(alice_, "http://h/x");
  auto token = manager_->CreateHelperToken(alice_, "");
  ASSERT_TRUE(token);
  ASSERT_TRUE(manager_->SetHelperToken(alice_, id, *token));
  manager_.reset();
  manager_ = std::make_unique<JobManager>(options_, store_, transport_, files_, events_, commands_,
                                          clock_);
  manager_->SetLogonGating(true, {alice_.uid});
  ASSERT_TRUE(manager_->Start());
  EXPECT_EQ(StateOf(id), JobState::kSuspended);
  EXPECT_TRUE(store_.Get(id).helper.identity);
}

}  // namespace
}  // namespace openbits::core
