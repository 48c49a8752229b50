// Dormant jobs: a job that waits for nothing (SUSPENDED, with no helper token) is kept in memory
// as its outline (ports.h) from the start of bitsd until something needs it whole: a call on
// it, or its inactivity timeout. Then it is read from the store (Wake) and kept whole while
// calls use it; once more than ManagerOptions::max_woken_jobs woken jobs are whole, the least
// recently used that wait for nothing again go back to outlines (SleepLeastRecentlyUsed), so a
// client that touches every job does not bring the whole queue back into memory. A queue of
// 100,000 suspended jobs costs a hundred bytes each instead of the whole job with its files,
// and a start reads a few columns instead of every row.
#include <algorithm>

#include "core/core_log.h"
#include "core/job_manager.h"

namespace openbits::core {

JobSummary SummaryOf(const Job& job) {
  return {job.id,       job.display_name, job.type,       job.state,
          job.priority, job.owner_uid,    job.Progress(), job.times.creation_us};
}

JobOutline OutlineOf(const Job& job) {
  return {SummaryOf(job), job.times.modification_us, job.last_progress_us,
          !(job.helper == HelperBinding{})};
}

Result<std::vector<JobOutline>> JobStore::LoadOutlines() {
  auto jobs = LoadAll();
  if (!jobs) return jobs.error();
  std::vector<JobOutline> outlines;
  outlines.reserve(jobs->size());
  for (Job& job : *jobs) {
    // As after a restart: what was committed is what a restarted job has.
    for (JobFile& file : job.files) file.bytes_transferred = file.bytes_committed;
    outlines.push_back(OutlineOf(job));
  }
  return outlines;
}

Result<Job> JobStore::Load(const Guid& id) {
  auto jobs = LoadAll();
  if (!jobs) return jobs.error();
  for (Job& job : *jobs) {
    if (job.id == id) return std::move(job);
  }
  return JobNotFound(id);
}

namespace {

// A suspended job starts no run and runs no notification command; a helper token may have to
// be taken away when its owner logs off (job_logon.cc), which looks at whole jobs.
bool WaitsForNothing(JobState state, bool has_helper) {
  return state == JobState::kSuspended && !has_helper;
}

bool WaitsForNothing(const Job& job) {
  return WaitsForNothing(job.state, !(job.helper == HelperBinding{}));
}

}  // namespace

bool JobManager::MayStayDormant(const JobOutline& outline) {
  return WaitsForNothing(outline.summary.state, outline.has_helper);
}

void JobManager::AddDormant(JobOutline outline) {
  // Hinted at the end: Start adds the outlines in GUID order, each in O(1).
  // What Reindex would say of the whole job: active, not queued, no run, and its one
  // deadline, the inactivity timeout (NextDeadlineUs).
  JobIndex::Facts facts;
  facts.owner_uid = outline.summary.owner_uid;
  facts.active = true;
  facts.deadline_us =
      std::max(outline.modification_us, outline.last_progress_us) + InactivityTimeoutUs();
  const Guid id = outline.summary.id;
  index_.Update(id, facts);
  dormant_.emplace_hint(dormant_.end(), id, std::move(outline));
}

JobManager::Entry& JobManager::Adopt(Job job, std::int64_t now_us) {
  for (JobFile& file : job.files) file.bytes_transferred = file.bytes_committed;
  const Guid id = job.id;
  Entry& entry = jobs_[id];
  entry.queued_since_us = job.times.modification_us;
  entry.job = std::move(job);
  // Whether a command line succeeded is not stored: after a restart it runs again.
  if ((entry.job.state == JobState::kTransferred || entry.job.state == JobState::kError) &&
      MayRunNotifyCommand(entry.job)) {
    entry.notify_due_us = now_us;
  }
  Reindex(entry);
  return entry;
}

Result<JobManager::Entry*> JobManager::Wake(const Guid& id) {
  auto it = dormant_.find(id);
  if (it == dormant_.end()) return static_cast<Entry*>(nullptr);
  auto loaded = store_.Load(id);
  if (!loaded) {
    Log()->error("Failed to read the dormant job={} from the store: {}", id.ToString(),
                 loaded.error().ToString());
    if (loaded.error().code() == hr::BG_E_NOT_FOUND) {
      // Gone from the store: gone.
      dormant_.erase(it);
      index_.Remove(id);
    }
    return loaded.error();
  }
  dormant_.erase(it);
  Entry& entry = Adopt(std::move(*loaded), clock_.NowUs());
  entry.woken = true;
  entry.woken_at = woken_.insert(woken_.end(), id);
  SleepLeastRecentlyUsed(id);
  return &entry;
}

JobManager::Entry* JobManager::Live(const Guid& id) {
  if (auto it = jobs_.find(id); it != jobs_.end()) return &it->second;
  auto woken = Wake(id);
  return woken ? *woken : nullptr;
}

void JobManager::NoteUse(Entry& entry) {
  if (entry.woken_at) {
    woken_.splice(woken_.end(), woken_, *entry.woken_at);  // the iterator stays valid
  } else if (entry.woken && WaitsForNothing(entry.job)) {
    entry.woken_at = woken_.insert(woken_.end(), entry.job.id);  // suspended again
  }
}

bool JobManager::Idle(const Entry& entry) const {
  if (entry.worker_running || entry.run || entry.control || entry.holds > 0 || entry.ending ||
      entry.notify_running || entry.notify_due_us != 0 || entry.modification_pending ||
      entry.waiting_for_store || !entry.unsignalled.empty()) {
    return false;
  }
  // The throttle of JobModification (MINIMUM_NOTIFICATION_INTERVAL_MS) lives in memory: a job
  // woken again must not signal sooner than the interval after its last signal.
  const std::int64_t interval_us = std::int64_t{entry.job.minimum_notification_interval_ms} * 1000;
  if (entry.last_modification_sent_us != 0 &&
      clock_.NowUs() - entry.last_modification_sent_us < interval_us) {
    return false;
  }
  // An outline counts the committed bytes, as a restart does; a job whose last run left more
  // in memory answers with those until it is resumed.
  return std::all_of(entry.job.files.begin(), entry.job.files.end(), [](const JobFile& file) {
    return file.bytes_transferred == file.bytes_committed;
  });
}

void JobManager::SleepLeastRecentlyUsed(const Guid& keep) {
  const std::size_t bound = std::max<std::uint32_t>(options_.max_woken_jobs, 1);
  // At most one lap: jobs busy now go to the back and wait for a later wake.
  for (std::size_t looked = woken_.size(); woken_.size() > bound && looked > 0; --looked) {
    auto it = jobs_.find(woken_.front());
    if (it == jobs_.end() || it->second.woken_at != woken_.begin()) {
      woken_.pop_front();  // removed since
      continue;
    }
    Entry& entry = it->second;
    const bool waits_for_nothing = WaitsForNothing(entry.job);
    if (waits_for_nothing && (it->first == keep || !Idle(entry))) {
      woken_.splice(woken_.end(), woken_, woken_.begin());
      continue;
    }
    woken_.pop_front();
    entry.woken_at.reset();
    if (!waits_for_nothing) continue;  // resumed: whole like any job until used suspended
    // What the store holds of the job is all there is of it (every change is saved before
    // it is made in memory): the next call reads it again, as after a restart.
    JobOutline outline = OutlineOf(entry.job);
    jobs_.erase(it);
    AddDormant(std::move(outline));
  }
}

Result<JobManager::Entry*> JobManager::FindFor(const Caller& caller, const Guid& id,
                                               JobAction action) {
  Entry* entry = nullptr;
  if (auto it = jobs_.find(id); it != jobs_.end()) {
    entry = &it->second;
    NoteUse(*entry);
  } else if (auto dormant = dormant_.find(id); dormant != dormant_.end()) {
    // Only a caller who may see the job wakes it (visibility depends on the owner alone).
    Job seen;
    seen.id = id;
    seen.owner_uid = dormant->second.summary.owner_uid;
    OPENBITS_RETURN_IF_ERROR(Authorize(options_.access, caller, seen, JobAction::kView));
    auto woken = Wake(id);
    if (!woken) return woken.error();
    entry = *woken;
  }
  if (entry == nullptr || IsFinalState(entry->job.state)) return JobNotFound(id);
  OPENBITS_RETURN_IF_ERROR(Authorize(options_.access, caller, entry->job, action));
  return entry;
}

template <typename Visit>
void JobManager::ForEachJobFrom(const std::optional<Guid>& after, Visit&& visit) const {
  auto whole = after ? jobs_.upper_bound(*after) : jobs_.begin();
  auto dormant = after ? dormant_.upper_bound(*after) : dormant_.begin();
  while (whole != jobs_.end() || dormant != dormant_.end()) {
    const bool take_whole =
        dormant == dormant_.end() || (whole != jobs_.end() && whole->first < dormant->first);
    if (take_whole) {
      if (IsFinalState(whole->second.job.state)) {
        ++whole;
        continue;
      }
      if (!visit(whole->first, &whole->second.job, nullptr)) return;
      ++whole;
    } else {
      if (!visit(dormant->first, nullptr, &dormant->second.summary)) return;
      ++dormant;
    }
  }
}

Result<std::vector<Guid>> JobManager::EnumJobs(const Caller& caller, bool all_users) const {
  if (all_users) OPENBITS_RETURN_IF_ERROR(AuthorizeListAllUsers(caller));
  MutexLock lock(mutex_);
  if (!all_users) {
    const std::set<Guid>& owned = index_.ActiveJobsOf(caller.uid);
    return std::vector<Guid>(owned.begin(), owned.end());
  }
  std::vector<Guid> ids;
  ForEachJobFrom(std::nullopt, [&](const Guid& id, const Job*, const JobSummary*) {
    ids.push_back(id);
    return true;
  });
  return ids;
}

Result<JobListPage> JobManager::ListJobs(const Caller& caller, const std::optional<Guid>& after,
                                         std::size_t max_count, bool all_users) const {
  if (all_users) OPENBITS_RETURN_IF_ERROR(AuthorizeListAllUsers(caller));
  max_count = std::clamp<std::size_t>(max_count, 1, kMaxJobListPage);
  JobListPage page;
  MutexLock lock(mutex_);
  // The queue (and each owner's jobs in the index) is keyed by GUID, so a page starts with a
  // lookup and reads only the jobs it returns: a whole listing costs one pass over the jobs
  // listed, whatever the size of the queue. Dormant jobs are listed from their outlines.
  auto add = [&](const Job* job, const JobSummary* outline) {
    if (page.jobs.size() == max_count) {
      page.next = page.jobs.back().id;
      return false;
    }
    page.jobs.push_back(job != nullptr ? SummaryOf(*job) : *outline);
    return true;
  };
  if (all_users) {
    ForEachJobFrom(after, [&](const Guid&, const Job* job, const JobSummary* outline) {
      return add(job, outline);
    });
    return page;
  }
  const std::set<Guid>& owned = index_.ActiveJobsOf(caller.uid);
  for (auto it = after ? owned.upper_bound(*after) : owned.begin(); it != owned.end(); ++it) {
    if (auto whole = jobs_.find(*it); whole != jobs_.end()) {
      if (IsFinalState(whole->second.job.state)) continue;
      if (!add(&whole->second.job, nullptr)) break;
    } else if (!add(nullptr, &dormant_.at(*it).summary)) {
      break;
    }
  }
  return page;
}

JobsInMemory JobManager::CountJobsInMemory() const {
  MutexLock lock(mutex_);
  return {jobs_.size(), dormant_.size(), woken_.size()};
}

}  // namespace openbits::core
