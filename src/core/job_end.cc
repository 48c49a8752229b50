// JobManager: the end of a job. Cancel and Complete hold the job (so the scheduler cannot
// start it), stop its run, settle its files without the lock, then remove it. Complete is
// resumable: each file's delivery is stored before and after its rename (docs/reliability.md).
#include <algorithm>
#include <optional>
#include <vector>

#include "core/core_log.h"
#include "core/job_manager.h"

namespace openbits::core {
namespace {

// Files Complete renames with one shared sync (LocalFileSystem::CommitTemps).
constexpr std::size_t kCommitBatch = 32;

}  // namespace

Result<HRESULT> JobManager::Cancel(const Caller& caller, const Guid& id) {
  return EndJob(caller, id, JobEvent::kCancel, [&](const Job& job) -> Result<HRESULT> {
    // Only what the job created goes: its temp files. Destinations are untouched, and so is
    // a file that Complete already delivered (it is the user's now).
    bool all_deleted = true;
    for (const JobFile& file : job.files) {
      if (file.delivery == Delivery::kDone) continue;
      if (file.temp_path == file.local_path) continue;  // HIGH_PERFORMANCE: nothing to clean
      if (auto removed = files_.Remove(FilesOwnerOf(job), file.temp_path); !removed) {
        Log()->warn("Failed to delete temp file job={} file={}: {}", job.id.ToString(),
                    file.temp_path, removed.error().ToString());
        all_deleted = false;
      }
    }
    return all_deleted ? hr::S_OK : hr::BG_S_UNABLE_TO_DELETE_FILES;
  });
}

Result<HRESULT> JobManager::Complete(const Caller& caller, const Guid& id) {
  return EndJob(caller, id, JobEvent::kComplete, [&](const Job& job) -> Result<HRESULT> {
    const FileOwner owner = FilesOwnerOf(job);
    // What the store holds of the files (completed, offsets) must survive a power loss before
    // a file moves into place: one group-committed sync, shared with other callers, and none
    // when a sync already covered this job's writes.
    OPENBITS_RETURN_IF_ERROR(store_.SyncJobDurable(job.id));
    // Renames first, each stored before and after. A Complete interrupted here (a rename
    // failed, the daemon died) has deleted nothing, and when called again renames only the
    // files not delivered yet. The files go in batches that share their syncs (CommitTemps).
    std::vector<std::uint32_t> pending;
    for (std::uint32_t index = 0; index < job.files.size(); ++index) {
      const JobFile& file = job.files[index];
      if (file.completed && file.delivery != Delivery::kDone) pending.push_back(index);
    }
    std::size_t first = 0;
    while (first < pending.size()) {
      const std::size_t end = std::min(pending.size(), first + kCommitBatch);
      std::vector<LocalFileSystem::TempCommit> batch;
      const std::vector<std::uint32_t> indices(pending.begin() + first, pending.begin() + end);
      for (std::uint32_t index : indices) {
        const JobFile& file = job.files[index];
        batch.push_back({file.temp_path, file.local_path, file.remote_mtime_us, file.mode});
      }
      OPENBITS_RETURN_IF_ERROR(SetDelivery(job.id, indices, Delivery::kRenaming));
      // A batch stops at its first failure: the files after it are not renamed.
      const std::vector<Status> renamed = files_.CommitTemps(owner, batch);
      std::size_t next = end;
      std::vector<std::uint32_t> delivered;  // recorded together, before the loop leaves
      for (std::size_t i = first; i < end; ++i) {
        const std::uint32_t index = pending[i];
        const Status& result = renamed[i - first];
        if (result) {
          delivered.push_back(index);
          continue;
        }
        OPENBITS_RETURN_IF_ERROR(SetDelivery(job.id, delivered, Delivery::kDone));
        delivered.clear();
        const bool interrupted = job.files[index].delivery == Delivery::kRenaming;
        if (interrupted && (result.error().code() == hr::ERROR_PATH_NOT_FOUND ||
                            result.error().code() == hr::ERROR_FILE_NOT_FOUND)) {
          // The daemon died between this rename and its record: the temp file is in place.
          // The files after it in the batch were not tried: the next batch starts with them.
          Log()->info("job={} file={} was renamed before the interruption", job.id.ToString(),
                      index);
          OPENBITS_RETURN_IF_ERROR(SetDelivery(job.id, {index}, Delivery::kDone));
          next = i + 1;
          break;
        }
        // The temp files of this one and of those after it are still there.
        (void)SetDelivery(job.id,
                          std::vector<std::uint32_t>(pending.begin() + i, pending.begin() + end),
                          Delivery::kNone);
        return result.error();
      }
      // The last batch's deliveries are not recorded on their own when every file of it is in
      // place: the job's removal follows (EndJob) and records them. Should the daemon die
      // before it, each of these files is stored as being renamed with its temp file gone,
      // which Complete called again takes as delivered (above). One write fewer per job.
      const bool removal_follows = next == end && end == pending.size();
      OPENBITS_RETURN_IF_ERROR(
          SetDelivery(job.id, delivered, Delivery::kDone, /*record=*/!removal_follows));
      first = next;
    }
    bool partial = false;
    for (const JobFile& file : job.files) {
      if (file.completed) continue;
      partial = true;
      if (file.temp_path == file.local_path) continue;  // HIGH_PERFORMANCE keeps what it has
      if (auto removed = files_.Remove(owner, file.temp_path); !removed) {
        Log()->warn("Failed to delete temp file job={} file={}: {}", job.id.ToString(),
                    file.temp_path, removed.error().ToString());
      }
    }
    return partial ? hr::BG_S_PARTIAL_COMPLETE : hr::S_OK;
  });
}

Result<HRESULT> JobManager::EndJob(const Caller& caller, const Guid& id, JobEvent event,
                                   const std::function<Result<HRESULT>(const Job&)>& settle) {
  MutexLock lock(mutex_);
  Entry* entry = FindAccessible(caller, id);
  // One end at a time: a second Cancel or Complete waits for the first one's outcome.
  while (entry && entry->ending) {
    job_released_.Wait(mutex_);
    entry = FindAccessible(caller, id);
  }
  if (!entry) return JobNotFound(id);
  entry->ending = true;
  Hold(*entry);  // until the job is gone, or back as it was: no run may start meanwhile
  StopWorkerAndWait(id);
  const Job job = jobs_.at(id).job;  // held and ending: nobody else removes it
  lock.Unlock();

  // File operations run without the lock (they may be slow, and report back through it).
  const Result<HRESULT> settled = settle(job);

  lock.Lock();
  Entry& held = jobs_.at(id);
  held.ending = false;
  Release(id);
  Notifications notifications;
  Status ended = settled ? held.job.Apply(event, clock_.NowUs()) : Status(settled.error());
  if (ended) {
    RemoveJob(id, notifications);
  } else {
    // The job stays: what Complete delivered without recording it (SetDelivery) is recorded
    // now (the store writes what differs from what it holds).
    if (auto saved = store_.Save(held.job); !saved) {
      Log()->warn("Failed to record the deliveries of job={}: {}", id.ToString(),
                  saved.error().ToString());
    }
    if (held.job.state == JobState::kConnecting || held.job.state == JobState::kTransferring) {
      // Its run was stopped for nothing: queue it again, with what Complete delivered kept.
      (void)Transition(held, JobEvent::kYield, notifications);
    }
  }
  lock.Unlock();
  Dispatch(notifications);
  if (!ended) {
    Log()->warn("{} job={} failed, the job stays: {}", JobEventName(event), id.ToString(),
                ended.error().ToString());
    return ended.error();
  }
  Log()->info("{} job={}: {}", JobEventName(event), id.ToString(), FormatHresult(*settled));
  return settled;
}

Status JobManager::SetDelivery(const Guid& id, const std::vector<std::uint32_t>& indices,
                               Delivery delivery, bool record) {
  if (indices.empty()) return Ok();
  MutexLock lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return JobNotFound(id);
  std::vector<std::pair<std::uint32_t, JobFile>> files;
  files.reserve(indices.size());
  for (std::uint32_t index : indices) {
    JobFile& file = it->second.job.files.at(index);
    // Set before it is stored: even if the store fails now, a retry in this process knows.
    file.delivery = delivery;
    files.emplace_back(index, file);
  }
  if (!record) return Ok();
  return store_.SaveFilesProgress(id, files);
}

}  // namespace openbits::core
