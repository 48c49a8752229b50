// JobRun: the files of one job run in flight on the transfer engine (see job_run.h).
//
// Durability rule (DESIGN.md 5): bytes before bookkeeping. The sink fdatasyncs the temp file
// first and only then asks the manager to store the new offset, so a stored offset never
// points past bytes that could be lost. A finished file is synced once and recorded once.
#include "core/job_run.h"

#include <algorithm>

#include "core/core_log.h"

namespace openbits::core {
namespace {

using SteadyClock = std::chrono::steady_clock;
// Live progress (not durable) is published at most this often per file.
constexpr auto kProgressInterval = std::chrono::milliseconds(100);
// Ends of downloads that take longer than this each (the temp file's fdatasync on a disk, a
// durable sync of the store) are handled one per completion thread, so that they overlap;
// quicker ones (tmpfs, no FileTransferred) by one drainer, in batches, waking no thread per
// file.
constexpr auto kSlowEnd = std::chrono::microseconds(300);
constexpr std::uint32_t kQuickEndsToBatch = 64;
// A response of at most this many bytes is told to the manager with the file's end.
constexpr std::uint64_t kSmallFile = 256 * 1024;

}  // namespace

class JobRun::FileSink : public DownloadSink, public std::enable_shared_from_this<FileSink> {
 public:
  // budget: bytes this file may still take under MAX_DOWNLOAD_SIZE; periodic_checkpoints:
  // false for HIGH_PERFORMANCE jobs, which only record a file once it is complete.
  // ranges: the file's AddFileWithRanges ranges, or empty for the whole file.
  FileSink(JobRun& run, std::uint32_t index, TempFile& temp, std::uint64_t budget,
           bool periodic_checkpoints, std::vector<FileRange> ranges)
      : run_(run),
        ranges_(std::move(ranges)),
        index_(index),
        temp_(temp),
        budget_(budget),
        periodic_checkpoints_(periodic_checkpoints),
        written_(temp.size()),
        committed_(temp.size()) {}

  Status OnResponse(const DownloadResponse& remote) override {
    DownloadResponse response = remote;
    if (!ranges_.empty()) {
      // The file is the ranges, not the remote file: its size follows from both.
      auto size = RangesOutputSize(ranges_, remote.bytes_total);
      if (!size) return size.error();
      response.bytes_total = *size;
      response.restart_from_zero = false;
    }
    output_total_ = response.bytes_total;
    if (response.bytes_total != kSizeUnknown && response.bytes_total > budget_) {
      return OverBudget();
    }
    if (response.restart_from_zero) {
      WaitForCheckpoint();  // none may record an offset of the bytes cut off here
      OPENBITS_RETURN_IF_ERROR(temp_.Truncate(0));
      written_ = committed_ = 0;
    }
    // A small file's response is told to the manager with its end, on the completion pool,
    // not here on the engine's thread (which would take the manager's lock once more per
    // file). The run's first response goes at once: it moves the job to TRANSFERRING.
    if (ranges_.empty() && !response.restart_from_zero && response.bytes_total <= kSmallFile &&
        run_.responded_.load(std::memory_order_acquire)) {
      deferred_response_.emplace(std::move(response), written_);
      return Ok();
    }
    OPENBITS_RETURN_IF_ERROR(
        run_.reports_.OnResponse(run_.id_, run_.run_id_, index_, response, written_));
    run_.responded_.store(true, std::memory_order_release);
    return Ok();
  }

  // Tells the manager the response held back by OnResponse, if any: before anything that
  // reads the file's record there (progress, a checkpoint, the file's end).
  Status ReportResponse() {
    if (!deferred_response_) return Ok();
    auto [response, bytes_in_temp] = std::move(*deferred_response_);
    deferred_response_.reset();
    return run_.reports_.OnResponse(run_.id_, run_.run_id_, index_, response, bytes_in_temp);
  }

  Status OnData(const char* data, std::size_t length) override {
    if (written_ + length > budget_) return OverBudget();
    if (checkpoint_failed_.load(std::memory_order_acquire)) return CheckpointFailure();
    OPENBITS_RETURN_IF_ERROR(temp_.Append(data, length));
    written_ += length;
    const auto now = SteadyClock::now();
    if (deferred_response_ && (now - last_progress_ >= kProgressInterval ||
                               now - last_checkpoint_ >= run_.options_.checkpoint_interval)) {
      OPENBITS_RETURN_IF_ERROR(ReportResponse());
    }
    if (now - last_progress_ >= kProgressInterval) {
      last_progress_ = now;
      run_.reports_.OnProgress(run_.id_, run_.run_id_, index_, written_);
    }
    if (now - last_checkpoint_ >= run_.options_.checkpoint_interval) {
      if (periodic_checkpoints_ && run_.options_.completions) {
        last_checkpoint_ = now;
        CheckpointInBackground();
      } else if (periodic_checkpoints_) {
        OPENBITS_RETURN_IF_ERROR(Checkpoint());
      } else {
        // HIGH_PERFORMANCE records the file only once complete, but a helper user deleted
        // mid-file still ends the transfer made with its identity at the same moments.
        last_checkpoint_ = now;
        OPENBITS_RETURN_IF_ERROR(run_.reports_.CheckHelperIdentity(run_.id_, run_.run_id_));
      }
    }
    return Ok();
  }

  bool StopRequested() const override { return run_.stopping(); }

  void OnRemoteNameChanged(const std::string& url) override {
    run_.reports_.OnRemoteNameChanged(run_.id_, run_.run_id_, index_, url);
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
    OPENBITS_RETURN_IF_ERROR(run_.reports_.CheckHelperIdentity(run_.id_, run_.run_id_));
    if (written_ == committed_) return Ok();
    OPENBITS_RETURN_IF_ERROR(temp_.Sync());
    OPENBITS_RETURN_IF_ERROR(run_.reports_.OnCheckpoint(run_.id_, run_.run_id_, index_, written_));
    committed_ = written_;
    return Ok();
  }

  std::uint64_t written() const { return written_; }
  std::uint64_t output_total() const { return output_total_; }

  // The download's end, run now or, with a checkpoint in flight, once that one is done (so
  // that the end's own sync and record come after it, never before).
  void AfterCheckpoint(std::function<void()> end) EXCLUDES(checkpoint_mutex_) {
    {
      MutexLock lock(checkpoint_mutex_);
      if (checkpointing_) {
        after_checkpoint_ = std::move(end);
        return;
      }
    }
    end();
  }
  // Why a checkpoint made in the background failed (the download ends with it), if one did.
  std::optional<Error> checkpoint_failure() EXCLUDES(checkpoint_mutex_) {
    MutexLock lock(checkpoint_mutex_);
    return checkpoint_failure_;
  }

 private:
  // A periodic checkpoint of a long file on the completion pool: its fdatasync (as long as
  // the disk takes to write a second's bytes) and its store write would otherwise hold the
  // engine's thread, and every other transfer with it. The offset recorded is what was
  // written when it was asked for, made durable by the sync that follows; one at a time.
  void CheckpointInBackground() EXCLUDES(checkpoint_mutex_) {
    {
      MutexLock lock(checkpoint_mutex_);
      if (checkpointing_) return;  // the one in flight is still syncing: the next time
      checkpointing_ = true;
    }
    run_.options_.completions->Post([self = shared_from_this(), run = run_.shared_from_this(),
                                     target = written_] { self->RunCheckpoint(target); });
  }

  void RunCheckpoint(std::uint64_t target) EXCLUDES(checkpoint_mutex_) {
    Status status = run_.reports_.CheckHelperIdentity(run_.id_, run_.run_id_);
    // committed_ is the background's until checkpointing_ is cleared below.
    if (status && target > committed_) {
      status = temp_.Sync();
      if (status) status = run_.reports_.OnCheckpoint(run_.id_, run_.run_id_, index_, target);
      if (status) committed_ = target;
    }
    std::function<void()> end;
    {
      MutexLock lock(checkpoint_mutex_);
      checkpointing_ = false;
      if (!status) {
        checkpoint_failure_ = status.error();
        checkpoint_failed_.store(true, std::memory_order_release);
      }
      end.swap(after_checkpoint_);
    }
    checkpoint_done_.NotifyAll();
    if (end) end();
  }

  void WaitForCheckpoint() EXCLUDES(checkpoint_mutex_) {
    MutexLock lock(checkpoint_mutex_);
    while (checkpointing_) checkpoint_done_.Wait(checkpoint_mutex_);
  }

  Error CheckpointFailure() EXCLUDES(checkpoint_mutex_) {
    MutexLock lock(checkpoint_mutex_);
    return *checkpoint_failure_;
  }

  static Error OverBudget() {
    return Error(hr::BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED, ErrorContext::kRemoteFile,
                 "the download would exceed the job's MAX_DOWNLOAD_SIZE");
  }

  JobRun& run_;
  const std::vector<FileRange> ranges_;
  std::uint64_t output_total_ = kSizeUnknown;
  const std::uint32_t index_;
  TempFile& temp_;
  const std::uint64_t budget_;
  const bool periodic_checkpoints_;
  // The engine calls one download's sink one call at a time: no lock needed.
  std::uint64_t written_;
  std::uint64_t committed_;
  SteadyClock::time_point last_progress_ = SteadyClock::now();
  SteadyClock::time_point last_checkpoint_ = SteadyClock::now();
  std::chrono::seconds retry_after_{0};
  // OnResponse's response and the temp file's size then, until ReportResponse.
  std::optional<std::pair<DownloadResponse, std::uint64_t>> deferred_response_;
  // A checkpoint in the background (CheckpointInBackground): at most one in flight.
  Mutex checkpoint_mutex_;
  CondVar checkpoint_done_;
  bool checkpointing_ GUARDED_BY(checkpoint_mutex_) = false;
  std::optional<Error> checkpoint_failure_ GUARDED_BY(checkpoint_mutex_);
  std::atomic<bool> checkpoint_failed_{false};  // checkpoint_failure_ is set
  std::function<void()> after_checkpoint_ GUARDED_BY(checkpoint_mutex_);
};

JobRun::JobRun(Guid id, std::uint64_t run_id, std::shared_ptr<const RunControl> control,
               RunReports& reports, TransferEngine& engine, LocalFileSystem& files,
               RunOptions options)
    : id_(id),
      run_id_(run_id),
      control_(std::move(control)),
      reports_(reports),
      engine_(engine),
      files_(files),
      options_(std::move(options)) {}

void JobRun::Start() {
  Acquire();
  Fill();
  Release();
}

void JobRun::Stop() {
  std::vector<DownloadId> downloads;
  {
    MutexLock lock(mutex_);
    stop_ = true;
    for (const auto& [key, slot] : in_flight_) {
      if (slot.download) downloads.push_back(*slot.download);
    }
  }
  // A download whose id is not known yet is stopped by Launch once Start returns it; every
  // one also polls stopping() through its sink.
  for (DownloadId download : downloads) engine_.Stop(download);
}

void JobRun::Acquire() { pending_.fetch_add(1); }

void JobRun::Release() {
  if (pending_.fetch_sub(1) == 1) reports_.OnRunFinished(id_, run_id_);
}

void JobRun::Fill() {
  {
    MutexLock lock(mutex_);
    if (filling_) {
      fill_again_ = true;
      return;
    }
    filling_ = true;
  }
  for (;;) {
    FillOnce();
    MutexLock lock(mutex_);
    if (!fill_again_) {
      filling_ = false;
      return;
    }
    fill_again_ = false;
  }
}

void JobRun::FillOnce() {
  for (;;) {
    std::vector<std::uint32_t> busy;
    {
      MutexLock lock(mutex_);
      if (stopping() || in_flight_.size() >= parallel_files_) return;
      for (const auto& [key, slot] : in_flight_) busy.push_back(slot.index);
    }
    FileWork work;
    switch (reports_.NextFile(id_, run_id_, busy, std::nullopt, work)) {
      case NextFileAnswer::kWait:
        return;
      case NextFileAnswer::kEnd:
        Stop();  // nothing left for this run: whatever it still has in flight is stale
        return;
      case NextFileAnswer::kFile:
        break;
    }
    {
      MutexLock lock(mutex_);
      parallel_files_ = std::max<std::uint32_t>(work.parallel_files, 1);
    }
    Launch(std::move(work));
  }
}

void JobRun::Launch(FileWork work) {
  const std::uint32_t index = work.index;
  const JobFile& file = work.file;
  // The user database is asked without the manager's lock (NSS may be slow or remote).
  if (work.helper_uid && options_.user_exists && !options_.user_exists(*work.helper_uid)) {
    return Fail(Error(hr::BG_E_TOKEN_REQUIRED, ErrorContext::kGeneralQueueManager,
                      "the helper identity (uid " + std::to_string(*work.helper_uid) +
                          ") no longer exists: bind a new helper token or clear it"),
                std::nullopt);
  }
  // Whole bodies cannot resume: they start again from byte 0.
  auto temp = files_.OpenTemp(work.request.owner, file.temp_path,
                              work.whole_body ? 0 : file.bytes_committed);
  if (!temp) return Fail(temp.error(), index);
  DownloadRequest request = std::move(work.request);
  request.url = file.remote_url;
  request.whole_body = work.whole_body;
  // What the job puts on a connection (authentication, secrets) is never shared with another.
  request.connection_group = run_id_;
  const bool ranged = !file.ranges.empty();
  request.offset = (*temp)->size();
  // A temp file shorter than the committed offset (deleted or truncated behind our back)
  // cannot be trusted to match the old validators.
  if (request.offset == file.bytes_committed && request.offset > 0) {
    request.validators = file.validators;
    request.known_total = file.bytes_total;
  } else if (request.offset > 0) {
    request.offset = 0;
    if (auto truncated = (*temp)->Truncate(0); !truncated) return Fail(truncated.error(), index);
  }
  if (file.bytes_total != kSizeUnknown && request.offset == file.bytes_total &&
      file.bytes_total > 0) {
    // All bytes were already durable.
    if (auto done = reports_.OnFileCompleted(id_, run_id_, index, request.offset); !done) {
      Fail(done.error(), index);
    }
    return;
  }
  if (ranged) request.ranges = RemainingRanges(file.ranges, request.offset);
  Slot slot;
  slot.index = index;
  slot.ranged = ranged;
  slot.sink = std::make_shared<FileSink>(*this, index, **temp, work.budget, !work.high_performance,
                                         file.ranges);
  slot.written_before = slot.sink->written();
  slot.temp = std::move(*temp);
  std::shared_ptr<FileSink> sink = slot.sink;
  std::uint64_t key = 0;
  {
    MutexLock lock(mutex_);
    if (stopping()) return;  // the temp file stays as it is: nothing was written
    key = next_key_++;
    in_flight_.emplace(key, std::move(slot));
  }
  Acquire();
  // `done` keeps the run and the sink alive until the end was handled.
  const DownloadId download = engine_.Start(
      std::move(request), *sink, [self = shared_from_this(), key, sink](Status s) mutable {
        FileSink& ended = *sink;
        ended.AfterCheckpoint([self = std::move(self), key, sink = std::move(sink),
                               s = std::move(s)]() mutable { self->Ended(key, std::move(s)); });
      });
  bool stop_now = false;
  {
    MutexLock lock(mutex_);
    if (auto it = in_flight_.find(key); it != in_flight_.end()) {
      it->second.download = download;
      stop_now = stopping();  // Stop came between the insertion and now: it missed this one
    }
  }
  if (stop_now) engine_.Stop(download);
}

void JobRun::Ended(std::uint64_t key, Status downloaded) {
  TaskPool* pool = options_.completions;
  if (!pool) return OnDone(key, std::move(downloaded), /*record_now=*/true);
  bool post = false;
  {
    MutexLock lock(mutex_);
    ends_.emplace_back(key, std::move(downloaded));
    // Quick ends: the drainer at work takes this one too (no thread woken per file). Slow
    // ends (a disk's fdatasync): a drainer each, so that their syncs overlap.
    post = drainers_ == 0 || (slow_ends_ && drainers_ < kMaxDrainers);
    if (post) ++drainers_;
  }
  if (post) PostDrainer();
}

void JobRun::PostDrainer() {
  Acquire();
  options_.completions->Post([self = shared_from_this()] {
    self->Drain();
    self->Release();
  });
}

void JobRun::HandDrainingOn() {
  bool post = false;
  {
    MutexLock lock(mutex_);
    --drainers_;
    post = !ends_.empty();
    if (post) ++drainers_;
  }
  if (post) PostDrainer();
}

void JobRun::Drain() {
  for (;;) {
    std::vector<std::pair<std::uint64_t, Status>> taken;
    bool slow = false;
    bool post = false;
    {
      MutexLock lock(mutex_);
      if (ends_.empty()) {
        --drainers_;
        return;
      }
      slow = slow_ends_;
      if (slow) {
        taken.push_back(std::move(ends_.front()));
        ends_.pop_front();
        post = !ends_.empty() && drainers_ < kMaxDrainers;
        if (post) ++drainers_;
      } else {
        taken.assign(std::make_move_iterator(ends_.begin()), std::make_move_iterator(ends_.end()));
        ends_.clear();
      }
    }
    if (post) PostDrainer();
    // Quick ends: the files this pass completes are recorded together, once, at its end.
    auto longest = SteadyClock::duration::zero();
    for (auto& [key, downloaded] : taken) {
      const auto began = SteadyClock::now();
      OnDone(key, std::move(downloaded), slow);
      longest = std::max(longest, SteadyClock::now() - began);
    }
    bool record = false;
    {
      MutexLock lock(mutex_);
      // One slow end makes them all slow until kQuickEndsToBatch quick ones in a row: a disk
      // whose syncs are sometimes quick keeps them overlapping.
      if (longest > kSlowEnd) {
        slow_ends_ = true;
        quick_streak_ = 0;
      } else {
        quick_streak_ = static_cast<std::uint32_t>(
            std::min<std::size_t>(quick_streak_ + taken.size(), kQuickEndsToBatch));
        if (quick_streak_ == kQuickEndsToBatch) slow_ends_ = false;
      }
      if (!slow) {
        record = !recording_ && !to_record_.empty();  // else the record under way takes them
        if (record) recording_ = true;
      }
    }
    if (record) return RecordWaiting(/*as_drainer=*/true);
  }
}

void JobRun::OnDone(std::uint64_t key, Status downloaded, bool record_now) {
  Slot* slot = nullptr;
  {
    MutexLock lock(mutex_);
    slot = &in_flight_.at(key);  // stays until erased below, by this call only
  }
  FileSink& sink = *slot->sink;
  const std::uint32_t index = slot->index;
  // A checkpoint that failed in the background ends the download with its error, also when
  // the download ended before it could return it.
  if (auto failure = sink.checkpoint_failure(); failure && downloaded) downloaded = *failure;
  if (auto reported = sink.ReportResponse(); !reported && downloaded) downloaded = reported;
  const bool ranged = slot->ranged;
  const bool stopped = stopping();
  const bool file_done =
      downloaded && !stopped && (!ranged || sink.written() == sink.output_total());
  // Whatever arrived is kept, even when the download failed or was stopped. A finished file
  // is recorded once, complete (Complete): one fdatasync per file, one store write per batch
  // of files that end together.
  const Status checkpointed = file_done ? sink.Sync() : sink.Checkpoint();
  if (stopped) {
    // Stopped (by the manager, or by another file's failure): nothing to report but the bytes.
  } else if (!downloaded && ranged && downloaded.error().code() == hr::BG_E_REMOTE_FILE_CHANGED &&
             !restarted_changed_file_.exchange(true)) {
    // The ranges must all come from one version of the file: start this file again.
    reports_.OnFileRestart(id_, run_id_, index);
    Relaunch(key, index);
  } else if (!downloaded) {
    Fail(downloaded.error(), index, sink.retry_after());
  } else if (!checkpointed) {
    Fail(checkpointed.error(), index);
  } else if (ranged && sink.written() != sink.output_total()) {
    // The server sent only some of the ranges (a single-range answer to a multi-range
    // request): ask again for the rest, as long as it makes progress.
    if (sink.written() > slot->written_before) {
      Relaunch(key, index);
    } else {
      Fail(Error(hr::BG_E_INVALID_SERVER_RESPONSE, ErrorContext::kRemoteFile,
                 "the server sent none of the requested byte ranges"),
           index);
    }
  } else {
    return Complete(key, index, sink.written(), record_now);  // frees the slot once recorded
  }
  {
    MutexLock lock(mutex_);
    in_flight_.erase(key);  // closes the temp file
  }
  Fill();
  Release();
}

void JobRun::Complete(std::uint64_t key, std::uint32_t index, std::uint64_t bytes,
                      bool record_now) {
  {
    MutexLock lock(mutex_);
    to_record_.emplace_back(key, CompletedFile{index, bytes});
    if (!record_now) return;  // the caller records it with others (Drain)
    // The thread recording now takes this file with its next batch: when files end faster
    // than one store transaction, each transaction records several of them.
    if (recording_) return;
    recording_ = true;
  }
  RecordWaiting(false);
}

void JobRun::RecordWaiting(bool as_drainer) {
  for (;;) {
    std::vector<std::pair<std::uint64_t, CompletedFile>> batch;
    {
      MutexLock lock(mutex_);
      batch.swap(to_record_);
      if (batch.empty()) recording_ = false;
    }
    if (batch.empty()) {
      if (as_drainer) HandDrainingOn();  // (Drain hands over a batch, but never leak a drainer)
      return;
    }
    std::vector<CompletedFile> files;
    files.reserve(batch.size());
    for (const auto& [key, file] : batch) files.push_back(file);
    CompletionPromise promise;
    Status done = reports_.RecordFilesCompleted(id_, run_id_, files, promise);
    bool more = false;
    {
      MutexLock lock(mutex_);
      more = !to_record_.empty();
      recording_ = more;  // handed on with the files that came meanwhile
    }
    if (more && options_.completions) {
      // Another thread records them while this one waits for its batch's durable sync.
      Acquire();
      options_.completions->Post([self = shared_from_this()] {
        self->RecordWaiting(false);
        self->Release();
      });
      more = false;
    }
    if (as_drainer) {
      // The durable sync may wait: the ends that come meanwhile get a drainer of their own.
      as_drainer = false;
      HandDrainingOn();
    }
    if (done) done = reports_.PromiseFiles(id_, promise);
    if (!done) Fail(done.error(), files.front().index);
    {
      MutexLock lock(mutex_);
      for (const auto& [key, file] : batch) in_flight_.erase(key);  // closes the temp files
    }
    Fill();
    for (std::size_t i = 0; i < batch.size(); ++i) Release();
    if (!more) return;
  }
}

void JobRun::Relaunch(std::uint64_t key, std::uint32_t index) {
  std::vector<std::uint32_t> busy;
  {
    MutexLock lock(mutex_);
    if (stopping()) return;
    for (const auto& [other, slot] : in_flight_) {
      if (other != key) busy.push_back(slot.index);
    }
  }
  FileWork work;
  switch (reports_.NextFile(id_, run_id_, busy, index, work)) {
    case NextFileAnswer::kFile:
      return Launch(std::move(work));
    case NextFileAnswer::kWait:
      return;
    case NextFileAnswer::kEnd:
      return Stop();
  }
}

void JobRun::Fail(const Error& error, std::optional<std::uint32_t> index,
                  std::chrono::seconds retry_after) {
  if (stop_.exchange(true)) return;  // stopped already: by the manager, or a first failure
  // The failure first: the job's error names this file, not what stopping the others causes.
  reports_.OnRunFailed(id_, run_id_, error, index, retry_after);
  Stop();
}

}  // namespace openbits::core
