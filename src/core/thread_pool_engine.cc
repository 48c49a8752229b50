#include "core/thread_pool_engine.h"

#include <algorithm>

namespace openbits::core {
namespace {

// The pool thread this code runs on, if any (Start from a done callback).
thread_local void* current_worker = nullptr;

}  // namespace

// The caller's sink, with the engine's own stop flag added to what StopRequested says: Stop
// reaches a download through the transport's polling, as a job's stop flag did.
class ThreadPoolEngine::StoppableSink : public DownloadSink {
 public:
  explicit StoppableSink(Download& download) : download_(download) {}
  Status OnResponse(const DownloadResponse& response) override {
    return download_.sink->OnResponse(response);
  }
  Status OnData(const char* data, std::size_t length) override {
    return download_.sink->OnData(data, length);
  }
  void OnRemoteNameChanged(const std::string& url) override {
    download_.sink->OnRemoteNameChanged(url);
  }
  void OnRetryAfter(std::chrono::seconds delay) override { download_.sink->OnRetryAfter(delay); }
  bool StopRequested() const override {
    return download_.stop.load(std::memory_order_relaxed) || download_.sink->StopRequested();
  }

 private:
  Download& download_;
};

ThreadPoolEngine::ThreadPoolEngine(Transport& transport, std::uint32_t threads)
    : transport_(transport) {
  threads = std::max<std::uint32_t>(threads, 1);
  threads_.reserve(threads);
  for (std::uint32_t i = 0; i < threads; ++i) threads_.emplace_back(&ThreadPoolEngine::Work, this);
}

ThreadPoolEngine::~ThreadPoolEngine() {
  Shutdown();
  std::vector<std::thread> late;
  {
    MutexLock lock(mutex_);
    late.swap(late_);
  }
  for (std::thread& thread : late) thread.join();
}

DownloadId ThreadPoolEngine::Start(DownloadRequest request, DownloadSink& sink, DoneCallback done) {
  auto download = std::make_shared<Download>();
  download->request = std::move(request);
  download->sink = &sink;
  download->done = std::move(done);
  MutexLock lock(mutex_);
  download->id = next_id_++;
  if (shutting_down_) {
    // No worker is left to answer it, and `done` never runs inside Start: a thread of its
    // own does, joined by the destructor.
    late_.emplace_back([download] {
      download->done(Error(kAborted, ErrorContext::kNone, "the transfer engine is shut down"));
    });
    return download->id;
  }
  live_.emplace(download->id, download);
  auto* worker = static_cast<Worker*>(current_worker);
  if (worker && worker->engine == this && download->request.connection_group != 0 &&
      worker->group == download->request.connection_group && !worker->next) {
    // The same job's next file, from its done callback: this thread runs it next, on the
    // session that already holds the job's connection.
    worker->next = download;
    return download->id;
  }
  queue_.push_back(download);
  work_ready_.NotifyAll();
  return download->id;
}

void ThreadPoolEngine::Stop(DownloadId id) {
  MutexLock lock(mutex_);
  if (auto it = live_.find(id); it != live_.end()) it->second->stop = true;
}

void ThreadPoolEngine::SetRateLimit(DownloadId, std::uint64_t) {}

void ThreadPoolEngine::Work() {
  Worker worker;
  worker.engine = this;
  current_worker = &worker;
  std::unique_ptr<TransferSession> session;
  MutexLock lock(mutex_);
  for (;;) {
    std::shared_ptr<Download> download = std::move(worker.next);
    worker.next = nullptr;
    if (!download) {
      if (queue_.empty() && session) {
        // Nothing to do: the job's connections (and tunnels) close, as its thread's did.
        lock.Unlock();
        session.reset();
        lock.Lock();
        continue;  // work may have come meanwhile
      }
      while (queue_.empty() && !shutting_down_) work_ready_.Wait(mutex_);
      if (queue_.empty()) break;  // shutting down, nothing left to answer
      download = std::move(queue_.front());
      queue_.pop_front();
    }
    const std::uint64_t group = download->request.connection_group;
    lock.Unlock();
    if (session && (group == 0 || group != worker.group)) session.reset();
    worker.group = group;
    Status result = Error(kAborted, ErrorContext::kNone, "the download was stopped");
    if (!download->stop) {
      if (!session) session = transport_.OpenSession();
      StoppableSink sink(*download);
      result = session->Download(download->request, sink);
    }
    download->done(std::move(result));
    // `done` may have been the last owner of what the request refers to; drop it here.
    download->done = nullptr;
    lock.Lock();
    live_.erase(download->id);
  }
  lock.Unlock();
  session.reset();
  current_worker = nullptr;
}

void ThreadPoolEngine::Shutdown() {
  std::vector<std::thread> threads;
  {
    MutexLock lock(mutex_);
    shutting_down_ = true;
    // Queued downloads are still answered (kAborted) by the workers before they end.
    for (auto& [id, download] : live_) download->stop = true;
    work_ready_.NotifyAll();
    threads.swap(threads_);
  }
  for (std::thread& thread : threads) thread.join();
  // What the `done`s run above started meanwhile (a run filling its next file) is answered by
  // then too, and so is what those answers start in turn: Shutdown returns after every `done`.
  for (;;) {
    std::vector<std::thread> late;
    {
      MutexLock lock(mutex_);
      late.swap(late_);
    }
    if (late.empty()) return;
    for (std::thread& thread : late) thread.join();
  }
}

}  // namespace openbits::core
