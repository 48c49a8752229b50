// Which jobs transfer now (bits-reference.md 2.2): every FOREGROUND job runs at once; of the
// background jobs (HIGH, NORMAL, LOW) at most max_background_jobs run, a higher priority
// pre-empts a lower one, and jobs of the same priority take turns in time slices.
// A pure function of the queue, so the policy is tested without threads.
#pragma once

#include <cstdint>
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

SchedulingDecision Schedule(const std::vector<SchedulingCandidate>& candidates,
                            const SchedulerPolicy& policy, std::int64_t now_us);

}  // namespace openbits::core
