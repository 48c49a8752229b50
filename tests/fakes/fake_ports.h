// In-memory fakes of the core's ports, for unit tests of JobManager (LevelDB memenv style).
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/ports.h"

namespace openbits::fakes {

class InMemoryJobStore : public core::JobStore {
 public:
  Result<std::vector<core::Job>> LoadAll() override {
    std::lock_guard lock(mutex_);
    std::vector<core::Job> jobs;
    for (const auto& [id, job] : jobs_) jobs.push_back(job);
    return jobs;
  }
  Status Save(const core::Job& job) override {
    std::lock_guard lock(mutex_);
    if (writes_fail_) return DiskFull();
    jobs_[job.id] = job;
    ++writes_;
    return Ok();
  }
  Status SaveFileProgress(const Guid& id, std::uint32_t index, const core::JobFile& file) override {
    std::lock_guard lock(mutex_);
    if (writes_fail_) return DiskFull();
    jobs_[id].files.at(index) = file;
    ++writes_;
    return Ok();
  }
  Status SyncDurable() override {
    std::lock_guard lock(mutex_);
    ++durable_syncs_;
    return Ok();
  }
  int DurableSyncs() {
    std::lock_guard lock(mutex_);
    return durable_syncs_;
  }
  // Every write fails as on a full state directory until called again with false.
  void FailWrites(bool fail) {
    std::lock_guard lock(mutex_);
    writes_fail_ = fail;
  }
  Status Remove(const Guid& id) override {
    std::lock_guard lock(mutex_);
    jobs_.erase(id);
    ++writes_;
    return Ok();
  }
  // Save, SaveFileProgress and Remove calls that succeeded (SaveFilesProgress counts a call
  // per file): what a job costs the store.
  int Writes() {
    std::lock_guard lock(mutex_);
    return writes_;
  }
  std::size_t size() {
    std::lock_guard lock(mutex_);
    return jobs_.size();
  }
  core::Job Get(const Guid& id) {
    std::lock_guard lock(mutex_);
    return jobs_.at(id);
  }

 private:
  static Error DiskFull() {
    return Error(hr::ERROR_DISK_FULL, ErrorContext::kGeneralQueueManager,
                 "Failed to write the job store: No space left on device (ENOSPC)");
  }

  std::mutex mutex_;
  std::map<Guid, core::Job> jobs_;
  bool writes_fail_ = false;
  int durable_syncs_ = 0;
  int writes_ = 0;
};

// Files as strings keyed by path; destinations "exist" when they were committed.
class InMemoryFileSystem : public core::LocalFileSystem {
 public:
  Status CheckDestination(const core::FileOwner& owner, const std::string& path) override {
    if (owner.uid == kNoWriteUid) return Error::AccessDenied("uid may not write " + path);
    return Ok();
  }
  Result<std::unique_ptr<core::TempFile>> OpenTemp(const core::FileOwner&, const std::string& path,
                                                   std::uint64_t keep) override {
    std::lock_guard lock(mutex_);
    std::string& content = files_[path];
    if (content.size() > keep) content.resize(keep);
    return std::unique_ptr<core::TempFile>(std::make_unique<Temp>(*this, path));
  }
  // As rename(2): a missing temp file fails (ENOENT), and so does a final path made
  // unwritable with FailCommitsTo.
  Status CommitTemp(const core::FileOwner&, const std::string& temp, const std::string& final_path,
                    std::int64_t, std::uint32_t) override {
    std::unique_lock lock(mutex_);
    ++commits_[final_path];
    if (failing_commits_.contains(final_path)) {
      return Error(hr::E_ACCESSDENIED, ErrorContext::kLocalFile,
                   "rename " + temp + " to " + final_path + ": Permission denied");
    }
    auto it = files_.find(temp);
    if (it == files_.end()) {
      return Error(hr::ERROR_FILE_NOT_FOUND, ErrorContext::kLocalFile,
                   "rename " + temp + " to " + final_path + ": No such file or directory");
    }
    std::string content = std::move(it->second);
    files_.erase(it);
    files_[final_path] = std::move(content);
    return Ok();
  }
  Status Remove(const core::FileOwner&, const std::string& path) override {
    std::unique_lock lock(mutex_);
    if (path == gated_remove_) {
      // The test interleaves other calls here, while the caller runs without the manager's
      // lock (Cancel's and Complete's file step).
      gate_reached_ = true;
      gate_changed_.notify_all();
      gate_changed_.wait(lock, [&] { return gate_open_; });
      gated_remove_.clear();
    }
    files_.erase(path);
    return Ok();
  }
  // Renames onto `final_path` fail (E_ACCESSDENIED) until AllowCommitsTo.
  void FailCommitsTo(const std::string& final_path) {
    std::lock_guard lock(mutex_);
    failing_commits_.insert(final_path);
  }
  void AllowCommitsTo(const std::string& final_path) {
    std::lock_guard lock(mutex_);
    failing_commits_.erase(final_path);
  }
  int Commits(const std::string& final_path) {
    std::lock_guard lock(mutex_);
    return commits_[final_path];
  }
  // The next Remove of `path` blocks until OpenGate.
  void GateRemoveOf(const std::string& path) {
    std::lock_guard lock(mutex_);
    gated_remove_ = path;
    gate_reached_ = gate_open_ = false;
  }
  // Waits until a Remove blocks at the gate; false after `timeout`.
  bool WaitForGate(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return gate_changed_.wait_for(lock, timeout, [&] { return gate_reached_; });
  }
  void OpenGate() {
    std::lock_guard lock(mutex_);
    gate_open_ = true;
    gate_changed_.notify_all();
  }
  Status GiveTemp(const core::FileOwner&, const std::string&) override { return Ok(); }
  std::map<std::string, std::string> Files() {
    std::lock_guard lock(mutex_);
    return files_;
  }

  static constexpr std::uint32_t kNoWriteUid = 4242;

 private:
  class Temp : public core::TempFile {
   public:
    Temp(InMemoryFileSystem& fs, std::string path) : fs_(fs), path_(std::move(path)) {
      size_ = fs_.files_[path_].size();
    }
    std::uint64_t size() const override { return size_; }
    Status Append(const char* data, std::size_t length) override {
      std::lock_guard lock(fs_.mutex_);
      fs_.files_[path_].append(data, length);
      return Ok();
    }
    Status Truncate(std::uint64_t length) override {
      std::lock_guard lock(fs_.mutex_);
      fs_.files_[path_].resize(length);
      return Ok();
    }
    Status Sync() override { return Ok(); }

   private:
    InMemoryFileSystem& fs_;
    std::string path_;
    std::uint64_t size_;
  };

  std::mutex mutex_;
  std::condition_variable gate_changed_;
  std::map<std::string, std::string> files_;
  std::set<std::string> failing_commits_;
  std::map<std::string, int> commits_;
  std::string gated_remove_;
  bool gate_reached_ = false;
  bool gate_open_ = false;
};

// Serves URLs from a map: content, or an Error to fail with.
class ScriptedTransport : public core::Transport {
 public:
  void Serve(const std::string& url, std::string content) {
    std::lock_guard lock(mutex_);
    contents_[url] = std::move(content);
  }
  // Downloads of `url` send half the content, then block until the sink asks to stop.
  void Hold(const std::string& url) {
    std::lock_guard lock(mutex_);
    held_.insert(url);
  }
  // Downloads of `url` wait before they start (before a scripted failure) until Ungate, or
  // until the sink asks to stop.
  void Gate(const std::string& url) {
    std::lock_guard lock(mutex_);
    gated_.insert(url);
  }
  void Ungate(const std::string& url) {
    std::lock_guard lock(mutex_);
    gated_.erase(url);
  }
  // Held downloads of `url` go on and send the rest.
  void Release(const std::string& url) {
    std::lock_guard lock(mutex_);
    held_.erase(url);
  }
  int Downloads(const std::string& url) {
    std::lock_guard lock(mutex_);
    return downloads_[url];
  }
  // Failures of `url` come with "Retry-After: seconds".
  void RetryAfter(const std::string& url, std::chrono::seconds delay) {
    std::lock_guard lock(mutex_);
    retry_after_[url] = delay;
  }
  void Fail(const std::string& url, HRESULT code) {
    std::lock_guard lock(mutex_);
    failures_[url] = code;
  }
  std::unique_ptr<core::TransferSession> OpenSession() override {
    return std::make_unique<Session>(*this);
  }

 private:
  bool IsHeld(const std::string& url) {
    std::lock_guard lock(mutex_);
    return held_.contains(url);
  }
  bool IsGated(const std::string& url) {
    std::lock_guard lock(mutex_);
    return gated_.contains(url);
  }

  class Session : public core::TransferSession {
   public:
    explicit Session(ScriptedTransport& transport) : transport_(transport) {}
    Status Download(const core::DownloadRequest& request, core::DownloadSink& sink) override {
      std::string content;
      bool held = false;
      while (!sink.StopRequested() && transport_.IsGated(request.url)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (sink.StopRequested()) return Error(core::kAborted, ErrorContext::kNone, "stopped");
      {
        std::lock_guard lock(transport_.mutex_);
        ++transport_.downloads_[request.url];
        held = transport_.held_.contains(request.url);
        if (auto it = transport_.retry_after_.find(request.url);
            it != transport_.retry_after_.end()) {
          sink.OnRetryAfter(it->second);
        }
        if (auto it = transport_.failures_.find(request.url); it != transport_.failures_.end()) {
          return Error(it->second, ErrorContext::kRemoteFile, "scripted failure");
        }
        auto it = transport_.contents_.find(request.url);
        if (it == transport_.contents_.end()) {
          return Error(HttpStatusToHresult(404), ErrorContext::kRemoteFile, "not served");
        }
        content = it->second;
      }
      core::DownloadResponse response;
      response.bytes_total = content.size();
      response.validators.etag = "\"v1\"";
      OPENBITS_RETURN_IF_ERROR(sink.OnResponse(response));
      if (held) {
        const std::size_t half = content.size() / 2;
        if (request.offset < half) {
          OPENBITS_RETURN_IF_ERROR(
              sink.OnData(content.data() + request.offset, half - request.offset));
        }
        while (!sink.StopRequested() && transport_.IsHeld(request.url)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (sink.StopRequested()) return Error(core::kAborted, ErrorContext::kNone, "stopped");
        return sink.OnData(content.data() + std::max<std::uint64_t>(request.offset, half),
                           content.size() - std::max<std::uint64_t>(request.offset, half));
      }
      return sink.OnData(content.data() + request.offset, content.size() - request.offset);
    }

   private:
    ScriptedTransport& transport_;
  };

  std::mutex mutex_;
  std::map<std::string, std::string> contents_;
  std::map<std::string, HRESULT> failures_;
  std::set<std::string> held_;
  std::set<std::string> gated_;
  std::map<std::string, std::chrono::seconds> retry_after_;
  std::map<std::string, int> downloads_;
};

class RecordingEventSink : public core::EventSink {
 public:
  void JobTransferred(const Guid& job, std::uint32_t) override { Record("transferred", job); }
  void JobError(const Guid& job, std::uint32_t, HRESULT, ErrorContext) override {
    Record("error", job);
  }
  void JobModified(const Guid&, std::uint32_t, JobState) override {}
  void FileTransferred(const Guid& job, std::uint32_t, std::uint32_t index) override {
    Record("file " + std::to_string(index), job);
  }
  void JobRemoved(const Guid& job) override { Record("removed", job); }
  std::vector<std::string> Events() {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  void Record(const std::string& what, const Guid& job) {
    std::lock_guard lock(mutex_);
    events_.push_back(what + " " + job.ToString());
  }
  std::mutex mutex_;
  std::vector<std::string> events_;
};

// Records the commands it is asked to run and answers them with a scripted exit code, on a
// thread of its own as the real launcher does.
class FakeCommandRunner : public core::CommandRunner {
 public:
  void Start(const core::CommandSpec& spec,
             std::function<void(const core::CommandOutcome&)> on_exit) override {
    std::lock_guard lock(mutex_);
    specs_.push_back(spec);
    core::CommandOutcome outcome;
    outcome.started = true;
    outcome.exit_code = exit_codes_.empty() ? 0 : exit_codes_.front();
    if (!exit_codes_.empty()) exit_codes_.erase(exit_codes_.begin());
    threads_.emplace_back([on_exit, outcome] { on_exit(outcome); });
  }
  void StopAll() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      threads.swap(threads_);
    }
    for (auto& thread : threads) thread.join();
  }
  ~FakeCommandRunner() override { StopAll(); }

  void ExitWith(std::vector<int> codes) {
    std::lock_guard lock(mutex_);
    exit_codes_ = std::move(codes);
  }
  std::vector<core::CommandSpec> Specs() {
    std::lock_guard lock(mutex_);
    return specs_;
  }

 private:
  std::mutex mutex_;
  std::vector<core::CommandSpec> specs_;
  std::vector<int> exit_codes_;
  std::vector<std::thread> threads_;
};

}  // namespace openbits::fakes
