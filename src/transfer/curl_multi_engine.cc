#include "transfer/curl_multi_engine.h"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_map>

#include "base/log.h"
#include "transfer/curl_transport.h"
#include "transfer/http_exchange.h"
#include "transfer/url_parts.h"

namespace openbits::transfer {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static const auto logger = log::Get("engine");
  return logger;
}

// The BG_SSL_* bits of the security flags (the rest is redirect policy).
constexpr std::uint32_t kTlsPolicyFlags = kSslEnableCrlCheck | kSslIgnoreCertCnInvalid |
                                          kSslIgnoreCertDateInvalid | kSslIgnoreUnknownCa |
                                          kSslIgnoreCertWrongUsage;

Error Aborted() { return Error(core::kAborted, ErrorContext::kNone, "the transfer was stopped"); }

// The sink the transfer sees: the caller's, plus the engine's own stop flag.
class GuardedSink : public core::DownloadSink {
 public:
  GuardedSink(core::DownloadSink& inner, const std::atomic<bool>& stop)
      : inner_(inner), stop_(stop) {}
  Status OnResponse(const core::DownloadResponse& response) override {
    return inner_.OnResponse(response);
  }
  Status OnData(const char* data, std::size_t length) override {
    return inner_.OnData(data, length);
  }
  void OnRemoteNameChanged(const std::string& url) override { inner_.OnRemoteNameChanged(url); }
  void OnRetryAfter(std::chrono::seconds delay) override { inner_.OnRetryAfter(delay); }
  bool StopRequested() const override {
    return stop_.load(std::memory_order_relaxed) || inner_.StopRequested();
  }

 private:
  core::DownloadSink& inner_;
  const std::atomic<bool>& stop_;
};

}  // namespace

struct CurlMultiEngine::Download {
  Download(core::DownloadId id_, core::DownloadRequest request_, core::DownloadSink& sink_,
           DoneCallback done_)
      : id(id_), request(std::move(request_)), sink(sink_, stop), done(std::move(done_)) {}
  const core::DownloadId id;
  const core::DownloadRequest request;
  std::atomic<bool> stop{false};
  RateBudget budget;
  GuardedSink sink;
  DoneCallback done;
  // Engine thread only: the transfer while it runs in curl multi.
  CURL* easy = nullptr;
  std::unique_ptr<HttpExchange> exchange;
};

// The blocking steps: a bounded pool of workers, each download on a CurlSession of its own
// (authenticators hold one job's credentials; they are never shared with another job).
class CurlMultiEngine::Workers {
 public:
  Workers(CurlMultiEngine& engine, std::size_t count) : engine_(engine) {
    for (std::size_t i = 0; i < count; ++i) threads_.emplace_back([this] { Run(); });
  }
  // False once stopping: the caller ends the download itself.
  bool Post(std::shared_ptr<Download> download) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return false;
      queue_.push_back(std::move(download));
    }
    wake_.notify_one();
    return true;
  }
  // Takes a download that no worker has started out of the queue; false when there is none.
  bool Cancel(const std::shared_ptr<Download>& download) {
    std::lock_guard lock(mutex_);
    const auto it = std::find(queue_.begin(), queue_.end(), download);
    if (it == queue_.end()) return false;
    queue_.erase(it);
    return true;
  }
  // Ends every queued download with kAborted and joins the workers (whose running
  // downloads see their stop flags).
  void StopAndJoin() {
    std::deque<std::shared_ptr<Download>> queued;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      queued.swap(queue_);
    }
    wake_.notify_all();
    for (auto& download : queued) engine_.Finish(download, Aborted());
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }

 private:
  void Run() {
    for (;;) {
      std::shared_ptr<Download> download;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        download = std::move(queue_.front());
        queue_.pop_front();
      }
      Status status = Aborted();
      if (!download->stop.load()) {
        CurlSession session(engine_.services_);
        session.set_budget(&download->budget);
        status = session.Download(download->request, download->sink);
      }
      engine_.on_workers_.fetch_add(1, std::memory_order_relaxed);
      engine_.Finish(download, std::move(status));
    }
  }

  CurlMultiEngine& engine_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Download>> queue_;  // guarded by mutex_
  bool stopping_ = false;                        // guarded by mutex_
  std::vector<std::thread> threads_;
};

// The engine thread: epoll over curl's sockets and an eventfd of commands.
class CurlMultiEngine::Loop {
 public:
  explicit Loop(CurlMultiEngine& engine) : engine_(engine) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = wake_fd_;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_fd_, &event);
    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Loop::OnSocket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Loop::OnTimer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, engine_.options_.max_cached_connections);
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    thread_ = std::thread([this] { Run(); });
  }
  ~Loop() {
    for (CURL* easy : spare_) curl_easy_cleanup(easy);
    curl_multi_cleanup(multi_);
    close(wake_fd_);
    close(epoll_);
  }

  enum class Command { kStart, kStop, kRate };
  void Post(Command command, std::shared_ptr<Download> download) {
    bool first = false;
    {
      std::lock_guard lock(mutex_);
      first = commands_.empty();
      commands_.emplace_back(command, std::move(download));
    }
    // Commands already waiting have woken the engine thread, which takes them all at once
    // (it reads the eventfd before it takes the queue): one write per batch, not per file.
    if (first) Wake();
  }
  // Aborts what runs in multi and ends the thread.
  void StopAndJoin() {
    {
      std::lock_guard lock(mutex_);
      quit_ = true;
    }
    Wake();
    thread_.join();
  }

 private:
  void Wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t written = write(wake_fd_, &one, sizeof one);
  }

  static int OnSocket(CURL*, curl_socket_t socket, int what, void* self_ptr, void* known) {
    auto* self = static_cast<Loop*>(self_ptr);
    if (what == CURL_POLL_REMOVE) {
      epoll_ctl(self->epoll_, EPOLL_CTL_DEL, socket, nullptr);
      curl_multi_assign(self->multi_, socket, nullptr);
      return 0;
    }
    epoll_event event{};
    event.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    event.data.fd = socket;
    if (known) {
      epoll_ctl(self->epoll_, EPOLL_CTL_MOD, socket, &event);
    } else {
      epoll_ctl(self->epoll_, EPOLL_CTL_ADD, socket, &event);
      curl_multi_assign(self->multi_, socket, self);  // any non-null pointer: "known"
    }
    return 0;
  }

  static int OnTimer(CURLM*, long timeout_ms, void* self_ptr) {
    auto* self = static_cast<Loop*>(self_ptr);
    if (timeout_ms < 0) {
      self->deadline_.reset();
    } else {
      self->deadline_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
    }
    return 0;
  }

  void Run() {
    epoll_event events[64];
    for (;;) {
      std::optional<Clock::time_point> wake = deadline_;
      for (const auto& entry : paused_) {
        if (!wake || entry.first < *wake) wake = entry.first;
      }
      int wait_ms = -1;
      if (wake) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(*wake - Clock::now());
        wait_ms = static_cast<int>(std::max<std::int64_t>(left.count(), 0));
      }
      const int ready = epoll_wait(epoll_, events, 64, wait_ms);
      if (ready < 0 && errno != EINTR) {
        Log()->error("epoll_wait failed: {}", std::strerror(errno));
      }
      int running = 0;
      for (int i = 0; i < ready; ++i) {
        if (events[i].data.fd == wake_fd_) continue;
        int flags = 0;
        if (events[i].events & (EPOLLIN | EPOLLHUP)) flags |= CURL_CSELECT_IN;
        if (events[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
        if (events[i].events & EPOLLERR) flags |= CURL_CSELECT_ERR;
        curl_multi_socket_action(multi_, events[i].data.fd, flags, &running);
      }
      if (deadline_ && Clock::now() >= *deadline_) {
        deadline_.reset();
        curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
      }
      ResumeDue();
      Collect();
      if (!RunCommands()) break;
    }
    // Shutdown: what still runs in multi ends with kAborted.
    std::vector<std::shared_ptr<Download>> running;
    for (auto& [raw, download] : active_) running.push_back(download);
    for (auto& download : running) {
      download->stop = true;
      End(download, CURLE_ABORTED_BY_CALLBACK);
    }
  }

  // False when the loop must end.
  bool RunCommands() {
    std::uint64_t count = 0;
    [[maybe_unused]] ssize_t got = read(wake_fd_, &count, sizeof count);
    std::deque<std::pair<Command, std::shared_ptr<Download>>> commands;
    bool quit = false;
    {
      std::lock_guard lock(mutex_);
      commands.swap(commands_);
      quit = quit_;
    }
    for (auto& [command, download] : commands) {
      switch (command) {
        case Command::kStart:
          Begin(std::move(download));
          break;
        case Command::kStop:
          if (download->easy) {
            End(download, CURLE_ABORTED_BY_CALLBACK);
          } else if (engine_.workers_->Cancel(download)) {
            // Waiting for a worker: ends now rather than when one is free.
            engine_.Finish(download, Aborted());
          }
          break;
        case Command::kRate:
          // A paused transfer asks its budget again now: the new rate may let it go on.
          for (auto& entry : paused_) {
            if (entry.second == download.get()) entry.first = Clock::now();
          }
          break;
      }
    }
    if (!commands.empty()) {
      // New handles and changed options take effect now, not at curl's next timeout.
      int running = 0;
      curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
      Collect();
    }
    return !quit;
  }

  // The route of a request when finding it cannot block (no PAC, no WPAD): nullopt sends
  // the request to the workers.
  std::optional<proxy::Route> ImmediateRoute(const core::DownloadRequest& request,
                                             const UrlParts& parts) {
    const core::ProxySettings& settings = request.proxy;
    bool immediate =
        settings.usage == ProxyUsage::kNoProxy || settings.usage == ProxyUsage::kOverride;
    if (settings.usage == ProxyUsage::kPreconfig) {
      const core::AccountProxies* accounts = engine_.services_.account_proxies();
      const auto account = accounts ? accounts->Get(request.network.uid) : std::nullopt;
      const bool account_discovers =
          account && (account->mode == core::AccountProxyMode::kAutodetect ||
                      account->mode == core::AccountProxyMode::kAutoscript);
      immediate = !account_discovers &&
                  engine_.services_.options().proxy.machine.usage != ProxyUsage::kAutodetect;
    }
    if (!immediate) return std::nullopt;
    auto routes = engine_.services_.proxies().Routes(
        {request.proxy, request.proxy_environment, request.network.uid},
        {PacUrl(parts), parts.scheme, parts.host, parts.port});
    // Several proxies (failover) or an error: the blocking path says it as it always did.
    if (!routes || routes->size() != 1) return std::nullopt;
    return routes->front();
  }

  void Begin(std::shared_ptr<Download> download) {
    const core::DownloadRequest& request = download->request;
    if (download->stop.load()) return engine_.Finish(download, Aborted());
    const auto parts = SplitUrl(request.url);
    std::optional<proxy::Route> route;
    // Multi's connections are shared by every job, so they all are made under the strict
    // TLS policy: a job whose BG_SSL_* flags excuse a failure (or ask for CRL checks) gets
    // connections of its own on the workers, never one of the cache.
    const bool strict_tls = (request.security_flags & kTlsPolicyFlags) == 0;
    if (parts && strict_tls && !request.client_certificate && request.credentials.all().empty()) {
      route = ImmediateRoute(request, *parts);
    }
    if (!route || NeedsOwnTunnel(*route, *parts)) return engine_.ToWorkers(std::move(download));
    CURL* easy = nullptr;
    if (!spare_.empty()) {
      easy = spare_.back();
      spare_.pop_back();
      engine_.spare_.store(spare_.size(), std::memory_order_relaxed);
    } else {
      easy = curl_easy_init();
      ConfigureEasyDefaults(easy, engine_.services_.options());
      // Wait for a connection that can multiplex (HTTP/2) rather than open another one.
      curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
    }
    download->easy = easy;
    download->exchange = std::make_unique<HttpExchange>(
        engine_.services_.trust(),
        ExchangeInput{
            &request, &download->sink, request.url, *parts, std::nullopt, std::nullopt, *route,
            std::nullopt, &strict_tls_, false, &download->budget,
            [this, raw = download.get()](Clock::time_point at) { paused_.emplace_back(at, raw); }});
    download->exchange->Configure(easy, nullptr);
    // Multi's connection cache is shared by every job and user. A job's custom headers may
    // carry a secret a server binds to the connection (an "Authorization: Negotiate" header
    // authenticates an IIS connection, not one request), so such a request gets a connection
    // of its own, closed after it: never one another job left, never one left for another.
    // Set on every request: a spare handle keeps the options of its last one.
    const long private_connection = request.custom_headers.empty() ? 0L : 1L;
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, private_connection);
    curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, private_connection);
    // ... and no HTTP/2 either: FORBID_REUSE closes the connection only once the transfer is
    // done, and until then another job's request could multiplex a stream onto it.
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION,
                     private_connection ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, download.get());
    curl_multi_add_handle(multi_, easy);
    active_.emplace(download.get(), std::move(download));
  }

  // Resumes the transfers paused over budget whose time has come (a transfer still over
  // budget pauses again, from inside curl_easy_pause).
  void ResumeDue() {
    const auto now = Clock::now();
    std::vector<Download*> due;
    std::erase_if(paused_, [&](const auto& entry) {
      if (entry.first > now) return false;
      due.push_back(entry.second);
      return true;
    });
    for (Download* download : due) {
      if (download->easy) curl_easy_pause(download->easy, CURLPAUSE_CONT);
    }
  }

  // The transfers curl says are done.
  void Collect() {
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      void* owner = nullptr;
      curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &owner);
      const CURLcode code = message->data.result;
      const auto it = active_.find(static_cast<Download*>(owner));
      if (it != active_.end()) End(it->second, code);
    }
  }

  // Takes the download out of multi and ends it (or moves it to the workers).
  void End(std::shared_ptr<Download> download, CURLcode code) {
    active_.erase(download.get());
    std::erase_if(paused_, [&](const auto& entry) { return entry.second == download.get(); });
    CURL* easy = download->easy;
    curl_multi_remove_handle(multi_, easy);
    Status status = download->exchange->Finish(code);
    long connects = 0;
    curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
    engine_.connections_.fetch_add(static_cast<std::uint64_t>(connects), std::memory_order_relaxed);
    const HttpExchange& exchange = *download->exchange;
    const bool proxy_down = exchange.last_code() == CURLE_COULDNT_CONNECT ||
                            exchange.last_code() == CURLE_COULDNT_RESOLVE_PROXY;
    // A proxy that cannot be reached: the blocking path says so as it always did.
    const bool needs_blocking_step = exchange.challenged() || exchange.resume_mismatch() ||
                                     (proxy_down && !status && exchange.via_proxy());
    const bool retry_elsewhere =
        needs_blocking_step && !exchange.reported() && !download->stop.load();
    download->exchange.reset();
    download->easy = nullptr;
    if (spare_.size() < engine_.options_.max_spare_handles) {
      spare_.push_back(easy);
      engine_.spare_.store(spare_.size(), std::memory_order_relaxed);
    } else {
      curl_easy_cleanup(easy);  // a burst is over: its connections stay in multi's cache
    }
    if (retry_elsewhere) {
      // A challenge to answer (or a file that changed under a resume): the sink has heard
      // nothing yet, so the whole request starts again on the blocking path.
      return engine_.ToWorkers(std::move(download));
    }
    engine_.in_multi_.fetch_add(1, std::memory_order_relaxed);
    engine_.Finish(download, std::move(status));
  }

  using Clock = std::chrono::steady_clock;
  CurlMultiEngine& engine_;
  int epoll_ = -1;
  int wake_fd_ = -1;
  CURLM* multi_ = nullptr;
  std::optional<Clock::time_point> deadline_;  // engine thread
  // Engine thread: the downloads in multi, by the address CURLOPT_PRIVATE holds.
  std::unordered_map<Download*, std::shared_ptr<Download>> active_;
  std::vector<CURL*> spare_;  // engine thread: easy handles to reuse
  // What the handshakes of every multi connection read (the strict policy, no client
  // certificate); alive as long as the connections.
  TlsRequest strict_tls_{engine_.services_.trust(), 0, false, false};
  // Engine thread: transfers paused over their rate budget, and when to resume them.
  std::vector<std::pair<Clock::time_point, Download*>> paused_;
  std::mutex mutex_;
  std::deque<std::pair<Command, std::shared_ptr<Download>>> commands_;  // guarded by mutex_
  bool quit_ = false;                                                   // guarded by mutex_
  std::thread thread_;
};

CurlMultiEngine::CurlMultiEngine(const NetworkServices& services, CurlMultiEngineOptions options)
    : services_(services), options_(options) {
  workers_ = std::make_unique<Workers>(*this, std::max<std::size_t>(options_.blocking_workers, 1));
  loop_ = std::make_unique<Loop>(*this);
}

CurlMultiEngine::~CurlMultiEngine() { Shutdown(); }

core::DownloadId CurlMultiEngine::Start(core::DownloadRequest request, core::DownloadSink& sink,
                                        DoneCallback done) {
  std::shared_ptr<Download> download;
  {
    std::lock_guard lock(mutex_);
    const core::DownloadId id = next_id_++;
    download = std::make_shared<Download>(id, std::move(request), sink, std::move(done));
    if (!shut_down_) {
      downloads_.emplace(id, download);
      loop_->Post(Loop::Command::kStart, download);
      return id;
    }
    if (!shutdown_returning_) {
      // During Shutdown (typically from a `done` it runs): Shutdown answers it before it
      // returns, as it does every other download.
      late_.push_back(std::move(download));
      return id;
    }
  }
  // After Shutdown: `done` must not run inside Start, and no engine thread is left.
  std::thread([download] { download->done(Aborted()); }).detach();
  return download->id;
}

std::shared_ptr<CurlMultiEngine::Download> CurlMultiEngine::Find(core::DownloadId id) {
  std::lock_guard lock(mutex_);
  const auto it = downloads_.find(id);
  return it == downloads_.end() ? nullptr : it->second;
}

void CurlMultiEngine::Stop(core::DownloadId id) {
  auto download = Find(id);
  if (!download) return;
  download->stop = true;  // what runs on a worker sees it in its progress callback
  std::lock_guard lock(mutex_);
  if (!shut_down_) loop_->Post(Loop::Command::kStop, std::move(download));
}

void CurlMultiEngine::SetRateLimit(core::DownloadId id, std::uint64_t bytes_per_second) {
  auto download = Find(id);
  if (!download) return;
  download->budget.SetRate(bytes_per_second);  // the transfer reads it as it goes
  std::lock_guard lock(mutex_);
  if (!shut_down_) loop_->Post(Loop::Command::kRate, std::move(download));
}

void CurlMultiEngine::Shutdown() {
  std::vector<std::shared_ptr<Download>> all;
  {
    std::lock_guard lock(mutex_);
    if (shut_down_) return;
    shut_down_ = true;
    for (auto& [id, download] : downloads_) all.push_back(download);
  }
  for (auto& download : all) download->stop = true;
  // The engine thread first (it may still hand downloads to the workers), then the workers.
  loop_->StopAndJoin();
  workers_->StopAndJoin();
  // What was started meanwhile, and what those downloads' `done`s start in turn.
  for (;;) {
    std::vector<std::shared_ptr<Download>> late;
    {
      std::lock_guard lock(mutex_);
      late.swap(late_);
      if (late.empty()) {
        shutdown_returning_ = true;
        return;
      }
    }
    for (auto& download : late) download->done(Aborted());
  }
}

CurlMultiEngineStats CurlMultiEngine::stats() const {
  return {connections_.load(), in_multi_.load(), on_workers_.load(), spare_.load()};
}

void CurlMultiEngine::Finish(const std::shared_ptr<Download>& download, Status status) {
  {
    std::lock_guard lock(mutex_);
    downloads_.erase(download->id);
  }
  download->done(std::move(status));
}

void CurlMultiEngine::ToWorkers(std::shared_ptr<Download> download) {
  if (!workers_->Post(download)) Finish(download, Aborted());
}

}  // namespace openbits::transfer
