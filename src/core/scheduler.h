// Which jobs transfer now (bits-reference.md 2.2): every FOREGROUND job runs at once; of the
// background jobs (HIGH, NORMAL, LOW) at most max_background_jobs run, a higher priority
// pre-empts a lower one, and jobs of the same priority take turns in time slices.
// A pure function of the queue, so the policy is tested without threads; RunQueue makes the
// same decision incrementally, without a pass over every queued job.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

#include "openbits/guid.h"
#include "openbits/types.h"

namespace openbits::core {

struct SchedulingCandidate {
  Guid id;
  JobPriority priority = JobPriority::kNormal;
  bool running = false;   // has a transfer that was not asked to stop
  std::int64_t since_us;  // running: when the run started; queued: when the job was queued
};

struct SchedulerPolicy {
  std::uint32_t max_background_jobs = 4;
  std::int64_t time_slice_us = 60'000'000;
};

struct SchedulingDecision {
  std::vector<Guid> start;    // queued jobs to start
  std::vector<Guid> preempt;  // running jobs to send back to QUEUED
  // When the decision may change by itself (a time slice ends); 0 = only on events.
  std::int64_t next_decision_us = 0;
};

// Jobs that compare equal on everything else go by id, so the decision depends on the set of
// candidates only, not on their order.
SchedulingDecision Schedule(const std::vector<SchedulingCandidate>& candidates,
                            const SchedulerPolicy& policy, std::int64_t now_us);

// The candidates of Schedule kept as they change: the queued jobs ordered by (priority,
// queued since, id) and the running ones. Decide gives Schedule's decision over all of them
// while reading only the running jobs, the queued FOREGROUND jobs and the first
// max_background_jobs + 1 queued background jobs (each queued job that a better one passes
// over comes after those, so it can neither be chosen nor change which are), so an event costs
// O(log n) in a queue of n jobs, not a pass over the queue.
class RunQueue {
 public:
  // The job waits in QUEUED with this priority since since_us; nullopt: it does not (any more).
  void SetQueued(const Guid& id, std::optional<std::pair<JobPriority, std::int64_t>> queued);
  // The job has a run that holds a slot, started at started_us; nullopt: it has none.
  void SetRunning(const Guid& id, std::optional<std::pair<JobPriority, std::int64_t>> running);
  void Remove(const Guid& id);

  // `blocked(id)`: a queued job that cannot start at the moment (it stays queued, and is left
  // out as Schedule's callers leave it out of the candidates).
  SchedulingDecision Decide(const SchedulerPolicy& policy, std::int64_t now_us,
                            const std::function<bool(const Guid&)>& blocked) const;

  std::size_t queued_count() const { return queued_.size(); }
  std::size_t running_count() const { return running_.size(); }

 private:
  using QueueKey = std::tuple<JobPriority, std::int64_t, Guid>;
  std::set<QueueKey> queued_;
  std::map<Guid, QueueKey> queued_keys_;
  std::map<Guid, std::pair<JobPriority, std::int64_t>> running_;
};

}  // namespace openbits::core
