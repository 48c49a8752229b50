// Dormant jobs (job_dormancy.cc): after a restart a suspended job is an outline until a call or
// its inactivity timeout needs it whole; every answer stays what the whole job would give.
#include <gtest/gtest.h>

#include <atomic>

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

}  // namespace
}  // namespace openbits::core
