#include "core/job_index.h"

#include <algorithm>

namespace openbits::core {

void JobIndex::Update(const Guid& id, const Facts& facts) {
  // Hinted at the end: jobs added in GUID order (a start) cost O(1) each, any other order
  // what a lookup costs.
  Record& record = records_.try_emplace(records_.end(), id)->second;
  if (record.active && (!facts.active || record.owner_uid != facts.owner_uid)) {
    auto owned = active_by_owner_.find(record.owner_uid);
    owned->second.erase(id);
    if (owned->second.empty()) active_by_owner_.erase(owned);
    --active_jobs_;
    record.active = false;
  }
  if (facts.active && !record.active) {
    std::set<Guid>& owned = active_by_owner_[facts.owner_uid];
    owned.insert(owned.end(), id);
    ++active_jobs_;
    record.active = true;
  }
  record.owner_uid = facts.owner_uid;
  run_queue_.SetQueued(id, facts.queued);
  run_queue_.SetRunning(id, facts.running);
  if (facts.has_run) {
    runs_.insert(id);
  } else {
    runs_.erase(id);
  }
  if (facts.deadline_us != record.deadline_us) Arm(id, record, facts.deadline_us);
}

void JobIndex::Remove(const Guid& id) {
  auto it = records_.find(id);
  if (it == records_.end()) return;
  Facts gone;
  gone.owner_uid = it->second.owner_uid;
  Update(id, gone);  // leaves the owner's set, the run queue and the timers
  records_.erase(it);
}

const std::set<Guid>& JobIndex::ActiveJobsOf(std::uint32_t uid) const {
  static const std::set<Guid> kNone;
  auto it = active_by_owner_.find(uid);
  return it == active_by_owner_.end() ? kNone : it->second;
}

void JobIndex::Arm(const Guid& id, Record& record, std::int64_t deadline_us) {
  if (record.deadline_us != 0) --armed_;
  record.deadline_us = deadline_us;
  record.generation = next_generation_++;  // any earlier heap entry of the job is now stale
  if (deadline_us == 0) return;
  ++armed_;
  heap_.push_back({deadline_us, record.generation, id});
  std::push_heap(heap_.begin(), heap_.end());
  CompactIfMostlyStale();
}

bool JobIndex::Live(const Timer& timer) const {
  auto it = records_.find(timer.id);
  return it != records_.end() && it->second.generation == timer.generation &&
         it->second.deadline_us != 0;
}

void JobIndex::DropStaleTop() {
  while (!heap_.empty() && !Live(heap_.front())) {
    std::pop_heap(heap_.begin(), heap_.end());
    heap_.pop_back();
  }
}

void JobIndex::CompactIfMostlyStale() {
  if (heap_.size() < 64 || heap_.size() < 2 * armed_) return;
  std::erase_if(heap_, [this](const Timer& timer) { return !Live(timer); });
  std::make_heap(heap_.begin(), heap_.end());
}

std::vector<Guid> JobIndex::TakeDue(std::int64_t now_us) {
  std::vector<Guid> due;
  for (DropStaleTop(); !heap_.empty() && heap_.front().deadline_us <= now_us; DropStaleTop()) {
    const Guid id = heap_.front().id;
    std::pop_heap(heap_.begin(), heap_.end());
    heap_.pop_back();
    Record& record = records_.at(id);
    record.deadline_us = 0;
    record.generation = next_generation_++;
    --armed_;
    due.push_back(id);
  }
  return due;
}

std::int64_t JobIndex::NextDeadlineUs() {
  DropStaleTop();
  return heap_.empty() ? 0 : heap_.front().deadline_us;
}

}  // namespace openbits::core
