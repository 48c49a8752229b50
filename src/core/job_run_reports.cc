// JobManager's side of its runs (RunReports, core/job_run.h): the files a run fetches and
// what it reports back, each report applied only while its run is the job's current one.
#include <algorithm>

#include "core/core_log.h"
#include "core/error_policy.h"
#include "core/job_manager.h"

namespace openbits::core {

namespace {

// The identity of a job's network access: its owner's, or with BG_TOKEN_NETWORK the helper's.
// Then the owner's credential cache and NTLM user file, sent with its implicit credentials,
// are not used: the helper's logon credentials are.
NetworkIdentity NetworkIdentityOf(const Job& job, CredentialSet& credentials) {
  if (!job.helper.Lends(kTokenNetwork)) return {job.owner_uid, ""};
  CredentialSet lent;
  for (Credential credential : credentials.all()) {
    if (credential.implicit) {
      credential.credential_cache.clear();
      credential.ntlm_user_file.clear();
    }
    lent.Set(std::move(credential));
  }
  credentials = std::move(lent);
  return {job.helper.identity->uid, job.helper.identity->credential_cache};
}

}  // namespace

NextFileAnswer JobManager::NextFile(const Guid& id, std::uint64_t run_id,
                                    const std::vector<std::uint32_t>& busy,
                                    std::optional<std::uint32_t> again, FileWork& work) {
  Notifications notifications;
  std::optional<Error> unrecorded;  // the store could not record TRANSFERRED
  {
    MutexLock lock(mutex_);
    Entry* entry = FindRun(id, run_id);
    if (!entry) return NextFileAnswer::kEnd;
    const Job& job = entry->job;
    std::optional<std::uint32_t> next;
    if (again) {
      if (*again < job.files.size() && !job.files[*again].completed) next = again;
    } else {
      for (std::uint32_t i = FirstIncompleteFile(*entry); i < job.files.size(); ++i) {
        if (!job.files[i].completed && std::find(busy.begin(), busy.end(), i) == busy.end()) {
          next = i;
          break;
        }
      }
    }
    if (next) {
      const std::uint32_t index = *next;
      work.index = index;
      work.file = job.files[index];
      DownloadRequest& request = work.request;
      request.owner = FilesOwnerOf(job);
      request.security_flags = job.security_flags;
      request.custom_headers = job.custom_headers;
      request.http_method = job.http_method;
      request.client_certificate = job.client_certificate;
      request.credentials = job.credentials;
      request.proxy = job.proxy;
      request.proxy_environment = job.proxy_environment;
      request.network = NetworkIdentityOf(job, request.credentials);
      request.credentials.UseStored(job.helper.stored_credentials);
      work.whole_body = job.WholeBodies();
      work.high_performance = job.high_performance;
      if (job.helper.identity && job.helper.flags != 0) work.helper_uid = job.helper.identity->uid;
      // The job's OPENBITS_JOB_PROPERTY_PARALLEL_FILES, else the daemon's default; read at each
      // file start, so a change applies to the running run as its files finish.
      work.parallel_files = job.parallel_files != 0 ? job.parallel_files : options_.parallel_files;
      if (job.max_download_size != kNoMaxDownloadSize) {
        // The budget counts the other files' bytes, which must not grow meanwhile.
        work.parallel_files = 1;
        std::uint64_t others = 0;
        for (std::uint32_t i = 0; i < job.files.size(); ++i) {
          if (i != index) others += job.files[i].bytes_transferred;
        }
        work.budget = job.max_download_size > others ? job.max_download_size - others : 0;
      }
      return NextFileAnswer::kFile;
    }
    if (again || !busy.empty()) return NextFileAnswer::kWait;
    if (auto done = Transition(*entry, JobEvent::kAllTransferred, notifications); !done) {
      unrecorded = done.error();
    }
  }
  if (unrecorded) {
    OnRunFailed(id, run_id, *unrecorded, std::nullopt, std::chrono::seconds(0));
    return NextFileAnswer::kEnd;
  }
  Dispatch(notifications);
  return NextFileAnswer::kEnd;
}

JobManager::Entry* JobManager::FindRun(const Guid& id, std::uint64_t run_id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second.run_id != run_id || !it->second.control ||
      it->second.control->stop) {
    return nullptr;
  }
  return &it->second;
}

Status JobManager::OnResponse(const Guid& id, std::uint64_t run_id, std::uint32_t index,
                              const DownloadResponse& response, std::uint64_t bytes_in_temp) {
  Notifications notifications;
  {
    MutexLock lock(mutex_);
    // A stopped run's response is still taken in: the run may go on to record the bytes it
    // wrote (OnCheckpoint takes a stopped run's offset), and an offset is worth nothing
    // without the size and validators of the file it belongs to. A small file's response
    // reaches here only with the file's end (job_run.cc), often after a stop. A replaced
    // run's is not.
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.run_id != run_id) return Ok();
    Entry* entry = &it->second;
    const bool live = entry->control && !entry->control->stop;
    JobFile& file = entry->job.files[index];
    if (response.restart_from_zero) {
      Log()->info("Remote file changed, restarting job={} file={} from zero", id.ToString(), index);
      file.bytes_committed = 0;
    }
    file.bytes_total = response.bytes_total;
    file.validators = response.validators;
    file.remote_mtime_us = response.remote_mtime_us;
    file.response_headers = response.raw_headers;
    file.bytes_transferred = bytes_in_temp;
    // Not recorded: the run fails with the store's error (OnRunFailed).
    if (live && entry->job.state == JobState::kConnecting) {
      OPENBITS_RETURN_IF_ERROR(Transition(*entry, JobEvent::kConnected, notifications));
    } else if (response.restart_from_zero) {
      // The stored offset no longer matches the temp file: it goes before any new byte.
      OPENBITS_RETURN_IF_ERROR(store_.SaveFileProgress(id, index, file));
    }
    // Otherwise the size and validators are stored with the file's first checkpoint or its
    // completion, whichever comes first: one write per small file instead of two. Until
    // then the stored offset is the one this download resumed from, which a restart trusts
    // only with the validators stored with it.
  }
  Dispatch(notifications);
  return Ok();
}

void JobManager::OnProgress(const Guid& id, std::uint64_t run_id, std::uint32_t index,
                            std::uint64_t bytes) {
  Notifications notifications;
  {
    MutexLock lock(mutex_);
    Entry* entry = FindRun(id, run_id);
    if (!entry) return;
    entry->job.files[index].bytes_transferred = bytes;
    entry->job.last_progress_us = clock_.NowUs();
    NoteModification(*entry, /*immediately=*/false, notifications);
  }
  Dispatch(notifications);
}

Status JobManager::OnCheckpoint(const Guid& id, std::uint64_t run_id, std::uint32_t index,
                                std::uint64_t durable_bytes) {
  MutexLock lock(mutex_);
  // A stopped run may still record bytes it made durable; a replaced run may not.
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second.run_id != run_id) return Ok();
  Job& job = it->second.job;
  // The offset counts as committed only once the store holds it.
  JobFile file = job.files[index];
  file.bytes_committed = durable_bytes;
  file.bytes_transferred = std::max(file.bytes_transferred, durable_bytes);
  OPENBITS_RETURN_IF_ERROR(store_.SaveFileProgress(id, index, file));
  job.files[index] = std::move(file);
  job.last_progress_us = clock_.NowUs();
  return Ok();
}

Status JobManager::RecordFilesCompleted(const Guid& id, std::uint64_t run_id,
                                        const std::vector<CompletedFile>& completed,
                                        CompletionPromise& promise) {
  Notifications notifications;
  {
    MutexLock lock(mutex_);
    Entry* entry = FindRun(id, run_id);
    if (!entry) return Ok();
    Job& job = entry->job;
    // Complete only once the store holds it: a job never reaches TRANSFERRED on a file whose
    // completion was not recorded. The files of a batch go in one transaction, all or none.
    std::vector<std::pair<std::uint32_t, JobFile>> files;
    files.reserve(completed.size());
    for (const CompletedFile& done : completed) {
      JobFile file = job.files[done.index];
      file.completed = true;
      file.bytes_committed = file.bytes_transferred = done.bytes;
      if (file.bytes_total == kSizeUnknown) file.bytes_total = done.bytes;
      files.emplace_back(done.index, std::move(file));
    }
    if (files.size() == 1) {
      OPENBITS_RETURN_IF_ERROR(store_.SaveFileProgress(id, files[0].first, files[0].second));
    } else {
      OPENBITS_RETURN_IF_ERROR(store_.SaveFilesProgress(id, files));
    }
    for (auto& [index, file] : files) {
      job.files[index] = std::move(file);
      Log()->debug("Transferred job={} file={} bytes={}", id.ToString(), index,
                   job.files[index].bytes_transferred);
      if (job.Notifies(kNotifyFileTransferred)) entry->unsignalled.insert(index);
    }
    job.last_progress_us = clock_.NowUs();
    if (job.Notifies(kNotifyFileTransferred)) {
      promise.signals = TakeSignallableFiles(*entry);
      promise.owner = job.owner_uid;
    }
    NoteModification(*entry, /*immediately=*/false, notifications);
    if (!promise.signals.empty()) promise.ticket = next_signal_ticket_++;
  }
  Dispatch(notifications);
  return Ok();
}

Status JobManager::PromiseFiles(const Guid& id, const CompletionPromise& promise) {
  if (promise.signals.empty()) return Ok();
  std::vector<std::uint32_t> signals = promise.signals;
  // FileTransferred promises the file: its completion must survive a power loss first. The
  // store may make one sync of the completions of many files (group commit), so the syncs of
  // several runs' threads overlap; the signals then go out in the order of their tickets.
  Status durable = store_.SyncDurable();
  MutexLock lock(mutex_);
  while (signal_turn_ != promise.ticket) signal_turn_changed_.Wait(mutex_);
  if (durable) {
    // An earlier ticket whose sync failed put its files back (below ours: they were complete
    // when we took ours). Their records came before this sync, so it made them durable too:
    // they go first, or FileTransferred would skip ahead of them.
    if (auto it = jobs_.find(id); it != jobs_.end()) {
      auto& unsignalled = it->second.unsignalled;
      const auto below = unsignalled.lower_bound(signals.back());
      signals.insert(signals.begin(), unsignalled.begin(), below);
      unsignalled.erase(unsignalled.begin(), below);
      std::sort(signals.begin(), signals.end());
    }
    lock.Unlock();
    for (std::uint32_t file : signals) events_.FileTransferred(id, promise.owner, file);
    lock.Lock();
  } else {
    Log()->error("Failed to make the completion of job={} files {}-{} durable: {}", id.ToString(),
                 signals.front(), signals.back(), durable.error().ToString());
    // Not promised yet: signalled after a later completion of the job makes it durable.
    if (auto it = jobs_.find(id); it != jobs_.end()) {
      it->second.unsignalled.insert(signals.begin(), signals.end());
    }
  }
  ++signal_turn_;
  signal_turn_changed_.NotifyAll();
  return durable;
}

std::uint32_t JobManager::FirstIncompleteFile(Entry& entry) {
  const std::vector<JobFile>& files = entry.job.files;
  std::uint32_t& i = entry.complete_below;
  if (i > files.size()) i = 0;  // files were removed: look again from the start
  while (i < files.size() && files[i].completed) ++i;
  return i;
}

std::vector<std::uint32_t> JobManager::TakeSignallableFiles(Entry& entry) {
  // Files below the first incomplete one are all complete: their signals may go, in order.
  const std::uint32_t first_incomplete = FirstIncompleteFile(entry);
  std::vector<std::uint32_t> ready;
  while (!entry.unsignalled.empty() && *entry.unsignalled.begin() < first_incomplete) {
    ready.push_back(*entry.unsignalled.begin());
    entry.unsignalled.erase(entry.unsignalled.begin());
  }
  return ready;
}

void JobManager::OnRunFailed(const Guid& id, std::uint64_t run_id, const Error& error,
                             std::optional<std::uint32_t> file_index,
                             std::chrono::seconds retry_after) {
  Notifications notifications;
  {
    MutexLock lock(mutex_);
    Entry* entry = FindRun(id, run_id);
    if (!entry) return;
    Job& job = entry->job;
    const std::int64_t now = clock_.NowUs();
    ++job.error_count;
    job.error = JobError{error.code(), error.context(), file_index, error.message()};
    // A job with a custom HTTP method cannot resume, so BITS makes every error fatal.
    const bool transient = IsTransientError(error.code()) && job.http_method.empty();
    const std::int64_t no_progress_deadline =
        job.last_progress_us + std::int64_t{job.no_progress_timeout_s} * 1'000'000;
    // Retry-After counts when it asks for longer than the minimum retry delay.
    const std::int64_t delay_s =
        std::max<std::int64_t>(job.minimum_retry_delay_s, retry_after.count());
    const std::int64_t retry_at = now + delay_s * 1'000'000;
    Log()->warn("Failed to transfer job={} file={}: {} ({})", id.ToString(),
                file_index ? std::to_string(*file_index) : "-", error.ToString(),
                transient ? "transient" : "fatal");
    if (transient && retry_at < no_progress_deadline) {
      // Job::Apply keeps `error` and `retry_at_us` in TRANSIENT_ERROR.
      job.retry_at_us = retry_at;
      TransitionOrWait(*entry, JobEvent::kTransientError, notifications);
    } else {
      TransitionOrWait(*entry, JobEvent::kFatalError, notifications);
    }
  }
  scheduler_wakeup_.NotifyAll();
  Dispatch(notifications);
}

void JobManager::OnRemoteNameChanged(const Guid& id, std::uint64_t run_id, std::uint32_t index,
                                     const std::string& url) {
  MutexLock lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second.run_id != run_id) return;
  Log()->info("job={} file={} now at {} (redirect policy)", id.ToString(), index,
              log::RedactUrl(url));
  it->second.job.files[index].remote_url = url;
  if (auto saved = store_.Save(it->second.job); !saved) {
    Log()->error("Failed to record the new URL of job={}: {}", id.ToString(),
                 saved.error().ToString());
  }
}

void JobManager::OnFileRestart(const Guid& id, std::uint64_t run_id, std::uint32_t index) {
  MutexLock lock(mutex_);
  Entry* entry = FindRun(id, run_id);
  if (!entry) return;
  JobFile& file = entry->job.files[index];
  Log()->info("Remote file changed, restarting job={} file={} from zero", id.ToString(), index);
  file.bytes_committed = file.bytes_transferred = 0;
  file.bytes_total = kSizeUnknown;
  file.validators = {};
  // Unrecorded, the old offset stays in the store with a temp file now shorter than it, which a
  // restart does not trust: the file starts from zero either way.
  if (auto saved = store_.Save(entry->job); !saved) {
    Log()->error("Failed to record the restart of job={}: {}", id.ToString(),
                 saved.error().ToString());
  }
}

void JobManager::OnRunFinished(const Guid& id, std::uint64_t run_id) {
  {
    MutexLock lock(mutex_);
    auto it = jobs_.find(id);
    if (it != jobs_.end() && it->second.run_id == run_id) {
      Entry& entry = it->second;
      entry.worker_running = false;
      entry.control.reset();
      // The run's last reference may be the engine's callback: it needs nothing of ours.
      entry.run.reset();
      Reindex(entry);  // no run any more: the job may be queued and started again
      // MaxDownloadTime counts only the time spent transferring.
      CountFinishedRunTime(entry);
    }
  }
  job_released_.NotifyAll();
  scheduler_wakeup_.NotifyAll();
}

}  // namespace openbits::core
