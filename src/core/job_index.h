// JobManager's indexes over its queue, so that no call and no scheduler event costs a pass over
// every job (the queue may hold 100,000 of them):
// - the run queue (scheduler.h): which jobs may start, in the order the policy takes them;
// - one timer heap: each job's next deadline (a retry, MaxDownloadTime, the inactivity timeout,
//   a notification command, a throttled JobModification), invalidated lazily: a job re-armed
//   gets a new generation and its older heap entries are dropped when they surface;
// - the active (not final) jobs of each owner: the per-user and per-machine limits and one
//   user's listing.
// JobManager tells it what a job looks like now (Update) wherever a job changes in a way that
// matters here; an update costs O(log n). The index holds no job data of its own beyond that.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "core/scheduler.h"
#include "openbits/guid.h"

namespace openbits::core {

class JobIndex {
 public:
  struct Facts {
    std::uint32_t owner_uid = 0;
    bool active = false;  // not in a final state
    // QUEUED and allowed to start (RunQueue::SetQueued); nullopt otherwise.
    std::optional<std::pair<JobPriority, std::int64_t>> queued;
    // A run that holds a slot (RunQueue::SetRunning); nullopt otherwise.
    std::optional<std::pair<JobPriority, std::int64_t>> running;
    // A run exists, holding a slot or winding down: JobManager looks at these jobs on every
    // pass (there are few), to learn when a run ended without a hook in the transfer code.
    bool has_run = false;
    std::int64_t deadline_us = 0;  // the job's earliest timer; 0: none
  };

  void Update(const Guid& id, const Facts& facts);
  void Remove(const Guid& id);

  const RunQueue& run_queue() const { return run_queue_; }
  const std::set<Guid>& runs() const { return runs_; }

  std::size_t active_jobs() const { return active_jobs_; }
  // The owner's active jobs, in GUID order.
  const std::set<Guid>& ActiveJobsOf(std::uint32_t uid) const;

  // The jobs whose deadline is at or before now_us, each once; their timers are disarmed (the
  // caller handles them and updates them, which arms the next deadline).
  std::vector<Guid> TakeDue(std::int64_t now_us);
  // The earliest armed deadline; 0: none.
  std::int64_t NextDeadlineUs();
  std::size_t timer_entries() const { return heap_.size(); }

 private:
  struct Record {
    std::uint32_t owner_uid = 0;
    bool active = false;
    std::int64_t deadline_us = 0;
    std::uint64_t generation = 0;
  };
  struct Timer {
    std::int64_t deadline_us;
    std::uint64_t generation;
    Guid id;
    // std::push_heap keeps the greatest on top: the earliest deadline must be "greatest".
    bool operator<(const Timer& other) const { return deadline_us > other.deadline_us; }
  };
  void Arm(const Guid& id, Record& record, std::int64_t deadline_us);
  bool Live(const Timer& timer) const;
  void DropStaleTop();
  // Rebuilds the heap from the live timers once stale ones outnumber them: amortised O(log n).
  void CompactIfMostlyStale();

  RunQueue run_queue_;
  std::set<Guid> runs_;
  std::map<Guid, Record> records_;
  std::map<std::uint32_t, std::set<Guid>> active_by_owner_;
  std::size_t active_jobs_ = 0;
  std::vector<Timer> heap_;
  std::size_t armed_ = 0;
  std::uint64_t next_generation_ = 1;
};

}  // namespace openbits::core
