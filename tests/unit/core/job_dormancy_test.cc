// Dormant jobs (job_dormancy.cc): after a restart a suspended job is an outline until a call or
// its inactivity timeout needs it whole; every answer stays what the whole job would give.
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <vector>

#include "core/job_manager.h"
#include "core/system_clock.h"
#include "fakes/fake_ports.h"
#include "fakes/wait.h"

namespace openbits::core {
namespace {

using fakes::WaitUntil;

// Counts the jobs read one by one (JobStore::Load), and can fail those reads.
class CountingStore : public fakes::InMemoryJobStore {
 public:
  Result<Job> Load(const Guid& id) override {
    ++loads;
    if (fail_loads) {
      return Error(hr::E_FAIL, ErrorContext::kGeneralQueueManager, "read error (test)");
    }
    return InMemoryJobStore::Load(id);
  }
  std::atomic<int> loads{0};
  std::atomic<bool> fail_loads{false};
};

class JobDormancyTest : public ::testing::Test {
 protected:
  void SetUp() override { Restart(); }
  void Restart() {
    if (manager_) manager_->Stop();
    manager_ = std::make_unique<JobManager>(options_, store_, transport_, files_, events_,
                                            commands_, clock_);
    ASSERT_TRUE(manager_->Start());
    store_.loads = 0;
  }
  // A suspended job of alice with two files, one of them transferred.
  Guid SuspendedJob(const std::string& name) {
    auto id = manager_->CreateJob(alice_, name, JobType::kDownload);
    EXPECT_TRUE(id);
    EXPECT_TRUE(manager_->AddFiles(alice_, *id,
                                   {{"http://h/" + name + "/a", "/d/" + name + "-a"},
                                    {"http://h/" + name + "/b", "/d/" + name + "-b"}}));
    EXPECT_TRUE(manager_->SetDescription(alice_, *id, "kept in the store"));
    Job stored = store_.Get(*id);
    stored.files[0].bytes_total = 5;
    stored.files[0].bytes_committed = 5;
    stored.files[0].completed = true;
    stored.files[1].bytes_total = 7;
    stored.files[1].bytes_committed = 3;
    EXPECT_TRUE(store_.Save(stored));
    return *id;
  }
  // The summary of `id` in a listing of every job (read from outlines and whole jobs alike).
  JobSummary Listed(const Guid& id) {
    auto page = manager_->ListJobs(root_, std::nullopt, kMaxJobListPage, /*all_users=*/true);
    EXPECT_TRUE(page);
    for (const JobSummary& job : page->jobs) {
      if (job.id == id) return job;
    }
    ADD_FAILURE() << "job " << id.ToString() << " is not listed";
    return {};
  }
  static void ExpectSameSummary(const JobSummary& a, const JobSummary& b) {
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.display_name, b.display_name);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.state, b.state);
    EXPECT_EQ(a.priority, b.priority);
    EXPECT_EQ(a.owner_uid, b.owner_uid);
    EXPECT_EQ(a.creation_us, b.creation_us);
    EXPECT_EQ(a.progress.bytes_total, b.progress.bytes_total);
    EXPECT_EQ(a.progress.bytes_transferred, b.progress.bytes_transferred);
    EXPECT_EQ(a.progress.files_total, b.progress.files_total);
    EXPECT_EQ(a.progress.files_transferred, b.progress.files_transferred);
  }

  const Caller alice_{1000, 1000, false};
  const Caller bob_{1001, 1001, false};
  const Caller root_{0, 0, true};
  ManagerOptions options_;
  CountingStore store_;
  fakes::ScriptedTransport transport_;
  fakes::InMemoryFileSystem files_;
  fakes::RecordingEventSink events_;
  fakes::FakeCommandRunner commands_;
  SystemClock clock_;
  std::unique_ptr<JobManager> manager_;
};

TEST_F(JobDormancyTest, ListingsOfDormantJobsAnswerAsTheWholeJobsWithoutReadingThem) {
  const Guid first = SuspendedJob("first");
  const Guid second = SuspendedJob("second");
  Restart();  // both jobs' progress as the store holds it, as any restart shows it
  auto before = manager_->ListJobs(root_, std::nullopt, 100, /*all_users=*/true);
  ASSERT_TRUE(before);
  ASSERT_EQ(before->jobs.size(), 2u);
  auto owned_before = manager_->ListJobs(alice_, std::nullopt, 1, /*all_users=*/false);
  ASSERT_TRUE(owned_before);
  Job whole = *manager_->GetJob(alice_, first);  // wakes `first`: one read
  EXPECT_EQ(store_.loads, 1);

  Restart();  // both dormant now
  auto listed = manager_->ListJobs(root_, std::nullopt, 100, /*all_users=*/true);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->jobs.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) ExpectSameSummary(listed->jobs[i], before->jobs[i]);
  ExpectSameSummary(listed->jobs[first < second ? 0 : 1], SummaryOf(whole));
  EXPECT_EQ(listed->jobs[0].progress.bytes_total, 12u);
  EXPECT_EQ(listed->jobs[0].progress.bytes_transferred, 8u);
  // Pages of one owner: the same page boundary as before.
  auto owned = manager_->ListJobs(alice_, std::nullopt, 1, /*all_users=*/false);
  ASSERT_TRUE(owned);
  ASSERT_EQ(owned->jobs.size(), 1u);
  ExpectSameSummary(owned->jobs[0], owned_before->jobs[0]);
  EXPECT_EQ(owned->next, owned_before->next);
  auto ids = manager_->EnumJobs(root_, /*all_users=*/true);
  ASSERT_TRUE(ids);
  EXPECT_EQ(ids->size(), 2u);
  EXPECT_EQ(store_.loads, 0) << "listing read whole jobs";

  // A call on one job reads that job only, once; it answers as before the restart.
  auto again = manager_->GetJob(alice_, first);
  ASSERT_TRUE(again);
  EXPECT_EQ(store_.loads, 1);
  EXPECT_EQ(again->description, "kept in the store");
  ASSERT_EQ(again->files.size(), 2u);
  EXPECT_EQ(again->files[1].remote_url, "http://h/first/b");
  EXPECT_EQ(again->files[1].bytes_transferred, 3u);
  ExpectSameSummary(SummaryOf(*again), SummaryOf(whole));
  ASSERT_TRUE(manager_->GetJob(alice_, first));
  EXPECT_EQ(store_.loads, 1);
}

TEST_F(JobDormancyTest, OnlyACallerWhoMaySeeADormantJobWakesIt) {
  const Guid id = SuspendedJob("private");
  Restart();
  auto refused = manager_->GetJob(bob_, id);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), hr::BG_E_NOT_FOUND);
  EXPECT_EQ(manager_->Resume(bob_, id).error().code(), hr::BG_E_NOT_FOUND);
  EXPECT_EQ(store_.loads, 0);
  ASSERT_TRUE(manager_->GetJob(root_, id));  // an administrator may
  EXPECT_EQ(store_.loads, 1);
}

TEST_F(JobDormancyTest, AWokenJobTransfersAndCompletes) {
  transport_.Serve("http://h/w/a", "alpha");
  transport_.Serve("http://h/w/b", "bravo");
  auto id = manager_->CreateJob(alice_, "w", JobType::kDownload);
  ASSERT_TRUE(id);
  ASSERT_TRUE(
      manager_->AddFiles(alice_, *id, {{"http://h/w/a", "/d/a"}, {"http://h/w/b", "/d/b"}}));
  Restart();
  ASSERT_TRUE(manager_->Resume(alice_, *id));
  EXPECT_EQ(store_.loads, 1);
  ASSERT_TRUE(WaitUntil([&] {
    auto job = manager_->GetJob(alice_, *id);
    return job && job->state == JobState::kTransferred;
  }));
  EXPECT_EQ(*manager_->Complete(alice_, *id), hr::S_OK);
  const auto on_disk = files_.Files();
  EXPECT_EQ(on_disk.at("/d/a"), "alpha");
  EXPECT_EQ(on_disk.at("/d/b"), "bravo");
  EXPECT_EQ(store_.size(), 0u);
}

TEST_F(JobDormancyTest, AStoreThatCannotReadTheJobFailsTheCallAndTheJobStays) {
  const Guid id = SuspendedJob("unreadable");
  Restart();
  store_.fail_loads = true;
  auto failed = manager_->GetJob(alice_, id);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), hr::E_FAIL);
  EXPECT_NE(failed.error().message().find("read error (test)"), std::string::npos);
  store_.fail_loads = false;
  auto read = manager_->GetJob(alice_, id);
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_EQ(read->display_name, "unreadable");
}

TEST_F(JobDormancyTest, DormantJobsCountTowardsTheLimits) {
  options_.max_jobs_per_user = 2;
  Restart();
  SuspendedJob("one");
  SuspendedJob("two");
  Restart();
  auto third = manager_->CreateJob(alice_, "three", JobType::kDownload);
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code(), hr::BG_E_TOO_MANY_JOBS_PER_USER);
  EXPECT_EQ(store_.loads, 0);
}

TEST_F(JobDormancyTest, AnInactiveDormantJobIsScavenged) {
  const Guid id = SuspendedJob("forgotten");
  options_.job_inactivity_timeout = std::chrono::seconds(1);
  Restart();
  ASSERT_TRUE(WaitUntil([&] { return store_.size() == 0; }));
  EXPECT_EQ(manager_->GetJob(alice_, id).error().code(), hr::BG_E_NOT_FOUND);
}

// A client that touches every job of a large queue (GetState on each, a verbose listing) must
// not bring the whole queue back into memory until the next restart: woken jobs that could be
// outlines again go back to outlines past options.max_woken_jobs, the least recently used
// first, and answer as before when woken again.
TEST_F(JobDormancyTest, WokenJobsBeyondTheBoundGoBackToOutlinesAndAnswerTheSame) {
  options_.max_woken_jobs = 5;
  Restart();
  std::vector<Guid> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(SuspendedJob("job" + std::to_string(i)));
  Restart();
  EXPECT_EQ(manager_->CountJobsInMemory().dormant, 20u);
  EXPECT_EQ(manager_->CountJobsInMemory().whole, 0u);
  auto listed_before = manager_->ListJobs(root_, std::nullopt, 100, /*all_users=*/true);
  ASSERT_TRUE(listed_before);

  std::vector<Job> first_answers;
  for (const Guid& id : ids) {
    auto job = manager_->GetJob(alice_, id);
    ASSERT_TRUE(job) << job.error().ToString();
    first_answers.push_back(*job);
    const JobsInMemory counts = manager_->CountJobsInMemory();
    EXPECT_LE(counts.whole, 5u);
    EXPECT_EQ(counts.whole + counts.dormant, 20u);
  }
  EXPECT_EQ(store_.loads, 20);
  // The most recently used stayed whole: calls on them read nothing.
  ASSERT_TRUE(manager_->GetJob(alice_, ids.back()));
  EXPECT_EQ(store_.loads, 20);

  // The others were outlines again: a call reads them again, and every answer is the same.
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto again = manager_->GetJob(alice_, ids[i]);
    ASSERT_TRUE(again);
    const Job& first = first_answers[i];
    ExpectSameSummary(SummaryOf(*again), SummaryOf(first));
    EXPECT_EQ(again->description, first.description);
    EXPECT_EQ(again->times.modification_us, first.times.modification_us);
    ASSERT_EQ(again->files.size(), first.files.size());
    for (std::size_t f = 0; f < first.files.size(); ++f) {
      EXPECT_EQ(again->files[f].remote_url, first.files[f].remote_url);
      EXPECT_EQ(again->files[f].bytes_transferred, first.files[f].bytes_transferred);
      EXPECT_EQ(again->files[f].completed, first.files[f].completed);
    }
    EXPECT_LE(manager_->CountJobsInMemory().whole, 5u);
  }
  EXPECT_EQ(store_.loads, 40);
  auto listed_after = manager_->ListJobs(root_, std::nullopt, 100, /*all_users=*/true);
  ASSERT_TRUE(listed_after);
  ASSERT_EQ(listed_after->jobs.size(), listed_before->jobs.size());
  for (std::size_t i = 0; i < listed_after->jobs.size(); ++i) {
    ExpectSameSummary(listed_after->jobs[i], listed_before->jobs[i]);
  }
}

// Only a job that waits for nothing goes back: one that was woken and resumed transfers
// whole however many others are woken meanwhile; once suspended again (its run over), it
// may go back, with the progress its run committed.
TEST_F(JobDormancyTest, AWokenJobGoesBackOnlyWhenItWaitsForNothingAgain) {
  options_.max_woken_jobs = 2;
  Restart();
  transport_.Serve("http://h/held", "0123456789");
  transport_.Hold("http://h/held");  // five bytes, then nothing until the run stops
  auto held = manager_->CreateJob(alice_, "held", JobType::kDownload);
  ASSERT_TRUE(held);
  ASSERT_TRUE(manager_->AddFiles(alice_, *held, {{"http://h/held", "/d/held"}}));
  std::vector<Guid> others;
  for (int i = 0; i < 6; ++i) others.push_back(SuspendedJob("other" + std::to_string(i)));
  Restart();

  ASSERT_TRUE(manager_->Resume(alice_, *held));
  ASSERT_TRUE(WaitUntil([&] {
    auto job = manager_->GetJob(alice_, *held);
    return job && job->state == JobState::kTransferring;
  }));
  for (const Guid& id : others) ASSERT_TRUE(manager_->GetJob(alice_, id));
  EXPECT_EQ(manager_->CountJobsInMemory().whole, 3u) << "the transferring job and two others";
  const int loads = store_.loads;
  auto transferring = manager_->GetJob(alice_, *held);
  ASSERT_TRUE(transferring);
  EXPECT_EQ(transferring->state, JobState::kTransferring);
  EXPECT_EQ(store_.loads, loads) << "the transferring job was read again";

  ASSERT_TRUE(manager_->Suspend(alice_, *held));
  ASSERT_TRUE(manager_->GetJob(alice_, *held));  // used again while suspended
  // Each call on another job wakes it; the suspended job goes back once its run is over: a
  // call on it reads it again, and answers as its outline did.
  std::size_t next = 0;
  JobSummary outline;
  std::optional<Job> woken;
  ASSERT_TRUE(WaitUntil([&] {
    for (int i = 0; i < 2; ++i) (void)manager_->GetJob(alice_, others[next++ % others.size()]);
    EXPECT_LE(manager_->CountJobsInMemory().whole, 2u);
    outline = Listed(*held);
    const int reads = store_.loads;
    auto job = manager_->GetJob(alice_, *held);
    if (!job || store_.loads == reads) return false;  // still whole: its run is winding down
    woken = *job;
    return true;
  }));
  EXPECT_EQ(outline.state, JobState::kSuspended);
  ExpectSameSummary(SummaryOf(*woken), outline);
  EXPECT_EQ(woken->files[0].bytes_transferred, woken->files[0].bytes_committed);

  // It transfers the rest when resumed.
  transport_.Release("http://h/held");
  ASSERT_TRUE(manager_->Resume(alice_, *held));
  ASSERT_TRUE(WaitUntil([&] {
    auto job = manager_->GetJob(alice_, *held);
    return job && job->state == JobState::kTransferred;
  }));
  EXPECT_EQ(*manager_->Complete(alice_, *held), hr::S_OK);
  EXPECT_EQ(files_.Files().at("/d/held"), "0123456789");
}

}  // namespace
}  // namespace openbits::core
