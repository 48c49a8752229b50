// Scheduling against the real daemon: one background slot, priorities and time slices.
#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

class SchedulingTest : public DaemonTest {
 protected:
  std::string Config() override {
    return "[transfer]\ncheckpoint_interval_ms = 100\nmax_background_jobs = 1\n"
           "time_slice_ms = 400\n";
  }
  Result<Job> StartJob(const std::string& name, const std::string& url, JobPriority priority) {
    auto job = client_->CreateJob(name);
    if (!job) return job.error();
    OPENBITS_RETURN_IF_ERROR(job->AddFile(server_->Url(url), out() + "/" + name));
    OPENBITS_RETURN_IF_ERROR(job->SetPriority(priority));
    OPENBITS_RETURN_IF_ERROR(job->Resume());
    return job;
  }
  std::uint64_t BytesOf(Job& job) {
    auto progress = job.GetProgress();
    return progress ? progress->bytes_transferred : 0;
  }
};

TEST_F(SchedulingTest, HighJobOvertakesARunningLowJobWhichThenResumesWhereItStopped) {
  harness::WriteRandomFile(www() + "/bulk.bin", 16 * 1024 * 1024, 30);
  harness::WriteRandomFile(www() + "/urgent.bin", 256 * 1024, 31);
  auto low = StartJob("low", "/bulk.bin?rate=2000000", JobPriority::kLow);
  ASSERT_TRUE(low) << low.error().ToString();
  ASSERT_TRUE(harness::WaitUntil([&] { return BytesOf(*low) > 512 * 1024; }));

  auto high = StartJob("high", "/urgent.bin", JobPriority::kHigh);
  ASSERT_TRUE(high);
  ASSERT_EQ(WaitForState(*high, {JobState::kTransferred, JobState::kError}),
            JobState::kTransferred);
  // The low job was not finished when the high one was: it was pre-empted, not waited for.
  EXPECT_LT(BytesOf(*low), 16u * 1024 * 1024);
  ASSERT_TRUE(high->Complete());

  // The low job got its slot back and continued from its checkpoint with a Range request.
  ASSERT_TRUE(harness::WaitUntil([&] { return server_->RangeStarts("/bulk.bin").size() >= 2; }));
  EXPECT_GT(server_->RangeStarts("/bulk.bin")[1], 0u);
  EXPECT_EQ(WaitForState(*low, {JobState::kTransferring}), JobState::kTransferring);
  EXPECT_TRUE(low->Cancel());
}

TEST_F(SchedulingTest, JobsOfTheSamePriorityTakeTurnsInTimeSlices) {
  harness::WriteRandomFile(www() + "/one.bin", 16 * 1024 * 1024, 32);
  harness::WriteRandomFile(www() + "/two.bin", 16 * 1024 * 1024, 33);
  auto first = StartJob("first", "/one.bin?rate=2000000", JobPriority::kNormal);
  ASSERT_TRUE(first);
  ASSERT_TRUE(harness::WaitUntil([&] { return BytesOf(*first) > 0; }));
  auto second = StartJob("second", "/two.bin?rate=2000000", JobPriority::kNormal);
  ASSERT_TRUE(second);
  // With one slot, the second job can only move once the first job's slice is over...
  ASSERT_TRUE(harness::WaitUntil([&] { return BytesOf(*second) > 0; }, 10s));
  const std::uint64_t first_then = BytesOf(*first);
  // ...and the first one gets another turn after that.
  EXPECT_TRUE(harness::WaitUntil([&] { return BytesOf(*first) > first_then; }, 10s));
  EXPECT_GE(server_->RangeStarts("/one.bin").size(), 2u);
  EXPECT_TRUE(first->Cancel());
  EXPECT_TRUE(second->Cancel());
}

}  // namespace
}  // namespace openbits::integration
