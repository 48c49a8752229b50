// JobRun: one running job's transfer state. The manager owns the job (its state, its files'
// records); a run owns what is in flight: the files it fetches (up to the job's
// parallel_files at once), their temp files and sinks, the engine's downloads. It asks the
// engine and hears back through the sinks and `done` callbacks, on engine threads; it never
// waits for the network and has no thread of its own.
//
// The end of a download is handled on RunOptions::completions, off the engine's threads: the
// ends queue for a drainer there (one takes quick ends in batches, waking no thread per file;
// slow ones, a disk's fdatasync, get one each), and the completed files of a batch are
// recorded in one store write. A long file's periodic checkpoint runs there too, and a small
// file's response reaches the manager from there, with its end.
//
// It reports to the manager through RunReports, each report tagged with the run id (a stale
// run's reports are ignored there). Lock order: the manager may call Stop with its lock held
// (manager -> run -> engine); the run makes no report while holding its own lock, so a report
// never waits behind a lock the manager might be waiting for.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "base/mutex.h"
#include "core/job.h"
#include "core/ports.h"
#include "core/task_pool.h"

namespace openbits::core {

// What a run needs to fetch one file, taken from the job under the manager's lock.
struct FileWork {
  std::uint32_t index = 0;
  JobFile file;
  // The job-wide fields of the request (security flags, headers, credentials, proxy, owner,
  // network identity, method); the run adds the URL, offset, validators and ranges.
  DownloadRequest request;
  bool whole_body = false;
  bool high_performance = false;
  // Bytes this file may still take under MAX_DOWNLOAD_SIZE.
  std::uint64_t budget = kNoMaxDownloadSize;
  // A helper identity the run acts as: checked to still exist before the file starts.
  std::optional<std::uint32_t> helper_uid;
  // How many files of the job may be in flight at once.
  std::uint32_t parallel_files = 1;
};

enum class NextFileAnswer {
  kFile,  // `work` holds the next file
  kWait,  // every incomplete file is already in flight
  kEnd,   // nothing more for this run: the job is transferred (the manager moved it on),
          // the run is stale, or the manager recorded a failure
};

// A file whose bytes are all durable in its temp file.
struct CompletedFile {
  std::uint32_t index = 0;
  std::uint64_t bytes = 0;
};

// What the manager owes a batch of recorded completions (RunReports::PromiseFiles): the
// FileTransferred signals that may go once the records are durable, in the turn of `ticket`.
struct CompletionPromise {
  std::vector<std::uint32_t> signals;
  std::uint32_t owner = 0;
  std::uint64_t ticket = 0;
};

// The manager's side of a run. Every call is made without any lock of the run's.
class RunReports {
 public:
  virtual ~RunReports() = default;
  // The lowest incomplete file not in `busy`, or with `again` that file (a ranged file asked
  // again for its remaining ranges, or restarted). With nothing left and `busy` empty the
  // manager moves the job to TRANSFERRED (or records why it could not) and answers kEnd.
  virtual NextFileAnswer NextFile(const Guid& id, std::uint64_t run_id,
                                  const std::vector<std::uint32_t>& busy,
                                  std::optional<std::uint32_t> again, FileWork& work) = 0;
  // The response's headers were accepted; bytes_in_temp: what the temp file holds now.
  virtual Status OnResponse(const Guid& id, std::uint64_t run_id, std::uint32_t index,
                            const DownloadResponse& response, std::uint64_t bytes_in_temp) = 0;
  virtual void OnProgress(const Guid& id, std::uint64_t run_id, std::uint32_t index,
                          std::uint64_t bytes) = 0;
  // REQUIRES: the temp file is durable up to durable_bytes. Recorded for a stopped run too.
  virtual Status OnCheckpoint(const Guid& id, std::uint64_t run_id, std::uint32_t index,
                              std::uint64_t durable_bytes) = 0;
  // BG_E_TOKEN_REQUIRED when the run acts as a helper identity whose user no longer exists;
  // asked at every checkpoint (a helper deleted mid-file).
  virtual Status CheckHelperIdentity(const Guid& id, std::uint64_t run_id) = 0;
  // The end of files, in two steps so that the completions of files ending together share
  // one store transaction while their durable syncs still overlap those of other batches.
  // RecordFilesCompleted: REQUIRES each temp file durable and complete; records them all or
  // none (an error: none is complete) and fills `promise` with what PromiseFiles keeps.
  // PromiseFiles: makes the records durable when a FileTransferred depends on it, then
  // signals it (in file order over every batch); an error when the durable sync failed.
  virtual Status RecordFilesCompleted(const Guid& id, std::uint64_t run_id,
                                      const std::vector<CompletedFile>& files,
                                      CompletionPromise& promise) = 0;
  virtual Status PromiseFiles(const Guid& id, const CompletionPromise& promise) = 0;
  // One file: both steps.
  Status OnFileCompleted(const Guid& id, std::uint64_t run_id, std::uint32_t index,
                         std::uint64_t bytes) {
    CompletionPromise promise;
    OPENBITS_RETURN_IF_ERROR(RecordFilesCompleted(id, run_id, {{index, bytes}}, promise));
    return PromiseFiles(id, promise);
  }
  virtual void OnRunFailed(const Guid& id, std::uint64_t run_id, const Error& error,
                           std::optional<std::uint32_t> file_index,
                           std::chrono::seconds retry_after) = 0;
  virtual void OnRemoteNameChanged(const Guid& id, std::uint64_t run_id, std::uint32_t index,
                                   const std::string& url) = 0;
  // The file starts again from byte 0 (its remote file changed under a ranged download).
  virtual void OnFileRestart(const Guid& id, std::uint64_t run_id, std::uint32_t index) = 0;
  // The run's last report: every download it started is done.
  virtual void OnRunFinished(const Guid& id, std::uint64_t run_id) = 0;
};

// The manager's stop flag of a run (pre-emption, Suspend, Cancel, a time limit): set under
// the manager's lock, read by the run and its sinks without it.
struct RunControl {
  std::atomic<bool> stop{false};
};

struct RunOptions {
  // How often a transferring file is made durable and its offset recorded.
  std::chrono::milliseconds checkpoint_interval{1000};
  // Whether a uid still names a user; empty: every uid does.
  std::function<bool(std::uint32_t)> user_exists;
  // Where the end of each download is handled (the temp file's sync, the file's record, the
  // next file's start): never on the engine's thread, which would stall every other
  // transfer meanwhile. Null: on whichever thread the engine calls `done` (tests).
  TaskPool* completions = nullptr;
};

class JobRun : public std::enable_shared_from_this<JobRun> {
 public:
  JobRun(Guid id, std::uint64_t run_id, std::shared_ptr<const RunControl> control,
         RunReports& reports, TransferEngine& engine, LocalFileSystem& files, RunOptions options);
  JobRun(const JobRun&) = delete;
  JobRun& operator=(const JobRun&) = delete;

  // Starts the first files. Call without the manager's lock (the run asks it for files).
  // Exactly one OnRunFinished follows, also when Stop came first.
  void Start() EXCLUDES(mutex_);
  // Asks every download in flight to stop (each checkpoints what it has); starts no more.
  // Any thread, also with the manager's lock held.
  void Stop() EXCLUDES(mutex_);
  // Stopped by Stop, by the manager's flag, or by a failure of one of its files.
  bool stopping() const {
    return stop_.load(std::memory_order_relaxed) || control_->stop.load(std::memory_order_relaxed);
  }

 private:
  class FileSink;
  struct Slot {
    std::uint32_t index = 0;
    std::unique_ptr<TempFile> temp;
    std::shared_ptr<FileSink> sink;
    bool ranged = false;
    std::uint64_t written_before = 0;
    std::optional<DownloadId> download;  // once Start returned
  };

  // Starts files until parallel_files are in flight or none is left. One caller at a time
  // does the work; a concurrent call makes it look again.
  void Fill() EXCLUDES(mutex_);
  void FillOnce() EXCLUDES(mutex_);
  // Opens the file's temp file and starts its download (or records it complete when all its
  // bytes are already durable).
  void Launch(FileWork work) EXCLUDES(mutex_);
  // A download ended (from the engine's thread): its end is queued for a drainer on the
  // completion pool, or handled at once without one.
  void Ended(std::uint64_t key, Status downloaded) EXCLUDES(mutex_);
  // On the completion pool: handles the queued ends (Drain's comment in job_run.cc).
  void Drain() EXCLUDES(mutex_);
  // Posts a drainer that the caller counted in drainers_ (the run stays alive until it ends).
  void PostDrainer() EXCLUDES(mutex_);
  // This thread stops being a drainer; ends queued meanwhile get a drainer of their own.
  void HandDrainingOn() EXCLUDES(mutex_);
  // record_now: false when the caller records the completed file itself, with others.
  void OnDone(std::uint64_t key, Status downloaded, bool record_now) EXCLUDES(mutex_);
  // A file whose temp file is durable and complete: recorded with the others that end while
  // a record is under way (one store transaction for them all), then its slot is freed.
  void Complete(std::uint64_t key, std::uint32_t index, std::uint64_t bytes, bool record_now)
      EXCLUDES(mutex_);
  // REQUIRES: this thread set recording_. Records what waits in to_record_, then promises it.
  // as_drainer: called by a drainer, which stops being one once its batch is recorded.
  void RecordWaiting(bool as_drainer) EXCLUDES(mutex_);
  // The file `index` again, in a new slot, while its old slot `key` still marks it busy.
  void Relaunch(std::uint64_t key, std::uint32_t index) EXCLUDES(mutex_);
  // The run fails: reports it (first failure only) and stops the other downloads, which keep
  // their bytes.
  void Fail(const Error& error, std::optional<std::uint32_t> index,
            std::chrono::seconds retry_after = std::chrono::seconds(0)) EXCLUDES(mutex_);
  void Acquire();
  // The last release (every download done, no fill under way) is the run's end.
  void Release();

  const Guid id_;
  const std::uint64_t run_id_;
  const std::shared_ptr<const RunControl> control_;
  RunReports& reports_;
  TransferEngine& engine_;
  LocalFileSystem& files_;
  const RunOptions options_;

  std::atomic<bool> stop_{false};
  // Start, every download until its done was handled: the run ends when this reaches 0.
  std::atomic<std::uint32_t> pending_{0};
  // At most one restart of a changed ranged file per run.
  std::atomic<bool> restarted_changed_file_{false};
  // A response of this run reached the manager (the job is TRANSFERRING).
  std::atomic<bool> responded_{false};

  Mutex mutex_;
  std::map<std::uint64_t, Slot> in_flight_ GUARDED_BY(mutex_);
  std::uint64_t next_key_ GUARDED_BY(mutex_) = 1;
  std::uint32_t parallel_files_ GUARDED_BY(mutex_) = 1;
  bool filling_ GUARDED_BY(mutex_) = false;
  bool fill_again_ GUARDED_BY(mutex_) = false;
  // Completed files waiting for the record under way, by their slots' keys.
  std::vector<std::pair<std::uint64_t, CompletedFile>> to_record_ GUARDED_BY(mutex_);
  bool recording_ GUARDED_BY(mutex_) = false;  // a thread is writing a batch of records
  // Ended downloads waiting for a drainer, the drainers at work, and whether the last ends
  // were slow (each drainer then takes one end; otherwise one takes them all).
  static constexpr std::uint32_t kMaxDrainers = 64;
  std::deque<std::pair<std::uint64_t, Status>> ends_ GUARDED_BY(mutex_);
  std::uint32_t drainers_ GUARDED_BY(mutex_) = 0;
  bool slow_ends_ GUARDED_BY(mutex_) = false;
  std::uint32_t quick_streak_ GUARDED_BY(mutex_) = 0;  // quick ends since the last slow one
};

}  // namespace openbits::core
