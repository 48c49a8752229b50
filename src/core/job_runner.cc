// The transfer thread of one job run, and the reports it sends back to JobManager.
//
// Durability rule (DESIGN.md 5): bytes before bookkeeping. The sink fdatasyncs the temp file
// first and only then asks JobManager to store the new offset, so a stored offset never
// points past bytes that could be lost.
#include <chrono>

#include "core/core_log.h"
#include "core/error_policy.h"
#include "core/job_manager.h"

namespace openbits::core {
namespace {

using SteadyClock = std::chrono::steady_clock;
// Live progress (not durable) is published at most this often.
constexpr auto kProgressInterval = std::chrono::milliseconds(100);

}  // namespace

class JobManager::FileSink : public DownloadSink {
 public:
  // budget: bytes this file may still take under MAX_DOWNLOAD_SIZE; periodic_checkpoints:
  // false for HIGH_PERFORMANCE jobs, which only record a file once it is complete.
  // ranges: the file's AddFileWithRanges ranges, or null for the whole file.
  FileSink(JobManager& manager, Guid id, std::uint64_t run_id, std::uint32_t index, TempFile& temp,
           const RunControl& control, std::uint64_t budget, bool periodic_checkpoints,
           const std::vector<FileRange>* ranges)
      : manager_(manager),
        ranges_(ranges),
        id_(id),
        run_id_(run_id),
        index_(index),
        temp_(temp),
        control_(control),
        budget_(budget),
        periodic_checkpoints_(periodic_checkpoints),
        written_(temp.size()),
        committed_(temp.size()) {}

  Status OnResponse(const DownloadResponse& remote) override {
    DownloadResponse response = remote;
    if (ranges_) {
      // The file is the ranges, not the remote file: its size follows from both.
      auto size = RangesOutputSize(*ranges_, remote.bytes_total);
      if (!size) return size.error();
      response.bytes_total = *size;
      response.restart_from_zero = false;
    }
    output_total_ = response.bytes_total;
    if (response.bytes_total != kSizeUnknown && response.bytes_total > budget_) {
      return OverBudget();
    }
    if (response.restart_from_zero) {
      OPENBITS_RETURN_IF_ERROR(temp_.Truncate(0));
      written_ = committed_ = 0;
    }
    return manager_.OnResponse(id_, run_id_, index_, response, written_);
  }

  Status OnData(const char* data, std::size_t length) override {
    if (written_ + length > budget_) return OverBudget();
    OPENBITS_RETURN_IF_ERROR(temp_.Append(data, length));
    written_ += length;
    const auto now = SteadyClock::now();
    if (now - last_progress_ >= kProgressInterval) {
      last_progress_ = now;
      manager_.OnProgress(id_, run_id_, index_, written_);
    }
    if (periodic_checkpoints_ && now - last_checkpoint_ >= manager_.options_.checkpoint_interval) {
      OPENBITS_RETURN_IF_ERROR(Checkpoint());
    }
    return Ok();
  }

  bool StopRequested() const override { return control_.stop.load(std::memory_order_relaxed); }

  void OnRemoteNameChanged(const std::string& url) override {
    manager_.OnRemoteNameChanged(id_, run_id_, index_, url);
  }

  void OnRetryAfter(std::chrono::seconds delay) override { retry_after_ = delay; }
  std::chrono::seconds retry_after() const { return retry_after_; }

  // Makes everything written so far durable without recording it (the caller records it).
  Status Sync() {
    if (written_ == committed_) return Ok();
    OPENBITS_RETURN_IF_ERROR(temp_.Sync());
    committed_ = written_;
    return Ok();
  }

  // Makes everything written so far durable, then records the offset.
  Status Checkpoint() {
    last_checkpoint_ = SteadyClock::now();
    OPENBITS_RETURN_IF_ERROR(manager_.CheckHelperIdentity(id_, run_id_));
    if (written_ == committed_) return Ok();
    OPENBITS_RETURN_IF_ERROR(temp_.Sync());
    OPENBITS_RETURN_IF_ERROR(manager_.OnCheckpoint(id_, run_id_, index_, written_));
    committed_ = written_;
    return Ok();
  }

  std::uint64_t written() const { return written_; }
  std::uint64_t output_total() const { return output_total_; }

 private:
  static Error OverBudget() {
    return Error(hr::BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED, ErrorContext::kRemoteFile,
                 "the download would exceed the job's MAX_DOWNLOAD_SIZE");
  }

  JobManager& manager_;
  const std::vector<FileRange>* ranges_;
  std::uint64_t output_total_ = kSizeUnknown;
  const Guid id_;
  const std::uint64_t run_id_;
  const std::uint32_t index_;
  TempFile& temp_;
  const RunControl& control_;
  const std::uint64_t budget_;
  const bool periodic_checkpoints_;
  std::uint64_t written_;
  std::uint64_t committed_;
  SteadyClock::time_point last_progress_ = SteadyClock::now();
  SteadyClock::time_point last_checkpoint_ = SteadyClock::now();
  std::chrono::seconds retry_after_{0};
};

// The identity of a job's network access: its owner's, or with BG_TOKEN_NETWORK the helper's.
// Then the owner's credential cache and NTLM user file, sent with its implicit credentials,
// are not used: the helper's logon credentials are.
static NetworkIdentity NetworkIdentityOf(const Job& job, CredentialSet& credentials) {
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

void JobManager::RunJob(Guid id, std::uint64_t run_id, std::shared_ptr<RunControl> control) {
  std::unique_ptr<TransferSession> session = transport_.OpenSession();
  bool restarted_changed_file = false;  // at most one restart per run for a changed file
  while (!control->stop) {
    std::uint32_t index = 0;
    JobFile file;
    FileOwner owner;
    NetworkIdentity network;
    std::optional<std::uint32_t> helper_uid;  // a helper identity this run acts as
    std::uint32_t security_flags = 0;
    SecretString custom_headers;
    bool whole_body = false, high_performance = false;
    std::string http_method;
    std::optional<ClientCertificateRef> client_certificate;
    CredentialSet credentials;
    ProxySettings proxy;
    ProxyEnvironment proxy_environment;
    std::uint64_t budget = kNoMaxDownloadSize;
    bool all_transferred = false;
    std::optional<Error> unrecorded;  // the store could not record TRANSFERRED
    Notifications notifications;
    {
      MutexLock lock(mutex_);
      Entry* entry = FindRun(id, run_id);
      if (!entry) break;
      if (auto next = entry->job.NextIncompleteFile()) {
        index = *next;
        file = entry->job.files[index];
        owner = FilesOwnerOf(entry->job);
        const Job& job = entry->job;
        security_flags = job.security_flags;
        custom_headers = job.custom_headers;
        whole_body = job.WholeBodies();
        high_performance = job.high_performance;
        http_method = job.http_method;
        client_certificate = job.client_certificate;
        credentials = job.credentials;
        proxy = job.proxy;
        proxy_environment = job.proxy_environment;
        network = NetworkIdentityOf(job, credentials);
        credentials.UseStored(job.helper.stored_credentials);
        if (job.helper.identity && job.helper.flags != 0) helper_uid = job.helper.identity->uid;
        if (job.max_download_size != kNoMaxDownloadSize) {
          std::uint64_t others = 0;
          for (std::uint32_t i = 0; i < job.files.size(); ++i) {
            if (i != index) others += job.files[i].bytes_transferred;
          }
          budget = job.max_download_size > others ? job.max_download_size - others : 0;
        }
      } else {
        all_transferred = true;
        if (auto done = Transition(*entry, JobEvent::kAllTransferred, notifications); !done) {
          unrecorded = done.error();
        }
      }
    }
    if (unrecorded) {
      OnRunFailed(id, run_id, *unrecorded, std::nullopt);
      break;
    }
    if (all_transferred) {
      Dispatch(notifications);
      break;
    }

    // The user database is asked without the lock (NSS may be slow or remote).
    if (helper_uid && options_.user_exists && !options_.user_exists(*helper_uid)) {
      OnRunFailed(id, run_id,
                  Error(hr::BG_E_TOKEN_REQUIRED, ErrorContext::kGeneralQueueManager,
                        "the helper identity (uid " + std::to_string(*helper_uid) +
                            ") no longer exists: bind a new helper token or clear it"),
                  std::nullopt);
      break;
    }
    // Whole bodies cannot resume: they start again from byte 0.
    auto temp = files_.OpenTemp(owner, file.temp_path, whole_body ? 0 : file.bytes_committed);
    if (!temp) {
      OnRunFailed(id, run_id, temp.error(), index);
      break;
    }
    DownloadRequest request;
    request.url = file.remote_url;
    request.security_flags = security_flags;
    request.custom_headers = custom_headers;
    request.whole_body = whole_body;
    request.http_method = http_method;
    request.owner = owner;
    request.network = network;
    request.client_certificate = client_certificate;
    request.credentials = credentials;
    request.proxy = proxy;
    request.proxy_environment = proxy_environment;
    const bool ranged = !file.ranges.empty();
    request.offset = (*temp)->size();
    // A temp file shorter than the committed offset (deleted or truncated behind our back)
    // cannot be trusted to match the old validators.
    if (request.offset == file.bytes_committed && request.offset > 0) {
      request.validators = file.validators;
      request.known_total = file.bytes_total;
    } else if (request.offset > 0) {
      request.offset = 0;
      if (auto truncated = (*temp)->Truncate(0); !truncated) {
        OnRunFailed(id, run_id, truncated.error(), index);
        break;
      }
    }
    FileSink sink(*this, id, run_id, index, **temp, *control, budget, !high_performance,
                  ranged ? &file.ranges : nullptr);
    if (file.bytes_total != kSizeUnknown && request.offset == file.bytes_total &&
        file.bytes_total > 0) {
      // All bytes were already durable.
      if (auto done = OnFileCompleted(id, run_id, index, request.offset); !done) {
        OnRunFailed(id, run_id, done.error(), index);
        break;
      }
      continue;
    }
    if (ranged) request.ranges = RemainingRanges(file.ranges, request.offset);
    const std::uint64_t written_before = sink.written();
    Status downloaded = session->Download(request, sink);
    const bool file_done =
        downloaded && !control->stop && (!ranged || sink.written() == sink.output_total());
    // Whatever arrived is kept, even when the download failed or was stopped. A finished file
    // is recorded once, complete, by OnFileCompleted: one write per file.
    Status checkpointed = file_done ? sink.Sync() : sink.Checkpoint();
    if (control->stop) break;
    if (!downloaded && ranged && downloaded.error().code() == hr::BG_E_REMOTE_FILE_CHANGED &&
        !restarted_changed_file) {
      // The ranges must all come from one version of the file: start this file again.
      restarted_changed_file = true;
      OnFileRestart(id, run_id, index);
      continue;
    }
    if (!downloaded) {
      OnRunFailed(id, run_id, downloaded.error(), index, sink.retry_after());
      break;
    }
    if (!checkpointed) {
      OnRunFailed(id, run_id, checkpointed.error(), index);
      break;
    }
    if (ranged && sink.written() != sink.output_total()) {
      // The server sent only some of the ranges (a single-range answer to a multi-range
      // request): ask again for the rest, as long as it makes progress.
      if (sink.written() > written_before) continue;
      OnRunFailed(id, run_id,
                  Error(hr::BG_E_INVALID_SERVER_RESPONSE, ErrorContext::kRemoteFile,
                        "the server sent none of the requested byte ranges"),
                  index);
      break;
    }
    if (auto done = OnFileCompleted(id, run_id, index, sink.written()); !done) {
      OnRunFailed(id, run_id, done.error(), index);
      break;
    }
  }
  OnRunFinished(id, run_id);
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
    Entry* entry = FindRun(id, run_id);
    if (!entry) return Ok();
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
    if (entry->job.state == JobState::kConnecting) {
      OPENBITS_RETURN_IF_ERROR(Transition(*entry, JobEvent::kConnected, notifications));
    } else {
      OPENBITS_RETURN_IF_ERROR(store_.SaveFileProgress(id, index, file));
    }
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

Status JobManager::OnFileCompleted(const Guid& id, std::uint64_t run_id, std::uint32_t index,
                                   std::uint64_t bytes) {
  Notifications notifications;
  {
    MutexLock lock(mutex_);
    Entry* entry = FindRun(id, run_id);
    if (!entry) return Ok();
    Job& job = entry->job;
    // Complete only once the store holds it: a job never reaches TRANSFERRED on a file whose
    // completion was not recorded.
    JobFile file = job.files[index];
    file.completed = true;
    file.bytes_committed = file.bytes_transferred = bytes;
    if (file.bytes_total == kSizeUnknown) file.bytes_total = bytes;
    OPENBITS_RETURN_IF_ERROR(store_.SaveFileProgress(id, index, file));
    job.files[index] = std::move(file);
    job.last_progress_us = clock_.NowUs();
    Log()->info("Transferred job={} file={} bytes={}", id.ToString(), index, bytes);
    if (job.Notifies(kNotifyFileTransferred)) {
      notifications.push_back(
          [this, id, owner = job.owner_uid, index] { events_.FileTransferred(id, owner, index); });
    }
    NoteModification(*entry, /*immediately=*/false, notifications);
  }
  Dispatch(notifications);
  return Ok();
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
      // This thread is done with the manager after this report: the scheduler joins it.
      if (entry.worker.joinable()) retired_workers_.push_back(std::move(entry.worker));
      // MaxDownloadTime counts only the time spent transferring.
      entry.job.transfer_time_us += clock_.NowUs() - entry.run_started_us;
      if (auto saved = store_.Save(entry.job); !saved) {
        Log()->error("Failed to record the transfer time of job={}: {}", id.ToString(),
                     saved.error().ToString());
      }
    }
  }
  job_released_.NotifyAll();
  scheduler_wakeup_.NotifyAll();
}

}  // namespace openbits::core
