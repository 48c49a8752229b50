// JobManager against in-memory ports: access rules, limits, the transfer loop, retries.
#include "core/job_manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <thread>

#include "core/system_clock.h"
#include "fakes/fake_ports.h"
#include "fakes/wait.h"

namespace openbits::core {
namespace {

using namespace std::chrono_literals;

using fakes::WaitUntil;

// Turns a hang into a failure: aborts the test program with `what` when Kick is not called
// for `limit` (a deadlocked call never returns, so no assertion after it could fail).
class Watchdog {
 public:
  Watchdog(std::string what, std::chrono::seconds limit)
      : what_(std::move(what)), limit_(limit), thread_([this] { Watch(); }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }
  void Kick() {
    std::lock_guard lock(mutex_);
    ++kicks_;
    changed_.notify_all();
  }

 private:
  void Watch() {
    std::unique_lock lock(mutex_);
    while (!done_) {
      const std::uint64_t seen = kicks_;
      if (!changed_.wait_for(lock, limit_, [&] { return done_ || kicks_ != seen; })) {
        std::fprintf(stderr, "Watchdog: %s made no progress for %lld s (deadlock?)\n",
                     what_.c_str(), static_cast<long long>(limit_.count()));
        std::abort();
      }
    }
  }
  const std::string what_;
  const std::chrono::seconds limit_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool done_ = false;
  std::uint64_t kicks_ = 0;
  std::thread thread_;  // last: starts once the members above exist
};

int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::atoi(value) : fallback;
}

class JobManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.max_jobs_per_user = 3;
    manager_ = std::make_unique<JobManager>(options_, store_, transport_, files_, events_,
                                            commands_, clock_);
    ASSERT_TRUE(manager_->Start());
  }

  JobState StateOf(const Caller& caller, const Guid& id) {
    auto job = manager_->GetJob(caller, id);
    return job ? job->state : JobState::kCancelled;
  }

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

TEST_F(JobManagerTest, JobsOfOtherUsersAreInvisibleButAdminsSeeThem) {
  auto id = manager_->CreateJob(alice_, "alice's", JobType::kDownload);
  ASSERT_TRUE(id);
  EXPECT_EQ(manager_->GetJob(bob_, *id).error().code(), hr::BG_E_NOT_FOUND);
  EXPECT_EQ(manager_->Suspend(bob_, *id).error().code(), hr::BG_E_NOT_FOUND);
  EXPECT_EQ(manager_->Cancel(bob_, *id).error().code(), hr::BG_E_NOT_FOUND);
  EXPECT_TRUE(manager_->EnumJobs(bob_, false)->empty());
  EXPECT_EQ(manager_->EnumJobs(bob_, true).error().code(), hr::E_ACCESSDENIED);
  EXPECT_TRUE(manager_->GetJob(root_, *id));
  EXPECT_EQ(manager_->EnumJobs(root_, true)->size(), 1u);
  EXPECT_TRUE(manager_->EnumJobs(root_, false)->empty());
}

TEST_F(JobManagerTest, PerUserJobLimitExemptsAdmins) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(manager_->CreateJob(alice_, "j", JobType::kDownload));
  auto fourth = manager_->CreateJob(alice_, "j", JobType::kDownload);
  ASSERT_FALSE(fourth);
  EXPECT_EQ(fourth.error().code(), hr::BG_E_TOO_MANY_JOBS_PER_USER);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(manager_->CreateJob(root_, "j", JobType::kDownload));
}

TEST_F(JobManagerTest, UploadJobsAreNotImplementedYet) {
  EXPECT_EQ(manager_->CreateJob(alice_, "u", JobType::kUpload).error().code(), hr::E_NOTIMPL);
}

TEST_F(JobManagerTest, ResumedJobTransfersEveryFileAndCompleteCommitsThem) {
  transport_.Serve("http://h/a", "alpha");
  transport_.Serve("http://h/b", "bravo-bravo");
  auto id = manager_->CreateJob(alice_, "two", JobType::kDownload);
  ASSERT_TRUE(id);
  ASSERT_TRUE(manager_->AddFiles(alice_, *id, {{"http://h/a", "/d/a"}, {"http://h/b", "/d/b"}}));
  ASSERT_TRUE(manager_->Resume(alice_, *id));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *id) == JobState::kTransferred; }));
  EXPECT_EQ(manager_->GetJob(alice_, *id)->Progress().bytes_transferred, 16u);
  // Persisted: both files complete with their committed offsets.
  const Job stored = store_.Get(*id);
  EXPECT_TRUE(stored.files[0].completed);
  EXPECT_EQ(stored.files[1].bytes_committed, 11u);

  EXPECT_EQ(*manager_->Complete(alice_, *id), hr::S_OK);
  const auto on_disk = files_.Files();
  EXPECT_EQ(on_disk.at("/d/a"), "alpha");
  EXPECT_EQ(on_disk.at("/d/b"), "bravo-bravo");
  EXPECT_EQ(on_disk.size(), 2u);
  EXPECT_EQ(store_.size(), 0u);
  ASSERT_TRUE(WaitUntil([&] { return events_.Events().size() == 2; }));
  EXPECT_EQ(events_.Events()[0], "transferred " + id->ToString());
}

TEST_F(JobManagerTest, TransientErrorWaitsForRetryDelayAndFatalErrorStops) {
  transport_.Fail("http://h/busy", HttpStatusToHresult(503));
  transport_.Fail("http://h/gone", HttpStatusToHresult(404));
  auto busy = manager_->CreateJob(alice_, "busy", JobType::kDownload);
  auto gone = manager_->CreateJob(alice_, "gone", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *busy, {{"http://h/busy", "/d/busy"}}));
  ASSERT_TRUE(manager_->AddFiles(alice_, *gone, {{"http://h/gone", "/d/gone"}}));
  ASSERT_TRUE(manager_->Resume(alice_, *busy));
  ASSERT_TRUE(manager_->Resume(alice_, *gone));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *busy) == JobState::kTransientError; }));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *gone) == JobState::kError; }));
  const Job transient = *manager_->GetJob(alice_, *busy);
  EXPECT_EQ(transient.error->code, 0x801901F7u);
  EXPECT_EQ(transient.error_count, 1u);
  // Default MinimumRetryDelay: 600 s from the failure.
  EXPECT_NEAR(static_cast<double>(transient.retry_at_us - transient.times.modification_us), 600e6,
              1e6);
  EXPECT_EQ(manager_->GetJob(alice_, *gone)->error->file_index, 0u);
}

TEST_F(JobManagerTest, RetryAfterLongerThanTheRetryDelayIsHonoured) {
  transport_.Fail("http://h/busy", HttpStatusToHresult(503));
  transport_.RetryAfter("http://h/busy", std::chrono::seconds(1800));
  transport_.Fail("http://h/short", HttpStatusToHresult(503));
  transport_.RetryAfter("http://h/short", std::chrono::seconds(2));
  auto busy = manager_->CreateJob(alice_, "busy", JobType::kDownload);
  auto brief = manager_->CreateJob(alice_, "brief", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *busy, {{"http://h/busy", "/d/busy"}}));
  ASSERT_TRUE(manager_->AddFiles(alice_, *brief, {{"http://h/short", "/d/short"}}));
  ASSERT_TRUE(manager_->Resume(alice_, *busy));
  ASSERT_TRUE(manager_->Resume(alice_, *brief));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *busy) == JobState::kTransientError; }));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *brief) == JobState::kTransientError; }));
  const Job waiting = *manager_->GetJob(alice_, *busy);
  EXPECT_NEAR(static_cast<double>(waiting.retry_at_us - waiting.times.modification_us), 1800e6,
              1e6);
  // A Retry-After shorter than the minimum retry delay does not shorten it.
  const Job shorter = *manager_->GetJob(alice_, *brief);
  EXPECT_NEAR(static_cast<double>(shorter.retry_at_us - shorter.times.modification_us), 600e6, 1e6);
}

TEST_F(JobManagerTest, ZeroNoProgressTimeoutMakesTheFirstErrorFatal) {
  transport_.Fail("http://h/busy", HttpStatusToHresult(503));
  auto id = manager_->CreateJob(alice_, "strict", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *id, {{"http://h/busy", "/d/busy"}}));
  ASSERT_TRUE(manager_->SetNoProgressTimeout(alice_, *id, 0));
  ASSERT_TRUE(manager_->Resume(alice_, *id));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *id) == JobState::kError; }));
}

TEST_F(JobManagerTest, AddFilesChecksDestinationAsTheOwner) {
  const Caller cannot_write{fakes::InMemoryFileSystem::kNoWriteUid, 1, false};
  auto id = manager_->CreateJob(cannot_write, "x", JobType::kDownload);
  ASSERT_TRUE(id);
  EXPECT_EQ(manager_->AddFiles(cannot_write, *id, {{"http://h/a", "/d/a"}}).error().code(),
            hr::E_ACCESSDENIED);
  EXPECT_EQ(manager_->AddFiles(cannot_write, *id, {{"http://h/a", "/d/a"}, {"http://h/b", "/d/a"}})
                .error()
                .code(),
            hr::E_INVALIDARG);
}

TEST_F(JobManagerTest, RestartRecoversActiveJobsToQueuedAndFinishesThem) {
  transport_.Serve("http://h/a", "alpha");
  auto id = manager_->CreateJob(alice_, "recover", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *id, {{"http://h/a", "/d/a"}}));
  manager_->Stop();
  // As if the daemon died mid-transfer.
  Job stored = store_.Get(*id);
  stored.state = JobState::kTransferring;
  ASSERT_TRUE(store_.Save(stored));
  manager_ = std::make_unique<JobManager>(options_, store_, transport_, files_, events_, commands_,
                                          clock_);
  ASSERT_TRUE(manager_->Start());
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *id) == JobState::kTransferred; }));
}

TEST_F(JobManagerTest, HighPriorityJobPreemptsARunningLowJobWhichThenResumes) {
  manager_->Stop();
  options_.max_background_jobs = 1;
  manager_ = std::make_unique<JobManager>(options_, store_, transport_, files_, events_, commands_,
                                          clock_);
  ASSERT_TRUE(manager_->Start());
  transport_.Hold("http://h/slow");
  transport_.Serve("http://h/slow", std::string(1000, 's'));
  transport_.Serve("http://h/urgent", "urgent");
  auto low = manager_->CreateJob(alice_, "low", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *low, {{"http://h/slow", "/d/slow"}}));
  ASSERT_TRUE(manager_->SetPriority(alice_, *low, 3));
  ASSERT_TRUE(manager_->Resume(alice_, *low));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *low) == JobState::kTransferring; }));

  auto high = manager_->CreateJob(alice_, "high", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *high, {{"http://h/urgent", "/d/urgent"}}));
  ASSERT_TRUE(manager_->SetPriority(alice_, *high, 1));
  ASSERT_TRUE(manager_->Resume(alice_, *high));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *high) == JobState::kTransferred; }));
  // The low job went back to the queue with its first half kept, then got its slot back.
  ASSERT_TRUE(WaitUntil([&] { return transport_.Downloads("http://h/slow") == 2; }));
  EXPECT_EQ(store_.Get(*low).files[0].bytes_committed, 500u);
  EXPECT_EQ(StateOf(alice_, *low), JobState::kTransferring);
}

// A small file's response is held back to reach the manager with the file's end (job_run.cc).
// When the run is stopped first, the stopped run's checkpoint still records the file's size
// and validators with its offset: without them the next run would resume with no If-Range
// (and splice two versions of a changed file), or ask for a range past a complete file.
TEST_F(JobManagerTest, AStoppedRunRecordsTheValidatorsOfAResponseHeldBackForTheFilesEnd) {
  transport_.Serve("http://h/a", "alpha");  // the run's first response goes at once
  transport_.Hold("http://h/slow");
  transport_.Serve("http://h/slow", std::string(1000, 's'));
  auto id = manager_->CreateJob(alice_, "two", JobType::kDownload);
  ASSERT_TRUE(
      manager_->AddFiles(alice_, *id, {{"http://h/a", "/d/a"}, {"http://h/slow", "/d/slow"}}));
  ASSERT_TRUE(manager_->Resume(alice_, *id));
  // The second file's first half is in its temp file, and its download waits for the rest.
  ASSERT_TRUE(WaitUntil([&] {
    for (const auto& [path, content] : files_.Files()) {
      if (content == std::string(500, 's')) return true;
    }
    return false;
  }));
  ASSERT_TRUE(manager_->Suspend(alice_, *id));
  ASSERT_TRUE(WaitUntil([&] { return store_.Get(*id).files[1].bytes_committed == 500; }));
  const JobFile stored = store_.Get(*id).files[1];
  EXPECT_EQ(stored.validators.etag, "\"v1\"");
  EXPECT_EQ(stored.bytes_total, 1000u);
}

// A Suspend that cannot be recorded (the state directory is full) changes nothing: the
// transfer goes on, and Suspend succeeds once the store takes writes again. (Stopping the run
// first left a job TRANSFERRING with no transfer running.)
TEST_F(JobManagerTest, ASuspendThatCannotBeRecordedLeavesTheTransferRunning) {
  transport_.Hold("http://h/slow");
  transport_.Serve("http://h/slow", std::string(1000, 's'));
  auto id = manager_->CreateJob(alice_, "slow", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *id, {{"http://h/slow", "/d/slow"}}));
  ASSERT_TRUE(manager_->Resume(alice_, *id));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *id) == JobState::kTransferring; }));

  store_.FailWrites(true);
  auto suspended = manager_->Suspend(alice_, *id);
  ASSERT_FALSE(suspended);
  EXPECT_EQ(suspended.error().code(), hr::ERROR_DISK_FULL);
  EXPECT_EQ(StateOf(alice_, *id), JobState::kTransferring);
  store_.FailWrites(false);
  // The run was not stopped: let the server send the rest, and the job finishes.
  transport_.Release("http://h/slow");
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *id) == JobState::kTransferred; }))
      << "the job stays " << JobStateName(StateOf(alice_, *id)) << " with no transfer running";
  EXPECT_EQ(transport_.Downloads("http://h/slow"), 1);
}

TEST_F(JobManagerTest, NotifyCommandRunsAsItsSetterWhenTheJobIsTransferred) {
  transport_.Serve("http://h/a", "alpha");
  auto id = manager_->CreateJob(alice_, "notify", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *id, {{"http://h/a", "/d/a"}}));
  ASSERT_TRUE(
      manager_->SetNotifyCmdLine(alice_, *id, "/usr/bin/logger", "logger -t \"bits job\" done"));
  ASSERT_TRUE(manager_->Resume(alice_, *id));
  ASSERT_TRUE(WaitUntil([&] { return commands_.Specs().size() == 1; }));
  const CommandSpec spec = commands_.Specs().front();
  EXPECT_EQ(spec.uid, alice_.uid);
  EXPECT_EQ(spec.gid, alice_.gid);
  EXPECT_EQ(spec.program, "/usr/bin/logger");
  EXPECT_EQ(spec.argv, (std::vector<std::string>{"logger", "-t", "bits job", "done"}));
}

TEST_F(JobManagerTest, NotifyCommandRegisteredAfterTheEventStillRuns) {
  transport_.Serve("http://h/a", "alpha");
  auto id = manager_->CreateJob(alice_, "late", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *id, {{"http://h/a", "/d/a"}}));
  ASSERT_TRUE(manager_->Resume(alice_, *id));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *id) == JobState::kTransferred; }));
  EXPECT_TRUE(commands_.Specs().empty());
  ASSERT_TRUE(manager_->SetNotifyCmdLine(alice_, *id, "/bin/true", ""));
  ASSERT_TRUE(WaitUntil([&] { return commands_.Specs().size() == 1; }));
  EXPECT_EQ(commands_.Specs().front().argv, std::vector<std::string>{"/bin/true"});
}

TEST_F(JobManagerTest, NoNotifyCommandForSystemAccountsOrWhenItsFlagIsOff) {
  transport_.Serve("http://h/a", "alpha");
  const Caller service{100, 100, false};
  auto system_job = manager_->CreateJob(service, "system", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(service, *system_job, {{"http://h/a", "/d/s"}}));
  ASSERT_TRUE(manager_->SetNotifyCmdLine(service, *system_job, "/bin/true", ""));
  ASSERT_TRUE(manager_->Resume(service, *system_job));
  auto quiet = manager_->CreateJob(alice_, "quiet", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *quiet, {{"http://h/a", "/d/q"}}));
  ASSERT_TRUE(manager_->SetNotifyCmdLine(alice_, *quiet, "/bin/true", ""));
  ASSERT_TRUE(manager_->SetNotifyFlags(alice_, *quiet, kNotifyJobError));
  ASSERT_TRUE(manager_->Resume(alice_, *quiet));
  auto control = manager_->CreateJob(alice_, "control", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *control, {{"http://h/a", "/d/c"}}));
  ASSERT_TRUE(manager_->Resume(alice_, *control));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(service, *system_job) == JobState::kTransferred; }));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *quiet) == JobState::kTransferred; }));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *control) == JobState::kTransferred; }));
  // A command that is due now: once it has run, the scheduler has passed over the others too.
  ASSERT_TRUE(manager_->SetNotifyCmdLine(alice_, *control, "/bin/control", ""));
  ASSERT_TRUE(WaitUntil([&] { return !commands_.Specs().empty(); }));
  ASSERT_EQ(commands_.Specs().size(), 1u);
  EXPECT_EQ(commands_.Specs().front().program, "/bin/control");
}

TEST_F(JobManagerTest, NotifyFlagsChooseTheEvents) {
  transport_.Serve("http://h/a", "alpha");
  transport_.Serve("http://h/b", "bravo");
  auto id = manager_->CreateJob(alice_, "flags", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *id, {{"http://h/a", "/d/a"}, {"http://h/b", "/d/b"}}));
  EXPECT_EQ(manager_->SetNotifyFlags(alice_, *id, 0x40).error().code(), hr::E_NOTIMPL);
  ASSERT_TRUE(manager_->SetNotifyFlags(alice_, *id, kNotifyFileTransferred));
  ASSERT_TRUE(manager_->Resume(alice_, *id));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *id) == JobState::kTransferred; }));
  ASSERT_TRUE(WaitUntil([&] { return events_.Events().size() == 2; }));
  EXPECT_EQ(events_.Events(),
            (std::vector<std::string>{"file 0 " + id->ToString(), "file 1 " + id->ToString()}));
}

TEST_F(JobManagerTest, Job5PropertiesCheckTypeIdAndOrder) {
  auto id = manager_->CreateJob(alice_, "props", JobType::kDownload);
  ASSERT_TRUE(id);
  EXPECT_EQ(manager_
                ->SetProperty(alice_, *id, JobPropertyId::kDynamicContent,
                              PropertyValue(std::uint32_t{1}))
                .error()
                .code(),
            hr::E_INVALIDARG);
  EXPECT_EQ(manager_->SetProperty(alice_, *id, static_cast<JobPropertyId>(6), PropertyValue(true))
                .error()
                .code(),
            hr::BG_E_UNKNOWN_PROPERTY_ID);
  EXPECT_EQ(manager_->SetProperty(alice_, *id, JobPropertyId::kOnDemandMode, PropertyValue(true))
                .error()
                .code(),
            hr::E_NOTIMPL);
  EXPECT_EQ(manager_->GetProperty(alice_, *id, JobPropertyId::kCostFlags).error().code(),
            hr::E_NOTIMPL);
  // Another user's job stays invisible whatever the property.
  EXPECT_EQ(manager_->SetProperty(bob_, *id, JobPropertyId::kDynamicContent, PropertyValue(true))
                .error()
                .code(),
            hr::BG_E_NOT_FOUND);
  ASSERT_TRUE(
      manager_->SetProperty(alice_, *id, JobPropertyId::kHighPerformance, PropertyValue(true)));
  EXPECT_EQ(std::get<bool>(*manager_->GetProperty(alice_, *id, JobPropertyId::kHighPerformance)),
            true);
}

TEST_F(JobManagerTest, InactiveJobsAreScavenged) {
  manager_->Stop();
  options_.job_inactivity_timeout = std::chrono::seconds(1);
  manager_ = std::make_unique<JobManager>(options_, store_, transport_, files_, events_, commands_,
                                          clock_);
  ASSERT_TRUE(manager_->Start());
  auto id = manager_->CreateJob(alice_, "forgotten", JobType::kDownload);
  ASSERT_TRUE(id);
  ASSERT_TRUE(WaitUntil([&] { return !manager_->GetJob(alice_, *id); }));
  EXPECT_EQ(manager_->GetJob(alice_, *id).error().code(), hr::BG_E_NOT_FOUND);
  EXPECT_EQ(store_.size(), 0u);
}

TEST_F(JobManagerTest, LosingTheNetworkParksJobsUntilItReturns) {
  transport_.Hold("http://h/slow");
  transport_.Serve("http://h/slow", std::string(1000, 's'));
  auto id = manager_->CreateJob(alice_, "net", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *id, {{"http://h/slow", "/d/slow"}}));
  ASSERT_TRUE(manager_->Resume(alice_, *id));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *id) == JobState::kTransferring; }));

  manager_->SetNetworkConnected(false);
  EXPECT_EQ(StateOf(alice_, *id), JobState::kTransientError);
  EXPECT_EQ(manager_->GetJob(alice_, *id)->error->code, hr::BG_E_NETWORK_DISCONNECTED);
  // Nothing new starts while the network is gone.
  auto waiting = manager_->CreateJob(alice_, "waiting", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *waiting, {{"http://h/slow", "/d/other"}}));
  ASSERT_TRUE(manager_->Resume(alice_, *waiting));
  EXPECT_EQ(StateOf(alice_, *waiting), JobState::kQueued);

  manager_->SetNetworkConnected(true);
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *id) == JobState::kTransferring; }));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *waiting) == JobState::kTransferring; }));
  EXPECT_EQ(store_.Get(*id).files[0].bytes_committed, 500u);  // kept across the outage
}

// ---- Races between ending a job and starting it ----------------------------------------------

// Cancel settles files without the lock. A client resumes the job meanwhile and the scheduler
// sees it QUEUED: it must not start it (the old code did, then joined that transfer thread
// with the lock held while the thread waited for the lock: the daemon hung).
TEST_F(JobManagerTest, CancelRacingTheSchedulersStartOfTheSameJobEndsTheJob) {
  transport_.Hold("http://h/a");
  transport_.Serve("http://h/a", std::string(100, 'a'));
  transport_.Serve("http://h/b", "sentinel");
  auto id = manager_->CreateJob(alice_, "raced", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *id, {{"http://h/a", "/d/a"}}));
  files_.GateRemoveOf(manager_->GetJob(alice_, *id)->files[0].temp_path);
  Watchdog watchdog("Cancel racing the scheduler's start", 20s);
  auto cancelled = std::async(std::launch::async, [&] { return manager_->Cancel(alice_, *id); });
  ASSERT_TRUE(files_.WaitForGate(10s));  // Cancel is in its file step, without the lock

  EXPECT_TRUE(manager_->Resume(alice_, *id));
  // A job queued after it has been started: the scheduler has decided about both since.
  auto sentinel = manager_->CreateJob(alice_, "sentinel", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *sentinel, {{"http://h/b", "/d/b"}}));
  ASSERT_TRUE(manager_->Resume(alice_, *sentinel));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *sentinel) == JobState::kTransferred; }));
  files_.OpenGate();

  const Result<HRESULT> result = cancelled.get();
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(*result, hr::S_OK);
  EXPECT_EQ(manager_->GetJob(alice_, *id).error().code(), hr::BG_E_NOT_FOUND);
  EXPECT_EQ(transport_.Downloads("http://h/a"), 0);  // a job being ended never starts
  EXPECT_EQ(store_.size(), 1u);                      // the sentinel only
}

// The same race, thousands of times, with every call that moves a job between states:
// Cancel or Complete from one client while another suspends, resumes and takes ownership,
// and the scheduler starts and stops transfers. No call may hang or fail, no job may
// survive its end, no transfer may run for a job that is gone.
TEST_F(JobManagerTest, EndingJobsRacingOtherClientsAndTheSchedulerThousandsOfTimes) {
  const int iterations = EnvInt("OPENBITS_RACE_ITERATIONS", 2000);
  transport_.Hold("http://h/held");
  transport_.Serve("http://h/held", std::string(64, 'h'));
  transport_.Serve("http://h/quick", "quick");
  Watchdog watchdog("the end-of-job race loop", 20s);
  auto acceptable = [](const Status& status) {
    return status || status.error().code() == hr::BG_E_NOT_FOUND;
  };
  for (int i = 0; i < iterations; ++i) {
    watchdog.Kick();
    auto id = manager_->CreateJob(alice_, "race", JobType::kDownload);
    ASSERT_TRUE(id);
    const std::string n = std::to_string(i);
    ASSERT_TRUE(manager_->AddFiles(
        alice_, *id, {{"http://h/quick", "/d/q" + n}, {"http://h/held", "/d/h" + n}}));
    ASSERT_TRUE(manager_->Resume(alice_, *id));
    std::thread other_client([&, id = *id] {
      EXPECT_TRUE(acceptable(manager_->Suspend(alice_, id)));
      EXPECT_TRUE(acceptable(manager_->Resume(alice_, id)));
      if (i % 4 == 0) {
        EXPECT_TRUE(acceptable(manager_->TakeOwnership(root_, id)));
      }
      EXPECT_TRUE(acceptable(manager_->Resume(root_, id)));
    });
    const Result<HRESULT> ended =
        i % 2 == 0 ? manager_->Cancel(root_, *id) : manager_->Complete(root_, *id);
    other_client.join();
    ASSERT_TRUE(ended) << ended.error().ToString();
    EXPECT_TRUE(*ended == hr::S_OK || *ended == hr::BG_S_PARTIAL_COMPLETE) << *ended;
    ASSERT_EQ(manager_->GetJob(root_, *id).error().code(), hr::BG_E_NOT_FOUND);
  }
  EXPECT_EQ(store_.size(), 0u);
  // No transfer outlived its job: not one temp file is left behind.
  for (const auto& [path, content] : files_.Files()) {
    EXPECT_EQ(path.find(".tmp"), std::string::npos) << path;
  }
}

// ---- Complete: resumable and idempotent --------------------------------------------------------

class CompleteTest : public JobManagerTest {
 protected:
  Guid TransferredJob() {
    transport_.Serve("http://h/a", "alpha");
    transport_.Serve("http://h/b", "bravo");
    transport_.Serve("http://h/c", "charlie");
    auto id = manager_->CreateJob(alice_, "three", JobType::kDownload);
    EXPECT_TRUE(manager_->AddFiles(
        alice_, *id, {{"http://h/a", "/d/a"}, {"http://h/b", "/d/b"}, {"http://h/c", "/d/c"}}));
    EXPECT_TRUE(manager_->Resume(alice_, *id));
    EXPECT_TRUE(WaitUntil([&] { return StateOf(alice_, *id) == JobState::kTransferred; }));
    return *id;
  }
  // Complete with the rename onto /d/b failing: /d/a is delivered, the rest waits.
  void InterruptedComplete(const Guid& id) {
    files_.FailCommitsTo("/d/b");
    const Result<HRESULT> first = manager_->Complete(alice_, id);
    ASSERT_FALSE(first);
    EXPECT_EQ(first.error().code(), hr::E_ACCESSDENIED);
    EXPECT_EQ(first.error().context(), ErrorContext::kLocalFile);
    EXPECT_NE(first.error().message().find("/d/b"), std::string::npos);
    EXPECT_EQ(files_.Files().at("/d/a"), "alpha");
  }
};

TEST_F(CompleteTest, AfterAFailedRenameCompleteAgainFinishesTheRest) {
  const Guid id = TransferredJob();
  InterruptedComplete(id);
  // The job stays TRANSFERRED (as BITS keeps it when a rename fails): Complete can be retried.
  EXPECT_EQ(StateOf(alice_, id), JobState::kTransferred);
  const Job job = *manager_->GetJob(alice_, id);
  EXPECT_EQ(job.files[0].delivery, Delivery::kDone);
  EXPECT_EQ(job.files[1].delivery, Delivery::kNone);  // the failed rename left it the job's
  EXPECT_EQ(store_.Get(id).files[0].delivery, Delivery::kDone);  // stored before the next

  files_.AllowCommitsTo("/d/b");  // the cause is fixed
  EXPECT_EQ(*manager_->Complete(alice_, id), hr::S_OK);
  const auto on_disk = files_.Files();
  EXPECT_EQ(on_disk.at("/d/a"), "alpha");
  EXPECT_EQ(on_disk.at("/d/b"), "bravo");
  EXPECT_EQ(on_disk.at("/d/c"), "charlie");
  EXPECT_EQ(on_disk.size(), 3u);
  EXPECT_EQ(files_.Commits("/d/a"), 1);  // delivered once, never renamed again
  EXPECT_EQ(store_.size(), 0u);
}

TEST_F(CompleteTest, CompleteInterruptedByARestartFinishesAfterIt) {
  const Guid id = TransferredJob();
  InterruptedComplete(id);
  // The daemon goes down with the job half delivered and comes back from the store.
  manager_->Stop();
  manager_ = std::make_unique<JobManager>(options_, store_, transport_, files_, events_, commands_,
                                          clock_);
  ASSERT_TRUE(manager_->Start());
  EXPECT_EQ(StateOf(alice_, id), JobState::kTransferred);
  files_.AllowCommitsTo("/d/b");
  EXPECT_EQ(*manager_->Complete(alice_, id), hr::S_OK);
  const auto on_disk = files_.Files();
  EXPECT_EQ(on_disk.at("/d/a"), "alpha");
  EXPECT_EQ(on_disk.at("/d/b"), "bravo");
  EXPECT_EQ(on_disk.at("/d/c"), "charlie");
  EXPECT_EQ(files_.Commits("/d/a"), 1);
}

// bitsd died right after renaming /d/a, before its row said so, and just before renaming
// /d/b: both rows say "renaming". The one whose temp file is gone was renamed.
TEST_F(CompleteTest, ACrashBetweenARenameAndItsRecordIsFinishedAfterTheRestart) {
  const Guid id = TransferredJob();
  manager_->Stop();
  Job stored = store_.Get(id);
  stored.files[0].delivery = stored.files[1].delivery = Delivery::kRenaming;
  ASSERT_TRUE(store_.Save(stored));
  ASSERT_TRUE(files_.CommitTemp({}, stored.files[0].temp_path, "/d/a", 0, 0644));
  manager_ = std::make_unique<JobManager>(options_, store_, transport_, files_, events_, commands_,
                                          clock_);
  ASSERT_TRUE(manager_->Start());
  EXPECT_EQ(StateOf(alice_, id), JobState::kTransferred);
  const Result<HRESULT> completed = manager_->Complete(alice_, id);
  ASSERT_TRUE(completed) << completed.error().ToString();
  EXPECT_EQ(*completed, hr::S_OK);
  const auto on_disk = files_.Files();
  EXPECT_EQ(on_disk.at("/d/a"), "alpha");
  EXPECT_EQ(on_disk.at("/d/b"), "bravo");
  EXPECT_EQ(on_disk.at("/d/c"), "charlie");
  EXPECT_EQ(on_disk.size(), 3u);
}

TEST_F(CompleteTest, CancelAfterAPartialCompleteDeletesNoDeliveredFile) {
  const Guid id = TransferredJob();
  InterruptedComplete(id);
  const std::string temp_b = manager_->GetJob(alice_, id)->files[1].temp_path;
  EXPECT_EQ(*manager_->Cancel(alice_, id), hr::S_OK);
  const auto on_disk = files_.Files();
  EXPECT_EQ(on_disk.at("/d/a"), "alpha");  // delivered: the user's file now
  EXPECT_FALSE(on_disk.contains(temp_b));  // not delivered: the job's temp file goes
  EXPECT_EQ(on_disk.size(), 1u);
  EXPECT_EQ(store_.size(), 0u);
}

TEST_F(JobManagerTest, AnAdministratorManagesOthersJobsButNeitherRedirectsNorReadsThem) {
  const Caller admin{1500, 1500, true};  // a member of the admin group, not root
  auto id = manager_->CreateJob(alice_, "alice's", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *id, {{"http://h/a", "/home/alice/a"}}));
  ASSERT_TRUE(manager_->SetCustomHeaders(alice_, *id, SecretString("X-Key: alice")));

  // Managing: allowed.
  EXPECT_TRUE(manager_->GetJob(admin, *id));
  EXPECT_TRUE(manager_->SetPriority(admin, *id, 1));
  EXPECT_TRUE(manager_->SetDescription(admin, *id, "looked at by an admin"));
  EXPECT_TRUE(manager_->SetMinimumRetryDelay(admin, *id, 60));
  EXPECT_TRUE(manager_->Suspend(admin, *id));

  // Where the bytes go, where they come from, and the owner's secrets: the owner's alone.
  auto denied = [](const Status& status) {
    return !status && status.error().code() == hr::E_ACCESSDENIED;
  };
  EXPECT_TRUE(denied(manager_->AddFiles(admin, *id, {{"http://h/b", "/etc/cron.d/planted"}})));
  EXPECT_TRUE(denied(manager_->SetRemoteName(admin, *id, 0, "http://elsewhere/a")));
  EXPECT_TRUE(denied(manager_->ReplaceRemotePrefix(admin, *id, "http://h/", "http://elsewhere/")));
  EXPECT_TRUE(denied(manager_->SetProxySettings(admin, *id, 2, "elsewhere:3128", "")));
  EXPECT_TRUE(denied(manager_->SetSecurityFlags(admin, *id, 0x6)));  // ignore bad certificates
  EXPECT_TRUE(denied(manager_->SetCustomHeaders(admin, *id, SecretString("X-Key: admin"))));
  EXPECT_TRUE(denied(manager_->MakeCustomHeadersWriteOnly(admin, *id)));
  EXPECT_TRUE(denied(manager_->SetNotifyCmdLine(admin, *id, "/bin/true", "")));
  Credential credential;
  credential.user = SecretString("admin");
  credential.password = SecretString("pw");
  EXPECT_TRUE(denied(manager_->SetCredentials(admin, *id, credential)));
  EXPECT_TRUE(
      denied(manager_->SetClientCertificate(admin, *id, ClientCertificateRef{0, "MY", "", "x"})));
  auto headers = manager_->GetCustomHeaders(admin, *id);
  ASSERT_FALSE(headers);
  EXPECT_EQ(headers.error().code(), hr::E_ACCESSDENIED);
  const Job job = store_.Get(*id);
  EXPECT_EQ(job.files.size(), 1u);
  EXPECT_EQ(job.files[0].remote_url, "http://h/a");
  EXPECT_EQ(job.custom_headers.reveal(), "X-Key: alice");

  // Another user does not even see the job.
  EXPECT_EQ(manager_->AddFiles(bob_, *id, {{"http://h/b", "/tmp/b"}}).error().code(),
            hr::BG_E_NOT_FOUND);
  // Root's jobs are no exception: an administrator never chooses what root writes.
  auto roots = manager_->CreateJob(root_, "root's", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(root_, *roots, {{"http://h/a", "/var/lib/x"}}));
  EXPECT_TRUE(denied(manager_->AddFiles(admin, *roots, {{"http://h/b", "/etc/shadow"}})));
  EXPECT_TRUE(denied(manager_->SetRemoteName(admin, *roots, 0, "http://elsewhere/a")));
  EXPECT_EQ(store_.Get(*roots).files.size(), 1u);
}

TEST_F(JobManagerTest, TooManyFilesAreRefusedBeforeAnyDestinationIsChecked) {
  // The fake file system refuses every destination of this uid: the count must come first.
  const Caller nowrite{fakes::InMemoryFileSystem::kNoWriteUid,
                       fakes::InMemoryFileSystem::kNoWriteUid, false};
  auto id = manager_->CreateJob(nowrite, "flood", JobType::kDownload);
  std::vector<FileSpec> specs;
  for (std::uint32_t i = 0; i <= options_.max_files_per_job; ++i) {
    specs.emplace_back("http://h/" + std::to_string(i), "/d/" + std::to_string(i));
  }
  EXPECT_EQ(manager_->AddFiles(nowrite, *id, specs).error().code(), hr::BG_E_TOO_MANY_FILES_IN_JOB);
}

// A clock the test moves by hand (the scheduler still wakes on the real one).
class ManualClock : public Clock {
 public:
  std::int64_t NowUs() const override { return now_us_; }
  void Advance(std::chrono::seconds by) { now_us_ += by.count() * 1'000'000; }

 private:
  std::atomic<std::int64_t> now_us_{SystemClock().NowUs()};
};

TEST_F(JobManagerTest, APendingNotificationRetryNeverRunsAfterATakeover) {
  ManualClock clock;
  manager_->Stop();
  manager_ =
      std::make_unique<JobManager>(options_, store_, transport_, files_, events_, commands_, clock);
  ASSERT_TRUE(manager_->Start());
  const Caller admin{1500, 1500, true};
  transport_.Serve("http://h/a", "alpha");
  // Longer than the small-string buffer: freed memory would be read from the heap.
  const std::string program = "/usr/local/libexec/openbits/notify-the-owner-of-this-job";
  auto taken = manager_->CreateJob(alice_, "taken", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *taken, {{"http://h/a", "/d/taken"}}));
  ASSERT_TRUE(manager_->SetNotifyCmdLine(alice_, *taken, program, ""));
  auto barrier = manager_->CreateJob(alice_, "barrier", JobType::kDownload);
  ASSERT_TRUE(manager_->AddFiles(alice_, *barrier, {{"http://h/a", "/d/barrier"}}));

  commands_.ExitWith({1});  // the first run fails: a retry is due after the retry delay
  ASSERT_TRUE(manager_->Resume(alice_, *taken));
  ASSERT_TRUE(WaitUntil([&] { return commands_.Specs().size() == 1; }));
  commands_.StopAll();  // the failure has been handled (the retry is pending)
  ASSERT_TRUE(manager_->TakeOwnership(admin, *taken));

  ASSERT_TRUE(manager_->Resume(alice_, *barrier));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(alice_, *barrier) == JobState::kTransferred; }));
  clock.Advance(std::chrono::seconds(kDefaultMinimumRetryDelaySeconds + 60));
  // Due at once: the pass of the scheduler that runs it also passes the taken job's retry.
  ASSERT_TRUE(manager_->SetNotifyCmdLine(alice_, *barrier, "/bin/barrier", ""));
  ASSERT_TRUE(WaitUntil([&] { return commands_.Specs().size() >= 2; }));
  const auto specs = commands_.Specs();
  std::string ran;
  for (const CommandSpec& spec : specs)
    ran += spec.program + " as " + std::to_string(spec.uid) + "; ";
  ASSERT_EQ(specs.size(), 2u) << ran;
  EXPECT_EQ(specs[0].program, program);
  EXPECT_EQ(specs[1].program, "/bin/barrier");
  manager_.reset();  // before the clock goes
}

TEST(SplitCommandLineTest, QuotesGroupAndBackslashesEscapeInsideThem) {
  EXPECT_EQ(*SplitCommandLine("a  b\tc"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(*SplitCommandLine(R"(prog "two words" x"y z"w)"),
            (std::vector<std::string>{"prog", "two words", "xy zw"}));
  EXPECT_EQ(*SplitCommandLine(R"("say \"hi\"" "")"), (std::vector<std::string>{"say \"hi\"", ""}));
  EXPECT_TRUE(SplitCommandLine("")->empty());
  EXPECT_EQ(SplitCommandLine("open \"quote").error().code(), hr::E_INVALIDARG);
  EXPECT_EQ(ValidateNotifyCommand("relative/prog", "").error().code(), hr::E_INVALIDARG);
  EXPECT_EQ(ValidateNotifyCommand("/" + std::string(260, 'p'), "").error().code(),
            hr::BG_E_STRING_TOO_LONG);
}

}  // namespace
}  // namespace openbits::core
