// The scheduling policy as a table of situations.
#include "core/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

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

// RunQueue must decide exactly as Schedule over every candidate, on any queue. Random queues
// with few distinct times make ties (same priority and time) common.
struct Model {
  struct Job {
    JobPriority priority;
    bool running;
    std::int64_t since;
    bool blocked;  // queued but held: not a candidate
  };
  std::map<Guid, Job> jobs;

  void Apply(RunQueue& queue, const Guid& id, const Job& job) {
    jobs[id] = job;
    queue.SetQueued(id,
                    job.running ? std::nullopt : std::optional(std::pair(job.priority, job.since)));
    queue.SetRunning(
        id, job.running ? std::optional(std::pair(job.priority, job.since)) : std::nullopt);
  }
  std::vector<SchedulingCandidate> Candidates() const {
    std::vector<SchedulingCandidate> candidates;
    for (const auto& [id, job] : jobs) {
      if (!job.blocked || job.running)
        candidates.push_back({id, job.priority, job.running, job.since});
    }
    return candidates;
  }
};

std::set<Guid> Sorted(const std::vector<Guid>& ids) { return {ids.begin(), ids.end()}; }

void ExpectSameDecision(const Model& model, const RunQueue& queue, const SchedulerPolicy& policy,
                        std::int64_t now, const std::string& where) {
  const SchedulingDecision expected = Schedule(model.Candidates(), policy, now);
  const SchedulingDecision actual =
      queue.Decide(policy, now, [&](const Guid& id) { return model.jobs.at(id).blocked; });
  EXPECT_EQ(Sorted(actual.start), Sorted(expected.start)) << where;
  EXPECT_EQ(Sorted(actual.preempt), Sorted(expected.preempt)) << where;
  EXPECT_EQ(actual.next_decision_us, expected.next_decision_us) << where;
}

Model::Job RandomJob(std::mt19937& random) {
  std::uniform_int_distribution<int> priority(0, 3), time(0, 12), percent(0, 99);
  return {static_cast<JobPriority>(priority(random)), percent(random) < 30,
          std::int64_t{time(random)} * 10, percent(random) < 10};
}

TEST(RunQueueTest, DecidesAsScheduleOverEveryCandidateOnRandomQueues) {
  std::mt19937 random(20261207);
  for (int round = 0; round < 1000; ++round) {
    Model model;
    RunQueue queue;
    const int jobs = std::uniform_int_distribution<int>(0, 30)(random);
    for (int i = 0; i < jobs; ++i) model.Apply(queue, Guid::Generate(), RandomJob(random));
    const SchedulerPolicy policy{std::uniform_int_distribution<std::uint32_t>(0, 6)(random), 40};
    const std::int64_t now = std::uniform_int_distribution<std::int64_t>(0, 200)(random);
    ExpectSameDecision(model, queue, policy, now, "round " + std::to_string(round));
    if (HasFailure()) return;
  }
}

TEST(RunQueueTest, StaysInStepWithScheduleAsJobsChange) {
  std::mt19937 random(7);
  Model model;
  RunQueue queue;
  std::vector<Guid> ids;
  for (int step = 0; step < 2000; ++step) {
    const int action = std::uniform_int_distribution<int>(0, 9)(random);
    if (action == 0 && !ids.empty()) {  // removed
      const std::size_t at = std::uniform_int_distribution<std::size_t>(0, ids.size() - 1)(random);
      queue.Remove(ids[at]);
      model.jobs.erase(ids[at]);
      ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(at));
    } else if (action < 5 || ids.empty()) {  // a new job
      ids.push_back(Guid::Generate());
      model.Apply(queue, ids.back(), RandomJob(random));
    } else {  // a job changes: priority, started, preempted, held...
      const Guid& id = ids[std::uniform_int_distribution<std::size_t>(0, ids.size() - 1)(random)];
      model.Apply(queue, id, RandomJob(random));
    }
    const SchedulerPolicy policy{4, 40};
    ExpectSameDecision(model, queue, policy, 60, "step " + std::to_string(step));
    if (HasFailure()) return;
  }
}

TEST(RunQueueTest, ADecisionReadsOnlyTheHeadOfALongQueue) {
  RunQueue queue;
  for (int i = 0; i < 10'000; ++i) {
    queue.SetQueued(Guid::Generate(), std::pair(JobPriority::kNormal, std::int64_t{i}));
  }
  int looked_at = 0;
  const auto decision = queue.Decide({4, 40}, 0, [&](const Guid&) {
    ++looked_at;
    return false;
  });
  EXPECT_EQ(decision.start.size(), 4u);
  EXPECT_LE(looked_at, 5);
}

}  // namespace
}  // namespace openbits::core
