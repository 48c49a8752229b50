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
    return std::tuple(a.candidate->priority, a.tier, a.time, a.candidate->id) <
           std::tuple(b.candidate->priority, b.tier, b.time, b.candidate->id);
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

void RunQueue::SetQueued(const Guid& id,
                         std::optional<std::pair<JobPriority, std::int64_t>> queued) {
  auto it = queued_keys_.find(id);
  if (queued) {
    const QueueKey key{queued->first, queued->second, id};
    if (it != queued_keys_.end()) {
      if (it->second == key) return;
      queued_.erase(it->second);
      it->second = key;
    } else {
      queued_keys_.emplace(id, key);
    }
    queued_.insert(key);
  } else if (it != queued_keys_.end()) {
    queued_.erase(it->second);
    queued_keys_.erase(it);
  }
}

void RunQueue::SetRunning(const Guid& id,
                          std::optional<std::pair<JobPriority, std::int64_t>> running) {
  if (running) {
    running_[id] = *running;
  } else {
    running_.erase(id);
  }
}

void RunQueue::Remove(const Guid& id) {
  SetQueued(id, std::nullopt);
  SetRunning(id, std::nullopt);
}

SchedulingDecision RunQueue::Decide(const SchedulerPolicy& policy, std::int64_t now_us,
                                    const std::function<bool(const Guid&)>& blocked) const {
  std::vector<SchedulingCandidate> candidates;
  candidates.reserve(running_.size() + policy.max_background_jobs + 1);
  for (const auto& [id, run] : running_) candidates.push_back({id, run.first, true, run.second});
  // Schedule chooses among background jobs by (priority, tier, time, id), and every queued job
  // is tier 1 with its queued time: in that order, queued jobs come as queued_ holds them. The
  // first max_background_jobs of them decide the choice; one more shows whether a running job
  // of its priority is contested (whether its slice end matters).
  std::size_t background = 0;
  for (const auto& [priority, since, id] : queued_) {
    if (priority != JobPriority::kForeground && background > policy.max_background_jobs) break;
    if (running_.contains(id) || blocked(id)) continue;
    candidates.push_back({id, priority, false, since});
    if (priority != JobPriority::kForeground) ++background;
  }
  return Schedule(candidates, policy, now_us);
}

}  // namespace openbits::core
