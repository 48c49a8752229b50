// JobManager's index: the timer heap with lazy invalidation and the per-owner counts.
#include "core/job_index.h"

#include <gtest/gtest.h>

namespace openbits::core {
namespace {

JobIndex::Facts Active(std::uint32_t owner, std::int64_t deadline = 0) {
  JobIndex::Facts facts;
  facts.owner_uid = owner;
  facts.active = true;
  facts.deadline_us = deadline;
  return facts;
}

TEST(JobIndexTest, DueTimersComeOnceInDeadlineOrderAndAreThenDisarmed) {
  JobIndex index;
  const Guid a = Guid::Generate(), b = Guid::Generate(), c = Guid::Generate();
  index.Update(a, Active(1, 300));
  index.Update(b, Active(1, 100));
  index.Update(c, Active(1, 200));
  EXPECT_EQ(index.NextDeadlineUs(), 100);
  EXPECT_TRUE(index.TakeDue(99).empty());
  EXPECT_EQ(index.TakeDue(250), (std::vector<Guid>{b, c}));
  EXPECT_TRUE(index.TakeDue(250).empty());
  EXPECT_EQ(index.NextDeadlineUs(), 300);
  // Disarmed: the same deadline set again is armed again.
  index.Update(b, Active(1, 100));
  EXPECT_EQ(index.TakeDue(1000), (std::vector<Guid>{b, a}));
  EXPECT_EQ(index.NextDeadlineUs(), 0);
}

TEST(JobIndexTest, ARearmedOrRemovedJobsOlderTimersNeverFire) {
  JobIndex index;
  const Guid later = Guid::Generate(), removed = Guid::Generate(), cleared = Guid::Generate();
  index.Update(later, Active(1, 100));
  index.Update(later, Active(1, 500));  // moved later: nothing at 100
  index.Update(removed, Active(1, 100));
  index.Remove(removed);
  index.Update(cleared, Active(1, 100));
  index.Update(cleared, Active(1, 0));
  EXPECT_EQ(index.NextDeadlineUs(), 500);
  EXPECT_TRUE(index.TakeDue(499).empty());
  EXPECT_EQ(index.TakeDue(500), std::vector<Guid>{later});
}

TEST(JobIndexTest, StaleTimersDoNotPileUp) {
  JobIndex index;
  const Guid id = Guid::Generate();
  for (std::int64_t deadline = 1; deadline <= 100'000; ++deadline) {
    index.Update(id, Active(1, deadline));
  }
  EXPECT_LE(index.timer_entries(), 128u);
  EXPECT_EQ(index.TakeDue(1'000'000), std::vector<Guid>{id});
}

TEST(JobIndexTest, OwnersCountTheirActiveJobsAcrossTakeoversAndFinalStates) {
  JobIndex index;
  const Guid a = Guid::Generate(), b = Guid::Generate();
  index.Update(a, Active(1000));
  index.Update(b, Active(1000));
  EXPECT_EQ(index.active_jobs(), 2u);
  EXPECT_EQ(index.ActiveJobsOf(1000).size(), 2u);
  index.Update(b, Active(1001));  // TakeOwnership
  EXPECT_EQ(index.ActiveJobsOf(1000), std::set<Guid>{a});
  EXPECT_EQ(index.ActiveJobsOf(1001), std::set<Guid>{b});
  JobIndex::Facts final_state = Active(1000);
  final_state.active = false;
  index.Update(a, final_state);
  EXPECT_TRUE(index.ActiveJobsOf(1000).empty());
  index.Remove(b);
  EXPECT_EQ(index.active_jobs(), 0u);
  EXPECT_TRUE(index.ActiveJobsOf(1001).empty());
}

TEST(JobIndexTest, RunsAndTheRunQueueFollowTheFacts) {
  JobIndex index;
  const Guid id = Guid::Generate();
  JobIndex::Facts facts = Active(1000);
  facts.queued = {JobPriority::kNormal, 5};
  index.Update(id, facts);
  EXPECT_EQ(index.run_queue().queued_count(), 1u);
  facts.queued.reset();
  facts.running = {JobPriority::kNormal, 7};
  facts.has_run = true;
  index.Update(id, facts);
  EXPECT_EQ(index.run_queue().queued_count(), 0u);
  EXPECT_EQ(index.run_queue().running_count(), 1u);
  EXPECT_EQ(index.runs(), std::set<Guid>{id});
  index.Remove(id);
  EXPECT_EQ(index.run_queue().running_count(), 0u);
  EXPECT_TRUE(index.runs().empty());
}

}  // namespace
}  // namespace openbits::core
