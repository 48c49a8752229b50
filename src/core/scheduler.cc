#include "core/scheduler.h"

#include <algorithm>
#include <tuple>

namespace openbits::core {
namespace {

struct Ranked {
  const SchedulingCandidate* candidate;
  // A running job within its slice keeps its place (tier 0). Once the slice is over it
  // competes with queued jobs of its priority by the time it became replaceable (tier 1),
  // so the one that waited longest goes next.
  int tier;
  std::int64_t time;
};

}  // namespace

SchedulingDecision Schedule(const std::vector<SchedulingCandidate>& candidates,
                            const SchedulerPolicy& policy, std::int64_t now_us) {
  SchedulingDecision decision;
  std::vector<Ranked> background;
  for (const SchedulingCandidate& candidate : candidates) {
    if (candidate.priority == JobPriority::kForeground) {
      if (!candidate.running) decision.start.push_back(candidate.id);
      continue;
    }
    if (candidate.running) {
      const std::int64_t slice_end = candidate.since_us + policy.time_slice_us;
      if (now_us < slice_end) {
        background.push_back({&candidate, 0, candidate.since_us});
      } else {
        background.push_back({&candidate, 1, slice_end});
      }
    } else {
      background.push_back({&candidate, 1, candidate.since_us});
    }
  }
  std::sort(background.begin(), background.end(), [](const Ranked& a, const Ranked& b) {
    return std::tuple(a.candidate->priority, a.tier, a.time) <
           std::tuple(b.candidate->priority, b.tier, b.time);
  });
  const std::size_t slots = std::min<std::size_t>(policy.max_background_jobs, background.size());
  for (std::size_t i = 0; i < background.size(); ++i) {
    const SchedulingCandidate& candidate = *background[i].candidate;
    const bool chosen = i < slots;
    if (chosen && !candidate.running) decision.start.push_back(candidate.id);
    if (!chosen && candidate.running) decision.preempt.push_back(candidate.id);
  }
  // A slice end matters only when a job of the same priority is left waiting.
  for (std::size_t i = 0; i < slots; ++i) {
    const Ranked& chosen = background[i];
    if (!chosen.candidate->running || chosen.tier != 0) continue;
    const bool contested =
        std::any_of(background.begin() + static_cast<std::ptrdiff_t>(slots), background.end(),
                    [&](const Ranked& waiting) {
                      return waiting.candidate->priority == chosen.candidate->priority;
                    });
    if (!contested) continue;
    const std::int64_t slice_end = chosen.candidate->since_us + policy.time_slice_us;
    if (decision.next_decision_us == 0 || slice_end < decision.next_decision_us) {
      decision.next_decision_us = slice_end;
    }
  }
  return decision;
}

}  // namespace openbits::core
