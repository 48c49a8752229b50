// ThreadPoolEngine: the TransferEngine port over a blocking Transport. A bounded pool of
// threads runs the downloads that were Start()ed, in order of arrival. It keeps every
// Transport usable (the curl transport, the tests' scripted one) behind the event-driven port.
//
// Connections: a thread's TransferSession serves one connection group (one job run) at a
// time, so no connection, connection-based authentication or CONNECT tunnel of one job is
// ever used by another. A download started from a done callback of the same group runs next
// on that thread, with the same session (a job's files one after the other reuse their
// connection, as on the job thread of old). A thread with nothing to do closes its session.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/mutex.h"
#include "core/ports.h"

namespace openbits::core {

class ThreadPoolEngine : public TransferEngine {
 public:
  // threads: how many downloads run at once (at least 1); more wait in a queue.
  ThreadPoolEngine(Transport& transport, std::uint32_t threads);
  ~ThreadPoolEngine() override;
  ThreadPoolEngine(const ThreadPoolEngine&) = delete;
  ThreadPoolEngine& operator=(const ThreadPoolEngine&) = delete;

  DownloadId Start(DownloadRequest request, DownloadSink& sink, DoneCallback done) override
      EXCLUDES(mutex_);
  void Stop(DownloadId download) override EXCLUDES(mutex_);
  // Blocking transports have no rate control of their own: the budget is ignored.
  void SetRateLimit(DownloadId download, std::uint64_t bytes_per_second) override;
  void Shutdown() override EXCLUDES(mutex_);

 private:
  class StoppableSink;
  struct Download {
    DownloadId id = 0;
    DownloadRequest request;
    DownloadSink* sink = nullptr;
    DoneCallback done;
    std::atomic<bool> stop{false};
  };

  // The state of one pool thread, for Start called from its own callbacks.
  struct Worker {
    ThreadPoolEngine* engine = nullptr;
    std::uint64_t group = 0;         // of the download it runs
    std::shared_ptr<Download> next;  // GUARDED_BY(engine->mutex_): runs after the current one
  };

  void Work() EXCLUDES(mutex_);

  Transport& transport_;
  Mutex mutex_;
  CondVar work_ready_;
  std::deque<std::shared_ptr<Download>> queue_ GUARDED_BY(mutex_);
  // Downloads handed to a worker directly (Worker::next); with queue_, what Shutdown waits for.
  // Every download from Start until its `done` returned: what Stop and Shutdown reach.
  std::unordered_map<DownloadId, std::shared_ptr<Download>> live_ GUARDED_BY(mutex_);
  DownloadId next_id_ GUARDED_BY(mutex_) = 1;
  bool shutting_down_ GUARDED_BY(mutex_) = false;
  std::vector<std::thread> threads_;
  // Answers (kAborted) to downloads started after Shutdown.
  std::vector<std::thread> late_ GUARDED_BY(mutex_);
};

}  // namespace openbits::core
