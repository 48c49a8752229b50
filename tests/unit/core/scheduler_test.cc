// The scheduling policy as a table of situations.
#include "core/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace openbits::core {
namespace {

using P = JobPriority;

class SchedulerTest : public ::testing::Test {
 protected:
  Guid Add(P priority, bool running, std::int64_t since) {
    const Guid id = Guid::Generate();
    candidates_.push_back({id, priority, running, since});
    return id;
  }
  SchedulingDecision Decide(std::uint32_t slots, std::int64_t now = 1'000) {
    return Schedule(candidates_, {slots, kSlice}, now);
  }
  static bool Has(const std::vector<Guid>& ids, const Guid& id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  }

  static constexpr std::int64_t kSlice = 100;
  std::vector<SchedulingCandidate> candidates_;
};

TEST_F(SchedulerTest, ForegroundJobsAllRunAndAreNeverPreempted) {
  const Guid a = Add(P::kForeground, false, 0);
  const Guid b = Add(P::kForeground, false, 1);
  const Guid c = Add(P::kForeground, true, 0);
  const auto decision = Decide(0);
  EXPECT_TRUE(Has(decision.start, a));
  EXPECT_TRUE(Has(decision.start, b));
  EXPECT_FALSE(Has(decision.preempt, c));
}

TEST_F(SchedulerTest, HigherPriorityPreemptsALowerOneWhenSlotsAreFull) {
  const Guid low = Add(P::kLow, true, 990);
  const Guid high = Add(P::kHigh, false, 995);
  const auto decision = Decide(1);
  EXPECT_EQ(decision.start, std::vector<Guid>{high});
  EXPECT_EQ(decision.preempt, std::vector<Guid>{low});
}

TEST_F(SchedulerTest, LowerPriorityNeverPreemptsEvenAfterTheSlice) {
  const Guid normal = Add(P::kNormal, true, 0);
  const Guid low = Add(P::kLow, false, 0);
  const auto decision = Decide(1, 10'000);
  EXPECT_TRUE(decision.start.empty());
  EXPECT_TRUE(decision.preempt.empty());
  EXPECT_EQ(decision.next_decision_us, 0);
  (void)normal;
  (void)low;
}

TEST_F(SchedulerTest, SamePriorityWaitsForTheSliceToEnd) {
  const Guid running = Add(P::kNormal, true, 950);
  const Guid waiting = Add(P::kNormal, false, 960);
  const auto within = Decide(1, 1'000);
  EXPECT_TRUE(within.start.empty());
  EXPECT_TRUE(within.preempt.empty());
  EXPECT_EQ(within.next_decision_us, 950 + kSlice);

  const auto after = Decide(1, 1'060);
  EXPECT_EQ(after.start, std::vector<Guid>{waiting});
  EXPECT_EQ(after.preempt, std::vector<Guid>{running});
}

TEST_F(SchedulerTest, ARunningJobPastItsSliceKeepsRunningWhenNobodyWaits) {
  Add(P::kNormal, true, 0);
  const auto decision = Decide(1, 10'000);
  EXPECT_TRUE(decision.preempt.empty());
  EXPECT_EQ(decision.next_decision_us, 0);
}

TEST_F(SchedulerTest, FreeSlotsGoByPriorityThenByWaitingTime) {
  const Guid low = Add(P::kLow, false, 1);
  const Guid normal_late = Add(P::kNormal, false, 50);
  const Guid normal_early = Add(P::kNormal, false, 10);
  const Guid high = Add(P::kHigh, false, 99);
  const auto decision = Decide(3);
  EXPECT_EQ(decision.start.size(), 3u);
  EXPECT_TRUE(Has(decision.start, high));
  EXPECT_TRUE(Has(decision.start, normal_early));
  EXPECT_TRUE(Has(decision.start, normal_late));
  EXPECT_FALSE(Has(decision.start, low));
}

}  // namespace
}  // namespace openbits::core
