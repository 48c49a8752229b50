// JobRun through JobManager against in-memory ports, and ThreadPoolEngine on its own:
// parallel files, the order of FileTransferred, a failing file among running ones, stops.
#include "core/job_run.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "core/job_manager.h"
#include "core/system_clock.h"
#include "core/thread_pool_engine.h"
#include "fakes/fake_ports.h"
#include "fakes/wait.h"

namespace openbits::core {
namespace {

using namespace std::chrono_literals;

using fakes::WaitUntil;

std::string Url(int i) { return "http://h/f" + std::to_string(i); }
std::string Path(int i) { return "/d/f" + std::to_string(i); }
// Distinct content per file, of a size that tells files apart in the sums.
std::string Content(int i) { return std::string(100 + 10 * i, static_cast<char>('a' + i % 26)); }

// Records FileTransferred with the store's durable syncs seen at that moment.
class OrderSink : public fakes::RecordingEventSink {
 public:
  explicit OrderSink(fakes::InMemoryJobStore& store) : store_(store) {}
  void FileTransferred(const Guid& job, std::uint32_t owner, std::uint32_t index) override {
    {
      std::lock_guard lock(mutex_);
      order_.push_back(index);
      syncs_at_signal_.push_back(store_.DurableSyncs());
    }
    fakes::RecordingEventSink::FileTransferred(job, owner, index);
  }
  std::vector<std::uint32_t> Order() {
    std::lock_guard lock(mutex_);
    return order_;
  }
  std::vector<int> SyncsAtSignal() {
    std::lock_guard lock(mutex_);
    return syncs_at_signal_;
  }

 private:
  fakes::InMemoryJobStore& store_;
  std::mutex mutex_;
  std::vector<std::uint32_t> order_;
  std::vector<int> syncs_at_signal_;
};

class JobRunTest : public ::testing::Test {
 protected:
  void StartManager(std::uint32_t parallel_files) {
    options_.parallel_files = parallel_files;
    options_.engine_threads = 32;
    options_.max_files_per_job = 1000;
    manager_ = std::make_unique<JobManager>(options_, store_, transport_, files_, events_,
                                            commands_, clock_);
    ASSERT_TRUE(manager_->Start());
  }

  Guid JobOf(int files) {
    auto id = manager_->CreateJob(alice_, "many", JobType::kDownload);
    EXPECT_TRUE(id);
    std::vector<FileSpec> specs;
    for (int i = 0; i < files; ++i) {
      transport_.Serve(Url(i), Content(i));
      specs.emplace_back(Url(i), Path(i));
    }
    EXPECT_TRUE(manager_->AddFiles(alice_, *id, specs));
    EXPECT_TRUE(manager_->SetNotifyFlags(
        alice_, *id, kNotifyFileTransferred | kNotifyJobTransferred | kNotifyJobError));
    return *id;
  }

  JobState StateOf(const Guid& id) {
    auto job = manager_->GetJob(alice_, id);
    return job ? job->state : JobState::kCancelled;
  }
  std::string TempOf(const Guid& id, int i) {
    return files_.Files()[manager_->GetJob(alice_, id)->files[i].temp_path];
  }

  const Caller alice_{1000, 1000, false};
  ManagerOptions options_;
  fakes::InMemoryJobStore store_;
  fakes::ScriptedTransport transport_;
  fakes::InMemoryFileSystem files_;
  OrderSink events_{store_};
  fakes::FakeCommandRunner commands_;
  SystemClock clock_;
  std::unique_ptr<JobManager> manager_;
};

TEST_F(JobRunTest, OneFileAtATimeByDefault) {
  StartManager(1);
  const Guid id = JobOf(3);
  transport_.Hold(Url(0));
  ASSERT_TRUE(manager_->Resume(alice_, id));
  ASSERT_TRUE(WaitUntil([&] { return TempOf(id, 0).size() == Content(0).size() / 2; }));
  // BITS order: file 1 waits for file 0.
  std::this_thread::sleep_for(50ms);  // time in which a parallel run would have started it
  EXPECT_EQ(transport_.Downloads(Url(1)), 0);
  transport_.Release(Url(0));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kTransferred; }));
  EXPECT_EQ(events_.Order(), (std::vector<std::uint32_t>{0, 1, 2}));
}

TEST_F(JobRunTest, ParallelFilesSignalFileTransferredInFileOrderAfterADurableSync) {
  StartManager(8);
  const int kFiles = 40;
  const Guid id = JobOf(kFiles);
  transport_.Hold(Url(0));  // the lowest file is the slowest
  ASSERT_TRUE(manager_->Resume(alice_, id));
  // Files after it complete (recorded in the store) while it is held ...
  ASSERT_TRUE(WaitUntil([&] {
    const Job stored = store_.Get(id);
    return stored.files[1].completed && stored.files[7].completed;
  }));
  // ... and several files were in flight at once: file 0 is still held.
  EXPECT_EQ(transport_.Downloads(Url(0)), 1);
  EXPECT_EQ(StateOf(id), JobState::kTransferring);
  // No FileTransferred before file 0's.
  EXPECT_TRUE(events_.Order().empty());
  transport_.Release(Url(0));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kTransferred; }));
  std::vector<std::uint32_t> expected;
  for (int i = 0; i < kFiles; ++i) expected.push_back(i);
  EXPECT_EQ(events_.Order(), expected);
  // Each signal came after a durable sync of the store.
  for (int syncs : events_.SyncsAtSignal()) EXPECT_GE(syncs, 1);
  // The bytes, and the progress as the sum of the files.
  std::uint64_t total = 0;
  const auto job = manager_->GetJob(alice_, id);
  for (int i = 0; i < kFiles; ++i) {
    EXPECT_EQ(TempOf(id, i), Content(i)) << "file " << i;
    total += Content(i).size();
  }
  EXPECT_EQ(job->Progress().bytes_transferred, total);
  EXPECT_EQ(job->Progress().bytes_total, total);
  EXPECT_EQ(job->Progress().files_transferred, static_cast<std::uint32_t>(kFiles));
}

TEST_F(JobRunTest, TheJobsParallelFilesPropertyOverridesTheDaemonDefault) {
  StartManager(1);  // the daemon: one file at a time
  const int kFiles = 6;
  const Guid id = JobOf(kFiles);
  ASSERT_TRUE(manager_->SetProperty(alice_, id, JobPropertyId::kParallelFiles,
                                    PropertyValue(std::uint32_t{4})));
  for (int i = 0; i < kFiles; ++i) transport_.Hold(Url(i));
  ASSERT_TRUE(manager_->Resume(alice_, id));
  // Four files in flight at once, each halfway ...
  ASSERT_TRUE(WaitUntil([&] {
    for (int i = 0; i < 4; ++i) {
      if (TempOf(id, i).size() != Content(i).size() / 2) return false;
    }
    return true;
  }));
  // ... and no fifth while they are held.
  EXPECT_EQ(transport_.Downloads(Url(4)), 0);
  // Back to the daemon's default: the files in flight finish, the rest go one by one.
  ASSERT_TRUE(manager_->SetProperty(alice_, id, JobPropertyId::kParallelFiles,
                                    PropertyValue(std::uint32_t{0})));
  for (int i = 0; i < kFiles; ++i) transport_.Release(Url(i));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kTransferred; }));
  for (int i = 0; i < kFiles; ++i) EXPECT_EQ(TempOf(id, i), Content(i)) << "file " << i;
  EXPECT_EQ(events_.Order(), (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5}));
}

TEST_F(JobRunTest, TheParallelFilesPropertyIsCheckedStoredAndReadBack) {
  StartManager(2);
  const Guid id = JobOf(1);
  auto value = manager_->GetProperty(alice_, id, JobPropertyId::kParallelFiles);
  ASSERT_TRUE(value);
  EXPECT_EQ(std::get<std::uint32_t>(*value), 0u);  // the daemon's default
  const Status too_many = manager_->SetProperty(alice_, id, JobPropertyId::kParallelFiles,
                                                PropertyValue(kMaxParallelFiles + 1));
  ASSERT_FALSE(too_many);
  EXPECT_EQ(too_many.error().code(), hr::E_INVALIDARG);
  EXPECT_NE(too_many.error().message().find("65"), std::string::npos) << too_many.error().message();
  EXPECT_EQ(
      manager_
          ->SetProperty(alice_, id, JobPropertyId::kParallelFiles, PropertyValue(std::uint64_t{8}))
          .error()
          .code(),
      hr::E_INVALIDARG);  // a DWORD, not a UINT64
  // Another user cannot change it (nor see the job).
  const Caller bob{1001, 1001, false};
  EXPECT_EQ(
      manager_->SetProperty(bob, id, JobPropertyId::kParallelFiles, PropertyValue(std::uint32_t{8}))
          .error()
          .code(),
      hr::BG_E_NOT_FOUND);
  ASSERT_TRUE(manager_->SetProperty(alice_, id, JobPropertyId::kParallelFiles,
                                    PropertyValue(kMaxParallelFiles)));
  EXPECT_EQ(store_.Get(id).parallel_files, kMaxParallelFiles);
  EXPECT_EQ(
      std::get<std::uint32_t>(*manager_->GetProperty(alice_, id, JobPropertyId::kParallelFiles)),
      kMaxParallelFiles);
  // Still settable once transferred (a state that is not final) ...
  ASSERT_TRUE(manager_->Resume(alice_, id));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kTransferred; }));
  ASSERT_TRUE(manager_->SetProperty(alice_, id, JobPropertyId::kParallelFiles,
                                    PropertyValue(std::uint32_t{3})));
  EXPECT_EQ(store_.Get(id).parallel_files, 3u);
  // ... and like every property, not once acknowledged.
  ASSERT_TRUE(manager_->Complete(alice_, id));
  EXPECT_EQ(
      manager_
          ->SetProperty(alice_, id, JobPropertyId::kParallelFiles, PropertyValue(std::uint32_t{2}))
          .error()
          .code(),
      hr::BG_E_NOT_FOUND);
}

TEST_F(JobRunTest, AFailingFileStopsTheOthersWhichKeepTheirBytes) {
  StartManager(3);
  const Guid id = JobOf(3);
  transport_.Hold(Url(0));
  transport_.Hold(Url(1));
  transport_.Gate(Url(2));
  transport_.Fail(Url(2), HttpStatusToHresult(404));
  ASSERT_TRUE(manager_->Resume(alice_, id));
  ASSERT_TRUE(WaitUntil([&] {
    return TempOf(id, 0).size() == Content(0).size() / 2 &&
           TempOf(id, 1).size() == Content(1).size() / 2;
  }));
  transport_.Ungate(Url(2));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kError; }));
  auto job = manager_->GetJob(alice_, id);
  ASSERT_TRUE(job->error);
  EXPECT_EQ(job->error->code, HttpStatusToHresult(404));
  ASSERT_TRUE(job->error->file_index);
  EXPECT_EQ(*job->error->file_index, 2u);
  // The others stop (still held: only the stop ends them) and keep what they had, recorded.
  ASSERT_TRUE(WaitUntil([&] {
    const Job stored = store_.Get(id);
    return stored.files[0].bytes_committed == Content(0).size() / 2 &&
           stored.files[1].bytes_committed == Content(1).size() / 2;
  }));
  EXPECT_EQ(TempOf(id, 0), Content(0).substr(0, Content(0).size() / 2));
  EXPECT_EQ(manager_->GetJob(alice_, id)->Progress().bytes_transferred,
            Content(0).size() / 2 + Content(1).size() / 2);
  EXPECT_TRUE(events_.Order().empty());
}

TEST_F(JobRunTest, SuspendStopsManyDownloadsInFlightAndResumeFinishesThem) {
  StartManager(16);
  const int kFiles = 24;
  const Guid id = JobOf(kFiles);
  for (int i = 0; i < kFiles; ++i) transport_.Hold(Url(i));
  ASSERT_TRUE(manager_->Resume(alice_, id));
  ASSERT_TRUE(WaitUntil([&] {
    for (int i = 0; i < 16; ++i) {
      if (TempOf(id, i).size() != Content(i).size() / 2) return false;
    }
    return true;
  }));
  EXPECT_EQ(transport_.Downloads(Url(16)), 0);  // at most parallel_files at once
  ASSERT_TRUE(manager_->Suspend(alice_, id));
  // Every download stops and checkpoints its half.
  ASSERT_TRUE(WaitUntil([&] {
    const Job stored = store_.Get(id);
    for (int i = 0; i < 16; ++i) {
      if (stored.files[i].bytes_committed != Content(i).size() / 2) return false;
    }
    return true;
  }));
  for (int i = 0; i < kFiles; ++i) transport_.Release(Url(i));
  ASSERT_TRUE(manager_->Resume(alice_, id));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kTransferred; }));
  for (int i = 0; i < kFiles; ++i) EXPECT_EQ(TempOf(id, i), Content(i)) << "file " << i;
  EXPECT_EQ(events_.Order().size(), static_cast<std::size_t>(kFiles));
}

TEST_F(JobRunTest, CancelWaitsForEveryDownloadInFlight) {
  StartManager(8);
  const Guid id = JobOf(8);
  for (int i = 0; i < 8; ++i) transport_.Hold(Url(i));
  ASSERT_TRUE(manager_->Resume(alice_, id));
  ASSERT_TRUE(WaitUntil([&] { return TempOf(id, 7).size() == Content(7).size() / 2; }));
  auto cancelled = manager_->Cancel(alice_, id);
  ASSERT_TRUE(cancelled);
  // No download wrote after Cancel deleted the temp files.
  for (const auto& [path, content] : files_.Files()) ADD_FAILURE() << path << " is left";
}

// ---- ThreadPoolEngine -----------------------------------------------------------------------

class CountingSink : public DownloadSink {
 public:
  Status OnResponse(const DownloadResponse&) override { return Ok(); }
  Status OnData(const char*, std::size_t length) override {
    bytes += length;
    return Ok();
  }
  void OnRemoteNameChanged(const std::string&) override {}
  void OnRetryAfter(std::chrono::seconds) override {}
  bool StopRequested() const override { return false; }
  std::atomic<std::uint64_t> bytes{0};
};

TEST(ThreadPoolEngineTest, StopEndsDownloadsInFlightAndShutdownAnswersTheQueue) {
  fakes::ScriptedTransport transport;
  transport.Serve("http://h/x", std::string(1000, 'x'));
  transport.Hold("http://h/x");
  ThreadPoolEngine engine(transport, 2);
  constexpr int kDownloads = 5;
  std::vector<CountingSink> sinks(kDownloads);
  std::vector<std::promise<Status>> done(kDownloads);
  std::vector<DownloadId> ids;
  for (int i = 0; i < kDownloads; ++i) {
    DownloadRequest request;
    request.url = "http://h/x";
    ids.push_back(
        engine.Start(request, sinks[i], [&done, i](Status status) { done[i].set_value(status); }));
  }
  // Two run (held at half); three wait. Stopping the first ends it with kAborted.
  ASSERT_TRUE(WaitUntil([&] { return sinks[0].bytes == 500 && sinks[1].bytes == 500; }));
  engine.Stop(ids[0]);
  auto first = done[0].get_future().get();
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code(), kAborted);
  // The next queued one takes the free thread.
  ASSERT_TRUE(WaitUntil([&] { return sinks[2].bytes == 500; }));
  engine.Shutdown();  // stops the rest: each `done` is called once, with kAborted
  for (int i = 1; i < kDownloads; ++i) {
    auto status = done[i].get_future().get();
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code(), kAborted);
  }
  EXPECT_EQ(sinks[3].bytes, 0u);
  // After Shutdown a Start is answered with kAborted, not from inside Start.
  std::promise<std::pair<Status, std::thread::id>> late;
  DownloadRequest request;
  request.url = "http://h/x";
  CountingSink sink;
  engine.Start(request, sink, [&](Status status) {
    late.set_value({status, std::this_thread::get_id()});
  });
  auto [status, thread] = late.get_future().get();
  EXPECT_EQ(status.error().code(), kAborted);
  EXPECT_NE(thread, std::this_thread::get_id());
}

// Numbers its sessions; each download records which session served it.
class NumberingTransport : public Transport {
 public:
  std::unique_ptr<TransferSession> OpenSession() override {
    return std::make_unique<Session>(*this, ++opened_);
  }
  std::vector<int> ServedBy() {
    std::lock_guard lock(mutex_);
    return served_by_;
  }

 private:
  class Session : public TransferSession {
   public:
    Session(NumberingTransport& transport, int number) : transport_(transport), number_(number) {}
    Status Download(const DownloadRequest&, DownloadSink&) override {
      std::lock_guard lock(transport_.mutex_);
      transport_.served_by_.push_back(number_);
      return Ok();
    }

   private:
    NumberingTransport& transport_;
    const int number_;
  };
  std::atomic<int> opened_{0};
  std::mutex mutex_;
  std::vector<int> served_by_;
};

TEST(ThreadPoolEngineTest, ASessionServesOneConnectionGroupAndItsChainedDownloads) {
  NumberingTransport transport;
  ThreadPoolEngine engine(transport, 4);
  CountingSink sink;
  std::promise<void> finished;
  // Group 7's three downloads, each started from the previous one's done callback (a job's
  // files one after the other), then one of group 8 started the same way.
  std::function<void(int)> chain = [&](int step) {
    DownloadRequest request;
    request.url = "http://h/x";
    request.connection_group = step < 3 ? 7 : 8;
    engine.Start(request, sink, [&, step](Status) {
      if (step < 3) {
        chain(step + 1);
      } else {
        finished.set_value();
      }
    });
  };
  chain(0);
  finished.get_future().get();
  const std::vector<int> served = transport.ServedBy();
  ASSERT_EQ(served.size(), 4u);
  // One session for group 7's chain (its connection reused) ...
  EXPECT_EQ(served[0], served[1]);
  EXPECT_EQ(served[1], served[2]);
  // ... and never the same one for another group's download.
  EXPECT_NE(served[3], served[2]);
}

}  // namespace
}  // namespace openbits::core

namespace openbits::core {
namespace {

// The manager's side of one run, scripted: one file, a helper identity that can vanish.
class ScriptedReports : public RunReports {
 public:
  explicit ScriptedReports(bool high_performance) : high_performance_(high_performance) {}
  NextFileAnswer NextFile(const Guid&, std::uint64_t, const std::vector<std::uint32_t>& busy,
                          std::optional<std::uint32_t>, FileWork& work) override {
    std::lock_guard lock(mutex_);
    if (handed_out_ || !busy.empty())
      return busy.empty() ? NextFileAnswer::kEnd : NextFileAnswer::kWait;
    handed_out_ = true;
    work.index = 0;
    work.file.remote_url = "http://h/f";
    work.file.temp_path = "/d/.f.tmp";
    work.high_performance = high_performance_;
    work.helper_uid = 4242;
    return NextFileAnswer::kFile;
  }
  Status OnResponse(const Guid&, std::uint64_t, std::uint32_t, const DownloadResponse&,
                    std::uint64_t) override {
    return Ok();
  }
  void OnProgress(const Guid&, std::uint64_t, std::uint32_t, std::uint64_t) override {}
  Status OnCheckpoint(const Guid&, std::uint64_t, std::uint32_t, std::uint64_t) override {
    return Ok();
  }
  Status CheckHelperIdentity(const Guid&, std::uint64_t) override {
    if (!helper_gone) return Ok();
    return Error(hr::BG_E_TOKEN_REQUIRED, ErrorContext::kGeneralQueueManager,
                 "the helper identity (uid 4242) no longer exists");
  }
  Status RecordFilesCompleted(const Guid&, std::uint64_t, const std::vector<CompletedFile>& files,
                              CompletionPromise&) override {
    if (before_completion) before_completion();
    std::lock_guard lock(mutex_);
    completed_ += static_cast<int>(files.size());
    return Ok();
  }
  Status PromiseFiles(const Guid&, const CompletionPromise&) override { return Ok(); }
  void OnRunFailed(const Guid&, std::uint64_t, const Error& error, std::optional<std::uint32_t>,
                   std::chrono::seconds) override {
    std::lock_guard lock(mutex_);
    failures_.push_back(error.code());
  }
  void OnRemoteNameChanged(const Guid&, std::uint64_t, std::uint32_t, const std::string&) override {
  }
  void OnFileRestart(const Guid&, std::uint64_t, std::uint32_t) override {}
  void OnRunFinished(const Guid&, std::uint64_t) override { finished_.set_value(); }

  std::atomic<bool> helper_gone{false};
  // Runs at the start of RecordFilesCompleted (a slow store write).
  std::function<void()> before_completion;
  std::future<void> Finished() { return finished_.get_future(); }
  int completed() {
    std::lock_guard lock(mutex_);
    return completed_;
  }
  std::vector<HRESULT> failures() {
    std::lock_guard lock(mutex_);
    return failures_;
  }

 private:
  const bool high_performance_;
  std::mutex mutex_;
  bool handed_out_ = false;
  int completed_ = 0;
  std::vector<HRESULT> failures_;
  std::promise<void> finished_;
};

// An engine whose one download sends ten chunks; the helper user is deleted after the first.
class ChunkEngine : public TransferEngine {
 public:
  explicit ChunkEngine(std::atomic<bool>& helper_gone) : helper_gone_(helper_gone) {}
  ~ChunkEngine() override { Shutdown(); }
  DownloadId Start(DownloadRequest, DownloadSink& sink, DoneCallback done) override {
    thread_ = std::thread([this, &sink, done = std::move(done)] {
      DownloadResponse response;
      response.bytes_total = 10 * 1000;
      Status status = sink.OnResponse(response);
      const std::string chunk(1000, 'x');
      for (int i = 0; status && i < 10; ++i) {
        status = sink.OnData(chunk.data(), chunk.size());
        if (i == 0) helper_gone_ = true;  // userdel while the file transfers
        chunks_sent = i + 1;
      }
      done(std::move(status));
    });
    return 1;
  }
  void Stop(DownloadId) override {}
  void SetRateLimit(DownloadId, std::uint64_t) override {}
  void Shutdown() override {
    if (thread_.joinable()) thread_.join();
  }
  std::atomic<int> chunks_sent{0};

 private:
  std::atomic<bool>& helper_gone_;
  std::thread thread_;
};

// A helper user deleted mid-file is noticed before the file completes, also for a
// HIGH_PERFORMANCE job (which makes no periodic durable checkpoints).
void CheckHelperDeletedMidFileFailsTheRun(bool high_performance) {
  ScriptedReports reports(high_performance);
  ChunkEngine engine(reports.helper_gone);
  fakes::InMemoryFileSystem files;
  RunOptions options;
  options.checkpoint_interval = 0ms;  // every chunk is a checkpoint's moment
  auto control = std::make_shared<RunControl>();
  auto run =
      std::make_shared<JobRun>(Guid::Generate(), 1, control, reports, engine, files, options);
  auto finished = reports.Finished();
  run->Start();
  ASSERT_EQ(finished.wait_for(10s), std::future_status::ready);
  engine.Shutdown();
  EXPECT_EQ(reports.completed(), 0) << "the file completed as a user that no longer exists";
  EXPECT_EQ(reports.failures(), std::vector<HRESULT>{hr::BG_E_TOKEN_REQUIRED});
  EXPECT_LT(engine.chunks_sent.load(), 10) << "the whole file came as a deleted user";
}

TEST(JobRunHelperTest, AHelperDeletedMidFileFailsTheRun) {
  CheckHelperDeletedMidFileFailsTheRun(false);
}

TEST(JobRunHelperTest, AHelperDeletedMidFileFailsAHighPerformanceRunToo) {
  CheckHelperDeletedMidFileFailsTheRun(true);
}

// An engine whose one download is a short file, answered on the engine's own thread; it
// notes when `done` has returned, i.e. when its thread could move other transfers again.
class OneFileEngine : public TransferEngine {
 public:
  ~OneFileEngine() override { Shutdown(); }
  DownloadId Start(DownloadRequest, DownloadSink& sink, DoneCallback done) override {
    thread_ = std::thread([this, &sink, done = std::move(done)] {
      DownloadResponse response;
      response.bytes_total = 3;
      Status status = sink.OnResponse(response);
      if (status) status = sink.OnData("abc", 3);
      done(std::move(status));
      done_returned.set_value();
    });
    return 1;
  }
  void Stop(DownloadId) override {}
  void SetRateLimit(DownloadId, std::uint64_t) override {}
  void Shutdown() override {
    if (thread_.joinable()) thread_.join();
  }
  std::promise<void> done_returned;

 private:
  std::thread thread_;
};

// The end of a file (its sync, its record, the wait for the store's group commit) does not
// hold the engine's thread: with the engine's thread held, every other transfer would stall
// for as long as one file's completion takes.
TEST(JobRunCompletionTest, TheEnginesThreadIsFreeWhileAFileCompletionWaits) {
  ScriptedReports reports(false);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  reports.before_completion = [released] { released.wait(); };
  OneFileEngine engine;
  fakes::InMemoryFileSystem files;
  TaskPool completions(1);
  RunOptions options;
  options.completions = &completions;
  auto control = std::make_shared<RunControl>();
  auto run =
      std::make_shared<JobRun>(Guid::Generate(), 1, control, reports, engine, files, options);
  auto finished = reports.Finished();
  auto done_returned = engine.done_returned.get_future();
  run->Start();
  const bool engine_free = done_returned.wait_for(10s) == std::future_status::ready;
  EXPECT_TRUE(engine_free) << "the engine's thread waited for the file's completion";
  EXPECT_EQ(reports.completed(), 0);
  release.set_value();
  ASSERT_EQ(finished.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(reports.completed(), 1);
  EXPECT_TRUE(reports.failures().empty());
  engine.Shutdown();
}

}  // namespace
}  // namespace openbits::core

namespace openbits::core {
namespace {

// The first durable sync fails, and only once a second one has begun (two files' completions
// made durable at once, the first of them on a failing device moment).
class FirstSyncFailsStore : public fakes::InMemoryJobStore {
 public:
  Status SyncDurable() override {
    std::unique_lock lock(mutex_);
    const int call = ++calls_;
    changed_.notify_all();
    if (call != 1) {
      lock.unlock();
      return InMemoryJobStore::SyncDurable();
    }
    changed_.wait_for(lock, 10s, [this] { return calls_ >= 2; });
    return Error(hr::E_FAIL, ErrorContext::kGeneralQueueManager, "fdatasync: Input/output error");
  }
  bool WaitForFirstSync() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [this] { return calls_ >= 1; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int calls_ = 0;
};

// File 0's completion fails to become durable while file 1's sync (which covers file 0's
// record too) succeeds: FileTransferred comes for 0, then 1, never for 1 alone.
TEST(JobRunSignalTest, AFailedSyncOfAnEarlierFileDoesNotReorderFileTransferred) {
  FirstSyncFailsStore store;
  fakes::ScriptedTransport transport;
  fakes::InMemoryFileSystem files;
  OrderSink events(store);
  fakes::FakeCommandRunner commands;
  SystemClock clock;
  ManagerOptions options;
  options.parallel_files = 2;
  options.engine_threads = 4;
  JobManager manager(options, store, transport, files, events, commands, clock);
  ASSERT_TRUE(manager.Start());
  const Caller alice{1000, 1000, false};
  auto id = manager.CreateJob(alice, "two", JobType::kDownload);
  ASSERT_TRUE(id);
  transport.Serve(Url(0), Content(0));
  transport.Serve(Url(1), Content(1));
  transport.Hold(Url(1));  // file 1 completes only once file 0's sync is under way
  ASSERT_TRUE(manager.AddFiles(alice, *id, {FileSpec(Url(0), Path(0)), FileSpec(Url(1), Path(1))}));
  ASSERT_TRUE(manager.SetNotifyFlags(alice, *id, kNotifyFileTransferred | kNotifyJobTransferred));
  ASSERT_TRUE(manager.Resume(alice, *id));
  ASSERT_TRUE(store.WaitForFirstSync());
  transport.Release(Url(1));
  // The failed sync fails the run (its error is the job's); what both syncs made durable is
  // still promised in file order: file 1's successful sync covers file 0's record too.
  ASSERT_TRUE(WaitUntil([&] {
    auto job = manager.GetJob(alice, *id);
    return job && job->state == JobState::kError && !events.Order().empty();
  }));
  EXPECT_EQ(events.Order(), (std::vector<std::uint32_t>{0, 1}))
      << "FileTransferred(1) came without FileTransferred(0) before it";
  manager.Stop();
}

}  // namespace
}  // namespace openbits::core

namespace openbits::core {
namespace {

// A `done` that Shutdown runs may start another download (a job run filling its next file):
// that one's `done` also comes before Shutdown returns, not later on a thread of its own.
TEST(ThreadPoolEngineShutdownTest, ADownloadStartedWhileShuttingDownIsAnsweredBeforeItReturns) {
  fakes::ScriptedTransport transport;
  transport.Serve("http://h/x", std::string(1000, 'x'));
  transport.Hold("http://h/x");
  ThreadPoolEngine engine(transport, 2);
  std::mutex mutex;
  std::condition_variable changed;
  bool shutdown_returned = false;
  bool late_after_shutdown = false;
  std::optional<Status> late_status;
  CountingSink first_sink, late_sink;
  DownloadRequest request;
  request.url = "http://h/x";
  engine.Start(request, first_sink, [&](Status) {
    engine.Start(request, late_sink, [&](Status late) {
      // Waits a while for Shutdown to return: it must not have.
      std::unique_lock lock(mutex);
      late_after_shutdown = changed.wait_for(lock, 1s, [&] { return shutdown_returned; });
      late_status = std::move(late);
      changed.notify_all();
    });
  });
  ASSERT_TRUE(WaitUntil([&] { return first_sink.bytes == 500; }));
  engine.Shutdown();
  std::unique_lock lock(mutex);
  shutdown_returned = true;
  changed.notify_all();
  ASSERT_TRUE(changed.wait_for(lock, 5s, [&] { return late_status.has_value(); }));
  EXPECT_FALSE(late_after_shutdown) << "the late download's done ran after Shutdown returned";
  ASSERT_FALSE(*late_status);
  EXPECT_EQ(late_status->error().code(), kAborted);
}

}  // namespace
}  // namespace openbits::core
