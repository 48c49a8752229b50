// JobManager::SubmitJob (Manager.SubmitJob) and what a job's life costs the store: one write
// per step a restart must know of, none for the steps it would undo anyway.
#include <gtest/gtest.h>

#include "core/job_manager.h"
#include "core/system_clock.h"
#include "fakes/fake_ports.h"
#include "fakes/wait.h"

namespace openbits::core {
namespace {

using fakes::WaitUntil;

class JobManagerSubmitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.max_jobs_per_user = 2;
    StartManager();
  }

  void StartManager() {
    manager_ = std::make_unique<JobManager>(options_, store_, transport_, files_, events_,
                                            commands_, clock_);
    ASSERT_TRUE(manager_->Start());
  }

  JobState StateOf(const Guid& id) {
    auto job = manager_->GetJob(alice_, id);
    return job ? job->state : JobState::kCancelled;
  }

  const Caller alice_{1000, 1000, false};
  ManagerOptions options_;
  fakes::InMemoryJobStore store_;
  fakes::ScriptedTransport transport_;
  fakes::InMemoryFileSystem files_;
  fakes::RecordingEventSink events_;
  fakes::FakeCommandRunner commands_;
  SystemClock clock_;
  std::unique_ptr<JobManager> manager_;
};

TEST_F(JobManagerSubmitTest, SubmitJobStoresTheFilledJobInOneWrite) {
  transport_.Gate("http://h/a");  // the job stays QUEUED or CONNECTING while we look
  const int before = store_.Writes();
  auto id = manager_->SubmitJob(alice_, "one", JobType::kDownload, {}, {{"http://h/a", "/d/a"}},
                                static_cast<std::uint32_t>(JobPriority::kHigh), /*resume=*/true);
  ASSERT_TRUE(id);
  EXPECT_EQ(store_.Writes() - before, 1);
  const Job stored = store_.Get(*id);
  EXPECT_EQ(stored.display_name, "one");
  EXPECT_EQ(stored.priority, JobPriority::kHigh);
  EXPECT_EQ(stored.state, JobState::kQueued);
  EXPECT_TRUE(stored.resumed_once);
  ASSERT_EQ(stored.files.size(), 1u);
  EXPECT_EQ(stored.files[0].remote_url, "http://h/a");
  EXPECT_EQ(stored.files[0].local_path, "/d/a");
  EXPECT_NE(stored.files[0].temp_path, "/d/a");
  transport_.Ungate("http://h/a");
}

TEST_F(JobManagerSubmitTest, SubmitJobWithoutResumeLeavesTheJobSuspended) {
  auto id = manager_->SubmitJob(alice_, "later", JobType::kDownload, {}, {{"http://h/a", "/d/a"}},
                                static_cast<std::uint32_t>(JobPriority::kNormal),
                                /*resume=*/false);
  ASSERT_TRUE(id);
  EXPECT_EQ(StateOf(*id), JobState::kSuspended);
  EXPECT_EQ(store_.Get(*id).state, JobState::kSuspended);
  EXPECT_FALSE(store_.Get(*id).resumed_once);
}

TEST_F(JobManagerSubmitTest, SubmitJobIsAllOrNothingWithEachStepsError) {
  const auto normal = static_cast<std::uint32_t>(JobPriority::kNormal);
  auto relative =
      manager_->SubmitJob(alice_, "x", JobType::kDownload, {},
                          {{"http://h/a", "/d/a"}, {"http://h/b", "d/b"}}, normal, true);
  ASSERT_FALSE(relative);
  EXPECT_EQ(relative.error().code(), hr::E_INVALIDARG);
  EXPECT_NE(relative.error().message().find("'d/b' is not an absolute path"), std::string::npos);

  auto no_files = manager_->SubmitJob(alice_, "x", JobType::kDownload, {}, {}, normal, true);
  ASSERT_FALSE(no_files);
  EXPECT_EQ(no_files.error().code(), hr::E_INVALIDARG);

  auto priority =
      manager_->SubmitJob(alice_, "x", JobType::kDownload, {}, {{"http://h/a", "/d/a"}}, 7, true);
  ASSERT_FALSE(priority);
  EXPECT_EQ(priority.error().code(), hr::E_INVALIDARG);

  const Caller cannot_write{fakes::InMemoryFileSystem::kNoWriteUid, 1, false};
  auto unwritable = manager_->SubmitJob(cannot_write, "x", JobType::kDownload, {},
                                        {{"http://h/a", "/d/a"}}, normal, true);
  ASSERT_FALSE(unwritable);
  EXPECT_EQ(unwritable.error().code(), hr::E_ACCESSDENIED);

  EXPECT_EQ(store_.size(), 0u);
  EXPECT_TRUE(manager_->EnumJobs(alice_, false)->empty());
}

TEST_F(JobManagerSubmitTest, SubmitJobKeepsThePerUserJobLimit) {
  const auto normal = static_cast<std::uint32_t>(JobPriority::kNormal);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(manager_->SubmitJob(alice_, "j", JobType::kDownload, {},
                                    {{"http://h/a", "/d/a" + std::to_string(i)}}, normal, false));
  }
  auto third = manager_->SubmitJob(alice_, "j", JobType::kDownload, {}, {{"http://h/a", "/d/z"}},
                                   normal, false);
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code(), hr::BG_E_TOO_MANY_JOBS_PER_USER);
  EXPECT_EQ(store_.size(), 2u);
}

// Submit (1), the file's completion (1), TRANSFERRED (1), Complete's record before the rename
// (1) and the removal (1). Not recorded: CONNECTING and TRANSFERRING (a restart queues such a
// job again, as it queues one the store holds as QUEUED), and the delivery after the rename
// of a job removed right after (its removal records it).
TEST_F(JobManagerSubmitTest, AOneFileJobCostsFiveStoreWritesFromSubmitToComplete) {
  transport_.Serve("http://h/a", "alpha");
  const int before = store_.Writes();
  auto id = manager_->SubmitJob(alice_, "one", JobType::kDownload, {}, {{"http://h/a", "/d/a"}},
                                static_cast<std::uint32_t>(JobPriority::kNormal), true);
  ASSERT_TRUE(id);
  ASSERT_TRUE(WaitUntil([&] { return StateOf(*id) == JobState::kTransferred; }));
  const int syncs_before_complete = store_.DurableSyncs();
  EXPECT_EQ(*manager_->Complete(alice_, *id), hr::S_OK);
  EXPECT_EQ(files_.Files().at("/d/a"), "alpha");
  EXPECT_EQ(store_.size(), 0u);
  EXPECT_EQ(store_.Writes() - before, 5);
  // The file's completion was made durable before FileTransferred's turn; Complete still
  // makes what it renames durable before the rename.
  EXPECT_GE(store_.DurableSyncs(), syncs_before_complete + 1);
}

// A job whose run was under way when the daemon went (nothing of CONNECTING or TRANSFERRING
// in the store) is queued again at the next start and transfers from its stored offsets.
TEST_F(JobManagerSubmitTest, AJobInterruptedMidTransferIsQueuedAgainAndFinishes) {
  transport_.Serve("http://h/a", "alpha-bravo");
  transport_.Hold("http://h/a");
  auto id = manager_->SubmitJob(alice_, "one", JobType::kDownload, {}, {{"http://h/a", "/d/a"}},
                                static_cast<std::uint32_t>(JobPriority::kNormal), true);
  ASSERT_TRUE(id);
  ASSERT_TRUE(WaitUntil([&] { return StateOf(*id) == JobState::kTransferring; }));
  const Job stored = store_.Get(*id);
  EXPECT_TRUE(stored.state == JobState::kQueued || stored.state == JobState::kConnecting ||
              stored.state == JobState::kTransferring);
  manager_.reset();
  transport_.Release("http://h/a");
  StartManager();
  ASSERT_TRUE(WaitUntil([&] { return StateOf(*id) == JobState::kTransferred; }));
  EXPECT_EQ(*manager_->Complete(alice_, *id), hr::S_OK);
  EXPECT_EQ(files_.Files().at("/d/a"), "alpha-bravo");
}

}  // namespace
}  // namespace openbits::core
