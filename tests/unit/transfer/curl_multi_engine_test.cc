// CurlMultiEngine through the TransferEngine port, against real peers on loopback: the
// project's range server (keep-alive, ranges, If-Range, throttling), Apache with Basic and
// Digest, squid as an open proxy and as one that demands Basic.
#include "transfer/curl_multi_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "harness/auth_peers.h"
#include "harness/harness.h"
#include "harness/proxy_peers.h"

namespace openbits::transfer {
namespace {

using namespace std::chrono_literals;

// Keeps what a download received; readable from the test thread while it runs.
class RecordingSink : public core::DownloadSink {
 public:
  Status OnResponse(const core::DownloadResponse& response) override {
    std::lock_guard lock(mutex_);
    response_ = response;
    if (response.restart_from_zero) body_.clear();
    ++responses_;
    return Ok();
  }
  Status OnData(const char* data, std::size_t length) override {
    std::lock_guard lock(mutex_);
    body_.append(data, length);
    received_ += length;
    return Ok();
  }
  void OnRemoteNameChanged(const std::string&) override {}
  void OnRetryAfter(std::chrono::seconds) override {}
  bool StopRequested() const override { return false; }

  std::uint64_t received() const { return received_.load(); }
  std::string body() const {
    std::lock_guard lock(mutex_);
    return body_;
  }
  core::DownloadResponse response() const {
    std::lock_guard lock(mutex_);
    return response_;
  }

 private:
  mutable std::mutex mutex_;
  std::string body_;
  core::DownloadResponse response_;
  int responses_ = 0;
  std::atomic<std::uint64_t> received_{0};
};

// The `done` of one download, waited on by the test.
class Outcome {
 public:
  core::TransferEngine::DoneCallback Callback() {
    return [this](Status status) {
      std::lock_guard lock(mutex_);
      status_ = std::move(status);
      ++calls_;
      changed_.notify_all();
    };
  }
  // The status, or nullopt when `done` did not come in time.
  std::optional<Status> Wait(std::chrono::milliseconds timeout = 30s) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [this] { return calls_ > 0; })) return std::nullopt;
    return status_;
  }
  int calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  Status status_ = Ok();
  int calls_ = 0;
};

class CurlMultiEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(www());
    CurlTransportOptions options;
    options.auth.allow_basic_over_http = true;  // the peers are plain http on loopback
    auto services = NetworkServices::Create(options, nullptr, nullptr);
    ASSERT_TRUE(services) << services.error().ToString();
    services_ = std::move(*services);
    engine_ = std::make_unique<CurlMultiEngine>(*services_);
  }
  void TearDown() override { engine_.reset(); }

  std::string www() const { return dir_ / "www"; }
  core::DownloadRequest Get(const std::string& url) {
    core::DownloadRequest request;
    request.url = url;
    request.proxy.usage = ProxyUsage::kNoProxy;
    return request;
  }
  // Runs one download to its end.
  Status Fetch(const core::DownloadRequest& request, RecordingSink& sink) {
    Outcome outcome;
    engine_->Start(request, sink, outcome.Callback());
    auto status = outcome.Wait();
    if (!status) return Error(hr::E_FAIL, ErrorContext::kNone, "done never came");
    return *status;
  }

  void CheckRateLimitIsFollowed(core::DownloadRequest request);

  harness::TempDir dir_;
  std::unique_ptr<NetworkServices> services_;
  std::unique_ptr<CurlMultiEngine> engine_;
};

TEST_F(CurlMultiEngineTest, ManySmallFilesSixteenInFlightAreByteExactOverReusedConnections) {
  constexpr int kFiles = 500;
  constexpr int kInFlight = 16;
  for (int i = 0; i < kFiles; ++i) {
    harness::WriteRandomFile(www() + "/f" + std::to_string(i), 16 * 1024, i + 1);
  }
  harness::RangeServer server(dir_, www());
  std::vector<RecordingSink> sinks(kFiles);
  std::mutex mutex;
  std::condition_variable changed;
  int next = 0, finished = 0;
  std::vector<std::optional<Status>> results(kFiles);
  std::function<void()> start_next = [&] {  // REQUIRES: mutex held
    const int i = next++;
    engine_->Start(Get(server.Url("/f" + std::to_string(i))), sinks[i], [&, i](Status status) {
      std::lock_guard lock(mutex);
      results[i] = std::move(status);
      ++finished;
      if (next < kFiles) start_next();
      changed.notify_all();
    });
  };
  {
    std::unique_lock lock(mutex);
    for (int i = 0; i < kInFlight; ++i) start_next();
    ASSERT_TRUE(changed.wait_for(lock, 120s, [&] { return finished == kFiles; }));
  }
  for (int i = 0; i < kFiles; ++i) {
    ASSERT_TRUE(results[i] && *results[i]) << i << ": " << results[i]->error().ToString();
    ASSERT_EQ(sinks[i].body(), harness::ReadFile(www() + "/f" + std::to_string(i))) << i;
  }
  const auto stats = engine_->stats();
  EXPECT_EQ(stats.downloads_in_multi, kFiles);
  EXPECT_EQ(stats.downloads_on_workers, 0u);
  // Keep-alive across files: about one connection per download in flight, not per file.
  EXPECT_GE(stats.connections_opened, 1u);
  EXPECT_LE(stats.connections_opened, 3u * kInFlight) << "connections were not reused";
}

TEST_F(CurlMultiEngineTest, ABurstOfDownloadsKeepsAtMostMaxSpareHandlesOnceItEnds) {
  constexpr int kFiles = 40;
  for (int i = 0; i < kFiles; ++i) {
    harness::WriteRandomFile(www() + "/f" + std::to_string(i), 4 * 1024, i + 1);
  }
  harness::RangeServer server(dir_, www());
  CurlMultiEngineOptions options;
  options.max_spare_handles = 8;
  engine_ = std::make_unique<CurlMultiEngine>(*services_, options);
  // All at once: the engine needs 40 easy handles while they run.
  std::vector<RecordingSink> sinks(kFiles);
  std::vector<Outcome> outcomes(kFiles);
  for (int i = 0; i < kFiles; ++i) {
    engine_->Start(Get(server.Url("/f" + std::to_string(i))), sinks[i], outcomes[i].Callback());
  }
  for (int i = 0; i < kFiles; ++i) {
    auto status = outcomes[i].Wait();
    ASSERT_TRUE(status && *status) << i;
    EXPECT_EQ(sinks[i].body(), harness::ReadFile(www() + "/f" + std::to_string(i))) << i;
  }
  EXPECT_EQ(engine_->stats().downloads_in_multi, static_cast<std::uint64_t>(kFiles));
  EXPECT_EQ(engine_->stats().spare_handles, 8u) << "the burst's extra handles were kept";
  // The spares are used again: another file takes one and gives it back.
  RecordingSink again;
  ASSERT_TRUE(Fetch(Get(server.Url("/f0")), again));
  EXPECT_EQ(engine_->stats().spare_handles, 8u);
}

TEST_F(CurlMultiEngineTest, ResumeSendsIfRangeAndAppendsTheRestOfTheSameVersion) {
  harness::WriteRandomFile(www() + "/r.bin", 100'000, 7);
  harness::RangeServer server(dir_, www());
  RecordingSink first;
  ASSERT_TRUE(Fetch(Get(server.Url("/r.bin")), first));
  const core::RemoteValidators validators = first.response().validators;
  ASSERT_FALSE(validators.etag.empty());

  core::DownloadRequest resume = Get(server.Url("/r.bin"));
  resume.offset = 40'000;
  resume.validators = validators;
  resume.known_total = 100'000;
  RecordingSink rest;
  ASSERT_TRUE(Fetch(resume, rest));
  EXPECT_FALSE(rest.response().restart_from_zero);
  EXPECT_EQ(rest.response().bytes_total, 100'000u);
  EXPECT_EQ(rest.body(), harness::ReadFile(www() + "/r.bin").substr(40'000));
  const auto log = server.LogLines();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_NE(log[1].find("\"range\": \"bytes=40000-\""), std::string::npos) << log[1];
  std::string etag = validators.etag;  // "..." in the JSON log, its quotes escaped
  std::erase(etag, '"');
  EXPECT_NE(log[1].find("\"if_range\": \"\\\"" + etag + "\\\"\""), std::string::npos) << log[1];
}

TEST_F(CurlMultiEngineTest, ResumeOfAChangedFileRestartsFromZero) {
  harness::WriteRandomFile(www() + "/c.bin", 50'000, 8);
  harness::RangeServer server(dir_, www());
  RecordingSink first;
  ASSERT_TRUE(Fetch(Get(server.Url("/c.bin")), first));
  harness::WriteRandomFile(www() + "/c.bin", 60'000, 9);  // another version
  core::DownloadRequest resume = Get(server.Url("/c.bin"));
  resume.offset = 20'000;
  resume.validators = first.response().validators;
  resume.known_total = 50'000;
  RecordingSink again;
  ASSERT_TRUE(Fetch(resume, again));
  EXPECT_TRUE(again.response().restart_from_zero);
  EXPECT_EQ(again.body(), harness::ReadFile(www() + "/c.bin"));
}

TEST_F(CurlMultiEngineTest, StopOfARunningDownloadEndsItPromptlyWithAbort) {
  harness::WriteRandomFile(www() + "/slow.bin", 10 * 1024 * 1024, 3);
  harness::RangeServer server(dir_, www());
  RecordingSink sink;
  Outcome outcome;
  const auto id =
      engine_->Start(Get(server.Url("/slow.bin?rate=100000")), sink, outcome.Callback());
  ASSERT_TRUE(harness::WaitUntil([&] { return sink.received() > 0; }));
  const auto asked = std::chrono::steady_clock::now();
  engine_->Stop(id);
  const auto status = outcome.Wait(5s);
  ASSERT_TRUE(status) << "done did not come after Stop";
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 2s * harness::kTimeScale);
  ASSERT_FALSE(*status);
  EXPECT_EQ(status->error().code(), core::kAborted);
  EXPECT_LT(sink.received(), 10u * 1024 * 1024);
  engine_->Stop(id);  // finished already: ignored
  EXPECT_EQ(outcome.calls(), 1);
}

// Starts `request` for a 64 MiB file and changes its budget while it runs.
void CurlMultiEngineTest::CheckRateLimitIsFollowed(core::DownloadRequest request) {
  harness::WriteRandomFile(www() + "/big.bin", 64 * 1024 * 1024, 4);
  harness::RangeServer server(dir_, www());
  request.url = server.Url("/big.bin");
  RecordingSink sink;
  Outcome outcome;
  const auto id = engine_->Start(request, sink, outcome.Callback());
  engine_->SetRateLimit(id, 128 * 1024);
  ASSERT_TRUE(harness::WaitUntil([&] { return sink.received() > 0; }));
  // Bytes over a window, with generous bounds: a budget of 128 KiB/s moves far less than
  // 1 MiB in 2 s, and an unthrottled local transfer far more.
  auto window = [&] {
    const std::uint64_t before = sink.received();
    std::this_thread::sleep_for(2s);
    return sink.received() - before;
  };
  std::this_thread::sleep_for(500ms);  // past the burst of the start
  const std::uint64_t slow = window();
  EXPECT_LT(slow, 1024u * 1024) << "the rate limit was not applied";
  EXPECT_GT(slow, 64u * 1024) << "the transfer stalled under the limit";
  engine_->SetRateLimit(id, 2 * 1024 * 1024);
  std::this_thread::sleep_for(500ms);
  const std::uint64_t faster = window();
  EXPECT_GT(faster, 2u * 1024 * 1024) << "raising the limit did not speed the transfer up";
  EXPECT_LT(faster, 10u * 1024 * 1024) << "the new limit was not applied";
  engine_->SetRateLimit(id, 0);
  const auto status = outcome.Wait(60s);
  ASSERT_TRUE(status && *status);
  EXPECT_EQ(harness::Sha256OfFile(www() + "/big.bin"), [&] {
    harness::WriteFile(dir_ / "got.bin", sink.body());
    return harness::Sha256OfFile(dir_ / "got.bin");
  }());
}

TEST_F(CurlMultiEngineTest, RateLimitChangedMidTransferIsFollowedInMulti) {
  CheckRateLimitIsFollowed(Get(""));
  EXPECT_EQ(engine_->stats().downloads_in_multi, 1u);
}

TEST_F(CurlMultiEngineTest, RateLimitChangedMidTransferIsFollowedOnTheWorkers) {
  core::DownloadRequest request = Get("");
  core::Credential credential;  // an Authenticator: the request runs on the workers
  credential.user = SecretString("alice");
  credential.password = SecretString("alicepw");
  request.credentials.Set(credential);
  CheckRateLimitIsFollowed(request);
  EXPECT_EQ(engine_->stats().downloads_on_workers, 1u);
}

TEST_F(CurlMultiEngineTest, ChallengeMetInMultiMovesToTheWorkersAndIsAnsweredThere) {
  // Without credentials the Authenticator has nothing to answer with: the blocking path
  // says so, after the request moved there (two requests reached the server).
  harness::RangeServer server(dir_, www());
  RecordingSink sink;
  const Status status = Fetch(Get(server.Url("/challenge/401?len=10")), sink);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code(), static_cast<HRESULT>(0x80190191)) << status.error().ToString();
  EXPECT_EQ(engine_->stats().downloads_on_workers, 1u);
  // The server logs a challenge once its body is out, maybe after the client is done.
  EXPECT_TRUE(harness::WaitUntil([&] { return server.LogLines().size() == 2; }, 5s))
      << ::testing::PrintToString(server.LogLines());
}

TEST_F(CurlMultiEngineTest, BasicAndDigestChallengesAreAnsweredOnTheWorkers) {
  if (!harness::AuthApache::Installed() || !harness::Kdc::Installed()) {
    GTEST_SKIP() << "Apache or the KDC is not installed";
  }
  harness::Kdc kdc(dir_);
  harness::WriteRandomFile(www() + "/secret.bin", 300'000, 5);
  harness::AuthApache apache(dir_, www(), kdc);
  for (const auto& [path, scheme] : {std::pair{"/basic/secret.bin", AuthScheme::kBasic},
                                     std::pair{"/digest/secret.bin", AuthScheme::kDigest}}) {
    core::DownloadRequest request = Get(apache.Url(path));
    core::Credential credential;
    credential.target = AuthTarget::kServer;
    credential.scheme = scheme;
    credential.user = SecretString("alice");
    credential.password = SecretString("alicepw");
    request.credentials.Set(credential);
    RecordingSink sink;
    const Status status = Fetch(request, sink);
    ASSERT_TRUE(status) << path << ": " << status.error().ToString();
    EXPECT_EQ(sink.body(), harness::ReadFile(www() + "/secret.bin")) << path;
  }
  EXPECT_EQ(engine_->stats().downloads_on_workers, 2u);
  // The server checked the answers: alice got the file under each scheme (Apache logs a
  // request once it is over, maybe after the client is done).
  auto has = [&](const std::string& entry) {
    const auto log = apache.AccessLog();
    return std::find(log.begin(), log.end(), entry) != log.end();
  };
  EXPECT_TRUE(harness::WaitUntil([&] { return has("206 alice Basic  /basic/secret.bin"); }, 5s));
  EXPECT_TRUE(harness::WaitUntil([&] { return has("206 alice Digest  /digest/secret.bin"); }, 5s))
      << ::testing::PrintToString(apache.AccessLog());
}

TEST_F(CurlMultiEngineTest, FixedProxyRunsInMultiAndAProxyChallengeOnTheWorkers) {
  if (!harness::Squid::Installed()) GTEST_SKIP() << "squid is not installed";
  harness::WriteRandomFile(www() + "/p.bin", 200'000, 6);
  harness::RangeServer server(dir_, www());
  harness::Squid open_proxy(dir_, "open", "none");
  harness::Squid basic_proxy(dir_, "basic", "basic");

  core::DownloadRequest via_open = Get(server.Url("/p.bin"));
  via_open.proxy = {ProxyUsage::kOverride, "http://" + open_proxy.Address(), ""};
  RecordingSink open_sink;
  ASSERT_TRUE(Fetch(via_open, open_sink));
  EXPECT_EQ(open_sink.body(), harness::ReadFile(www() + "/p.bin"));
  EXPECT_EQ(engine_->stats().downloads_in_multi, 1u);
  EXPECT_TRUE(harness::WaitUntil(
      [&] {
        for (const std::string& line : open_proxy.AccessLog()) {
          if (line.find("/206 ") != std::string::npos && line.find("/p.bin") != std::string::npos) {
            return true;
          }
        }
        return false;
      },
      5s))
      << "the request did not go through the proxy";

  core::DownloadRequest via_basic = Get(server.Url("/p.bin"));
  via_basic.proxy = {ProxyUsage::kOverride, "http://" + basic_proxy.Address(), ""};
  core::Credential credential;
  credential.target = AuthTarget::kProxy;
  credential.scheme = AuthScheme::kBasic;
  credential.user = SecretString("alice");
  credential.password = SecretString("alicepw");
  via_basic.credentials.Set(credential);
  RecordingSink basic_sink;
  const Status status = Fetch(via_basic, basic_sink);
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(basic_sink.body(), harness::ReadFile(www() + "/p.bin"));
  EXPECT_EQ(engine_->stats().downloads_on_workers, 1u);
  // squid logs a transaction once it is over, maybe after the client is done.
  auto alice_seen = [&] {
    for (const std::string& line : basic_proxy.AccessLog()) {
      if (line.find(" alice ") != std::string::npos &&
          line.find("TCP_MISS/206 ") != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(harness::WaitUntil(alice_seen, 5s))
      << ::testing::PrintToString(basic_proxy.AccessLog());
}

TEST_F(CurlMultiEngineTest, StopOfADownloadWaitingForABusyWorkerEndsItAtOnce) {
  CurlMultiEngine engine(*services_, {.blocking_workers = 1});
  harness::WriteRandomFile(www() + "/w.bin", 4 * 1024 * 1024, 11);
  harness::RangeServer server(dir_, www());
  core::DownloadRequest request = Get(server.Url("/w.bin?rate=50000"));
  core::Credential credential;  // an Authenticator: the requests run on the one worker
  credential.user = SecretString("alice");
  credential.password = SecretString("alicepw");
  request.credentials.Set(credential);
  RecordingSink busy_sink, queued_sink;
  Outcome busy, queued;
  engine.Start(request, busy_sink, busy.Callback());
  ASSERT_TRUE(harness::WaitUntil([&] { return busy_sink.received() > 0; }));
  const auto id = engine.Start(request, queued_sink, queued.Callback());
  engine.Stop(id);
  const auto status = queued.Wait(2s * harness::kTimeScale);
  ASSERT_TRUE(status) << "the queued download waited for the busy worker";
  ASSERT_FALSE(*status);
  EXPECT_EQ(status->error().code(), core::kAborted);
  EXPECT_EQ(busy.calls(), 0) << "the running download was not to be touched";
  EXPECT_EQ(queued_sink.received(), 0u);
  // The busy download still runs: it must end before its sink and outcome (declared after
  // the engine) go out of scope.
  engine.Shutdown();
}

TEST_F(CurlMultiEngineTest, ShutdownWithDownloadsInFlightEndsEachOnceWithAbort) {
  harness::WriteRandomFile(www() + "/s.bin", 4 * 1024 * 1024, 10);
  harness::RangeServer server(dir_, www());
  constexpr int kDownloads = 12;
  std::vector<RecordingSink> sinks(kDownloads);
  std::vector<Outcome> outcomes(kDownloads);
  for (int i = 0; i < kDownloads; ++i) {
    core::DownloadRequest request = Get(server.Url("/s.bin?rate=50000"));
    if (i % 4 == 0) {
      // Some on the workers too: credentials mean an Authenticator, a blocking step.
      core::Credential credential;
      credential.user = SecretString("alice");
      credential.password = SecretString("alicepw");
      request.credentials.Set(credential);
    }
    engine_->Start(request, sinks[i], outcomes[i].Callback());
  }
  ASSERT_TRUE(harness::WaitUntil([&] { return sinks[1].received() > 0; }));
  engine_->Shutdown();  // returns once every done has returned
  for (int i = 0; i < kDownloads; ++i) {
    ASSERT_EQ(outcomes[i].calls(), 1) << i;
    const auto status = outcomes[i].Wait(0ms);
    ASSERT_FALSE(*status) << i;
    EXPECT_EQ(status->error().code(), core::kAborted) << i << ": " << status->error().ToString();
  }
  RecordingSink late_sink;
  Outcome late;
  engine_->Start(Get(server.Url("/s.bin")), late_sink, late.Callback());
  const auto status = late.Wait(5s);
  ASSERT_TRUE(status);
  ASSERT_FALSE(*status);
  EXPECT_EQ(status->error().code(), core::kAborted);
}

}  // namespace
}  // namespace openbits::transfer

namespace openbits::transfer {
namespace {

// One connection cache serves every job: a connection that a job's BG_SSL_IGNORE_* flag let
// through must never carry the request of a job without it.
TEST_F(CurlMultiEngineTest, AConnectionAcceptedUnderAnIgnoreFlagIsNotReusedWithoutIt) {
  harness::WriteFile(www() + "/f.txt", "over tls\n");
  const auto pki = harness::MakeTestPki(dir_, "untrusted");  // a CA nobody trusts
  harness::RangeServer server(dir_, www(), pki);
  core::DownloadRequest lenient = Get(server.Url("/f.txt"));
  lenient.security_flags = kSslIgnoreUnknownCa;
  RecordingSink first;
  const Status accepted = Fetch(lenient, first);
  ASSERT_TRUE(accepted) << accepted.error().ToString();
  EXPECT_EQ(first.body(), "over tls\n");

  RecordingSink second;
  const Status strict = Fetch(Get(server.Url("/f.txt")), second);
  ASSERT_FALSE(strict) << "the strict job rode on the lenient job's connection";
  EXPECT_EQ(strict.error().code(), hr::WINHTTP_SECURE_INVALID_CA) << strict.error().ToString();
  EXPECT_EQ(second.body(), "");
}

}  // namespace
}  // namespace openbits::transfer

namespace openbits::transfer {
namespace {

// A job's custom headers may carry a secret that a server binds to the connection (an
// "Authorization: Negotiate" header authenticates an IIS connection, not one request): a
// connection that carried them is never handed to another job, and such a request never
// rides on a connection another job left in the cache.
TEST_F(CurlMultiEngineTest, AConnectionThatCarriedCustomHeadersIsNeverReused) {
  harness::WriteFile(www() + "/f.txt", "shared?\n");
  harness::RangeServer server(dir_, www());
  core::DownloadRequest secret = Get(server.Url("/f.txt"));
  secret.custom_headers = SecretString("Authorization: Negotiate c2VjcmV0\r\n");
  secret.connection_group = 1;
  RecordingSink first;
  const Status with_headers = Fetch(secret, first);
  ASSERT_TRUE(with_headers) << with_headers.error().ToString();
  EXPECT_EQ(first.body(), "shared?\n");
  EXPECT_EQ(engine_->stats().connections_opened, 1u);

  core::DownloadRequest anonymous = Get(server.Url("/f.txt"));
  anonymous.connection_group = 2;
  RecordingSink second;
  const Status plain = Fetch(anonymous, second);
  ASSERT_TRUE(plain) << plain.error().ToString();
  EXPECT_EQ(second.body(), "shared?\n");
  EXPECT_EQ(engine_->stats().connections_opened, 2u)
      << "another job's request rode on the connection that carried a job's custom headers";

  // The other way round: the anonymous connection now in the cache is not taken either.
  RecordingSink third;
  const Status again = Fetch(secret, third);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(engine_->stats().connections_opened, 3u)
      << "a request with custom headers rode on a connection from the cache";

  // Anonymous requests still share.
  RecordingSink fourth;
  ASSERT_TRUE(Fetch(anonymous, fourth));
  EXPECT_EQ(engine_->stats().connections_opened, 3u) << "anonymous requests stopped sharing";
}

}  // namespace
}  // namespace openbits::transfer

namespace openbits::transfer {
namespace {

// A `done` that Shutdown runs may start another download (a job run filling its next file):
// that one's `done` also comes before Shutdown returns, not later on a thread of its own
// (when whatever it calls into may be gone).
TEST_F(CurlMultiEngineTest, ADownloadStartedWhileShuttingDownIsAnsweredBeforeShutdownReturns) {
  harness::WriteRandomFile(www() + "/s.bin", 4 * 1024 * 1024, 11);
  harness::RangeServer server(dir_, www());
  std::atomic<bool> shutdown_returned{false};
  std::mutex mutex;
  std::condition_variable changed;
  std::optional<Status> late_status;
  bool late_after_shutdown = false;
  RecordingSink first_sink, late_sink;
  Outcome first;
  auto first_done = first.Callback();
  engine_->Start(Get(server.Url("/s.bin?rate=50000")), first_sink, [&](Status status) {
    engine_->Start(Get(server.Url("/s.bin")), late_sink, [&](Status late) {
      // Waits a while for Shutdown to return: it must not have.
      std::unique_lock lock(mutex);
      late_after_shutdown = changed.wait_for(lock, 1s, [&] { return shutdown_returned.load(); });
      late_status = std::move(late);
    });
    first_done(std::move(status));
  });
  ASSERT_TRUE(harness::WaitUntil([&] { return first_sink.received() > 0; }));
  engine_->Shutdown();
  {
    std::lock_guard lock(mutex);
    shutdown_returned = true;
  }
  changed.notify_all();
  ASSERT_EQ(first.calls(), 1);
  std::unique_lock lock(mutex);
  ASSERT_TRUE(changed.wait_for(lock, 5s, [&] { return late_status.has_value(); }));
  EXPECT_FALSE(late_after_shutdown) << "the late download's done ran after Shutdown returned";
  ASSERT_FALSE(*late_status);
  EXPECT_EQ(late_status->error().code(), core::kAborted);
}

}  // namespace
}  // namespace openbits::transfer
