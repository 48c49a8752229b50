// CurlMultiEngine: the event-driven TransferEngine (docs/architecture.md, "Engine"). One engine
// thread owns a curl multi handle and drives every download through it with epoll
// (CURLMOPT_SOCKETFUNCTION + TIMERFUNCTION + curl_multi_socket_action), so thousands of files
// share one connection cache (keep-alive across files and jobs, HTTP/2 multiplexing over TLS
// where the server offers it, CURLOPT_PIPEWAIT). Start, Stop and SetRateLimit come from any
// thread and reach the engine thread as commands through an eventfd.
//
// The common case (direct or a fixed proxy, no credentials, no client certificate, no
// challenge) runs entirely in curl multi, with the protocol checks of HttpExchange. A request
// that needs a blocking step (PAC or WPAD, answering a 401/407 with the Authenticator and its
// GSS steps, our CONNECT tunnel, loading a client certificate, Passport side requests) runs
// whole on a small bounded pool of workers with the blocking CurlSession, never on the engine
// thread. A request that meets a challenge in multi moves there before the sink heard of it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/ports.h"
#include "transfer/network_services.h"

namespace openbits::transfer {

struct CurlMultiEngineOptions {
  // Workers of the blocking steps: downloads that need them beyond this many wait their turn.
  std::size_t blocking_workers = 4;
  // Idle connections the multi handle keeps for reuse.
  long max_cached_connections = 64;
  // Idle easy handles kept for the next downloads (each holds its receive buffer and
  // options); a burst of downloads beyond this frees its extra handles as they finish.
  std::size_t max_spare_handles = 64;
};

// What the engine did so far (for tests and the benchmark).
struct CurlMultiEngineStats {
  std::uint64_t connections_opened = 0;    // new TCP connections of downloads run in multi
  std::uint64_t downloads_in_multi = 0;    // finished in curl multi
  std::uint64_t downloads_on_workers = 0;  // finished on the blocking workers
  std::uint64_t spare_handles = 0;         // idle easy handles kept for reuse now
};

class CurlMultiEngine : public core::TransferEngine {
 public:
  // `services` must outlive the engine.
  explicit CurlMultiEngine(const NetworkServices& services, CurlMultiEngineOptions options = {});
  ~CurlMultiEngine() override;  // Shutdown
  CurlMultiEngine(const CurlMultiEngine&) = delete;
  CurlMultiEngine& operator=(const CurlMultiEngine&) = delete;

  core::DownloadId Start(core::DownloadRequest request, core::DownloadSink& sink,
                         DoneCallback done) override;
  void Stop(core::DownloadId download) override;
  void SetRateLimit(core::DownloadId download, std::uint64_t bytes_per_second) override;
  void Shutdown() override;

  CurlMultiEngineStats stats() const;

 private:
  struct Download;
  class Loop;
  class Workers;

  std::shared_ptr<Download> Find(core::DownloadId id);
  // Runs on the engine thread or a worker: forgets the download, then calls its `done`.
  void Finish(const std::shared_ptr<Download>& download, Status status);
  // Hands a download to the blocking workers.
  void ToWorkers(std::shared_ptr<Download> download);

  const NetworkServices& services_;
  const CurlMultiEngineOptions options_;
  std::mutex mutex_;
  std::map<core::DownloadId, std::shared_ptr<Download>> downloads_;  // guarded by mutex_
  core::DownloadId next_id_ = 1;                                     // guarded by mutex_
  bool shut_down_ = false;                                           // guarded by mutex_
  // Started during Shutdown, answered by it before it returns.
  std::vector<std::shared_ptr<Download>> late_;  // guarded by mutex_
  bool shutdown_returning_ = false;              // guarded by mutex_: late_ is closed
  std::atomic<std::uint64_t> in_multi_{0};
  std::atomic<std::uint64_t> on_workers_{0};
  std::atomic<std::uint64_t> connections_{0};
  std::atomic<std::uint64_t> spare_{0};
  std::unique_ptr<Workers> workers_;
  std::unique_ptr<Loop> loop_;
};

}  // namespace openbits::transfer
