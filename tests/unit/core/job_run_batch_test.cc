// JobRun's work off the engine's thread: the records of completed files (the files that end
// while a record is being written go into the store together, in one write) and the
// periodic checkpoints of a long file (made on the completion pool).
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "core/job_run.h"
#include "fakes/fake_ports.h"

namespace openbits::core {
namespace {

using namespace std::chrono_literals;

// The manager's side: hands out `count` files and notes the size of every record; the first
// record waits until the test lets it go (a slow store write).
class BatchReports : public RunReports {
 public:
  explicit BatchReports(std::uint32_t count) : count_(count) {}
  NextFileAnswer NextFile(const Guid&, std::uint64_t, const std::vector<std::uint32_t>& busy,
                          std::optional<std::uint32_t>, FileWork& work) override {
    std::lock_guard lock(mutex_);
    if (next_ == count_) return busy.empty() ? NextFileAnswer::kEnd : NextFileAnswer::kWait;
    work.index = next_++;
    work.file.remote_url = "http://h/f" + std::to_string(work.index);
    work.file.temp_path = "/d/.f" + std::to_string(work.index) + ".tmp";
    work.parallel_files = count_;
    return NextFileAnswer::kFile;
  }
  Status OnResponse(const Guid&, std::uint64_t, std::uint32_t index, const DownloadResponse&,
                    std::uint64_t) override {
    std::lock_guard lock(mutex_);
    // Told before the file's record, always.
    for (const auto& record : records_) {
      for (const CompletedFile& file : record) EXPECT_NE(file.index, index);
    }
    responses_.emplace_back(index, std::this_thread::get_id());
    return Ok();
  }
  std::vector<std::pair<std::uint32_t, std::thread::id>> responses() {
    std::lock_guard lock(mutex_);
    return responses_;
  }
  void OnProgress(const Guid&, std::uint64_t, std::uint32_t, std::uint64_t) override {}
  Status OnCheckpoint(const Guid&, std::uint64_t, std::uint32_t, std::uint64_t bytes) override {
    if (on_checkpoint) on_checkpoint();
    std::lock_guard lock(mutex_);
    checkpoints_.push_back(bytes);
    return Ok();
  }
  Status CheckHelperIdentity(const Guid&, std::uint64_t) override { return Ok(); }
  Status RecordFilesCompleted(const Guid&, std::uint64_t, const std::vector<CompletedFile>& files,
                              CompletionPromise&) override {
    bool first = false;
    {
      std::lock_guard lock(mutex_);
      first = records_.empty();
      records_.push_back(files);
    }
    if (first && first_record_may_end.valid()) {
      first_record_started.set_value();
      first_record_may_end.wait();
    }
    return Ok();
  }
  Status PromiseFiles(const Guid&, const CompletionPromise&) override { return Ok(); }
  void OnRunFailed(const Guid&, std::uint64_t, const Error& error, std::optional<std::uint32_t>,
                   std::chrono::seconds) override {
    ADD_FAILURE() << error.ToString();
  }
  void OnRemoteNameChanged(const Guid&, std::uint64_t, std::uint32_t, const std::string&) override {
  }
  void OnFileRestart(const Guid&, std::uint64_t, std::uint32_t) override {}
  void OnRunFinished(const Guid&, std::uint64_t) override { finished_.set_value(); }

  std::function<void()> on_checkpoint;  // at the start of each OnCheckpoint
  std::vector<std::uint64_t> checkpoints() {
    std::lock_guard lock(mutex_);
    return checkpoints_;
  }
  std::promise<void> first_record_started;
  std::shared_future<void> first_record_may_end;
  std::future<void> Finished() { return finished_.get_future(); }
  std::vector<std::vector<CompletedFile>> records() {
    std::lock_guard lock(mutex_);
    return records_;
  }

 private:
  const std::uint32_t count_;
  std::mutex mutex_;
  std::uint32_t next_ = 0;
  std::vector<std::vector<CompletedFile>> records_;
  std::vector<std::uint64_t> checkpoints_;
  std::vector<std::pair<std::uint32_t, std::thread::id>> responses_;
  std::promise<void> finished_;
};

// Downloads that end when the test says so, each with its index as its one byte of body.
class ManualEngine : public TransferEngine {
 public:
  DownloadId Start(DownloadRequest, DownloadSink& sink, DoneCallback done) override {
    std::lock_guard lock(mutex_);
    downloads_.push_back({&sink, std::move(done)});
    return downloads_.size();
  }
  void Stop(DownloadId) override {}
  void SetRateLimit(DownloadId, std::uint64_t) override {}
  void Shutdown() override {}
  // Sends download i's body and ends it, on the calling thread.
  void End(std::size_t i) {
    Download download;
    {
      std::lock_guard lock(mutex_);
      download = downloads_.at(i);
    }
    DownloadResponse response;
    response.bytes_total = 1;
    Status status = download.sink->OnResponse(response);
    const char byte = static_cast<char>('0' + i);
    if (status) status = download.sink->OnData(&byte, 1);
    download.done(std::move(status));
  }
  std::size_t started() {
    std::lock_guard lock(mutex_);
    return downloads_.size();
  }

 private:
  struct Download {
    DownloadSink* sink = nullptr;
    DoneCallback done;
  };
  std::mutex mutex_;
  std::vector<Download> downloads_;
};

TEST(JobRunBatchTest, FilesEndingWhileARecordIsWrittenAreRecordedTogetherInOneWrite) {
  constexpr std::uint32_t kFiles = 8;
  BatchReports reports(kFiles);
  std::promise<void> let_go;
  reports.first_record_may_end = let_go.get_future().share();
  auto first_started = reports.first_record_started.get_future();
  ManualEngine engine;
  fakes::InMemoryFileSystem files;
  auto run = std::make_shared<JobRun>(Guid::Generate(), 1, std::make_shared<RunControl>(), reports,
                                      engine, files, RunOptions{});
  auto finished = reports.Finished();
  run->Start();
  ASSERT_EQ(engine.started(), kFiles);
  // File 0 ends first; its record is slow.
  std::thread first([&] { engine.End(0); });
  ASSERT_EQ(first_started.wait_for(10s), std::future_status::ready);
  // The others end meanwhile: each is left to the record under way, so their ends return
  // at once instead of waiting for the store.
  auto others = std::async(std::launch::async, [&] {
    for (std::uint32_t i = 1; i < kFiles; ++i) engine.End(i);
  });
  EXPECT_EQ(others.wait_for(10s), std::future_status::ready)
      << "an ending file waited for another file's record";
  let_go.set_value();
  first.join();
  others.get();
  ASSERT_EQ(finished.wait_for(10s), std::future_status::ready);
  // Two writes: file 0's, then the seven that ended during it, all in one.
  const auto records = reports.records();
  ASSERT_EQ(records.size(), 2u);
  ASSERT_EQ(records[0].size(), 1u);
  EXPECT_EQ(records[0][0].index, 0u);
  ASSERT_EQ(records[1].size(), kFiles - 1);
  for (std::uint32_t i = 1; i < kFiles; ++i) {
    EXPECT_EQ(records[1][i - 1].index, i);
    EXPECT_EQ(records[1][i - 1].bytes, 1u);
    EXPECT_EQ(files.Files()["/d/.f" + std::to_string(i) + ".tmp"], std::string(1, '0' + i));
  }
}

// With a completion pool, the ends of quick downloads wait for the one drainer at work
// instead of a task each: the seven files that end while the first one is recorded are taken
// together by one drainer and recorded in one write (with a task each, the one pool thread
// would record them one by one).
TEST(JobRunBatchTest, QuickEndsAreDrainedTogetherOnTheCompletionPool) {
  constexpr std::uint32_t kFiles = 8;
  BatchReports reports(kFiles);
  std::promise<void> let_go;
  reports.first_record_may_end = let_go.get_future().share();
  auto first_started = reports.first_record_started.get_future();
  ManualEngine engine;
  fakes::InMemoryFileSystem files;
  TaskPool completions(1);
  RunOptions options;
  options.completions = &completions;
  auto run = std::make_shared<JobRun>(Guid::Generate(), 1, std::make_shared<RunControl>(), reports,
                                      engine, files, options);
  auto finished = reports.Finished();
  run->Start();
  ASSERT_EQ(engine.started(), kFiles);
  engine.End(0);  // handled on the pool: its record waits
  ASSERT_EQ(first_started.wait_for(10s), std::future_status::ready);
  for (std::uint32_t i = 1; i < kFiles; ++i) engine.End(i);
  let_go.set_value();
  ASSERT_EQ(finished.wait_for(10s), std::future_status::ready);
  const auto records = reports.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].size(), 1u);
  EXPECT_EQ(records[1].size(), kFiles - 1);
}

// The engine's thread tells the manager only the run's first response (the job becomes
// TRANSFERRING); a small file's response goes with its end, on the completion pool.
TEST(JobRunBatchTest, SmallFilesResponsesAreToldOnTheCompletionPool) {
  constexpr std::uint32_t kFiles = 4;
  BatchReports reports(kFiles);
  ManualEngine engine;
  fakes::InMemoryFileSystem files;
  TaskPool completions(2);
  RunOptions options;
  options.completions = &completions;
  auto run = std::make_shared<JobRun>(Guid::Generate(), 1, std::make_shared<RunControl>(), reports,
                                      engine, files, options);
  auto finished = reports.Finished();
  run->Start();
  ASSERT_EQ(engine.started(), kFiles);
  for (std::uint32_t i = 0; i < kFiles; ++i) engine.End(i);  // the test's thread is the engine's
  ASSERT_EQ(finished.wait_for(10s), std::future_status::ready);
  const auto responses = reports.responses();
  ASSERT_EQ(responses.size(), kFiles);
  EXPECT_EQ(responses[0], std::pair(0u, std::this_thread::get_id()));
  for (std::uint32_t i = 1; i < kFiles; ++i) {
    EXPECT_NE(responses[i].second, std::this_thread::get_id())
        << "file " << responses[i].first << "'s response was told on the engine's thread";
  }
  std::uint32_t recorded = 0;
  for (const auto& record : reports.records()) recorded += record.size();
  EXPECT_EQ(recorded, kFiles);
}

// One long file of ten chunks, sent on the engine's own thread; notes when `done` returned.
class StreamEngine : public TransferEngine {
 public:
  ~StreamEngine() override { Shutdown(); }
  DownloadId Start(DownloadRequest, DownloadSink& sink, DoneCallback done) override {
    thread_ = std::thread([this, &sink, done = std::move(done)] {
      DownloadResponse response;
      response.bytes_total = 10 * 1000;
      Status status = sink.OnResponse(response);
      const std::string chunk(1000, 'x');
      for (int i = 0; status && i < 10; ++i) {
        status = sink.OnData(chunk.data(), chunk.size());
        chunks_sent = i + 1;
      }
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
  std::atomic<int> chunks_sent{0};
  std::promise<void> done_returned;

 private:
  std::thread thread_;
};

// A checkpoint's sync and record (a slow disk, a busy store) do not hold the engine's thread:
// the file's bytes keep coming meanwhile, and the file's end waits for the checkpoint.
TEST(JobRunCheckpointTest, APeriodicCheckpointRunsOffTheEnginesThread) {
  BatchReports reports(1);
  std::promise<void> let_go;
  std::shared_future<void> may_end = let_go.get_future().share();
  std::promise<void> checkpoint_started;
  std::once_flag once;
  reports.on_checkpoint = [&] {
    std::call_once(once, [&] { checkpoint_started.set_value(); });
    may_end.wait();
  };
  StreamEngine engine;
  fakes::InMemoryFileSystem files;
  TaskPool completions(2);
  RunOptions options;
  options.checkpoint_interval = 0ms;  // every chunk is a checkpoint's moment
  options.completions = &completions;
  auto run = std::make_shared<JobRun>(Guid::Generate(), 1, std::make_shared<RunControl>(), reports,
                                      engine, files, options);
  auto finished = reports.Finished();
  auto done_returned = engine.done_returned.get_future();
  run->Start();
  ASSERT_EQ(checkpoint_started.get_future().wait_for(10s), std::future_status::ready);
  const bool engine_free = done_returned.wait_for(10s) == std::future_status::ready;
  EXPECT_TRUE(engine_free) << "the engine's thread waited for a checkpoint ("
                           << engine.chunks_sent.load() << " of 10 chunks sent)";
  EXPECT_TRUE(reports.records().empty()) << "the file completed before its checkpoint ended";
  let_go.set_value();
  ASSERT_EQ(finished.wait_for(10s), std::future_status::ready);
  engine.Shutdown();
  // The file, complete, after every checkpoint; none claimed more than was written.
  const auto records = reports.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0][0].bytes, 10'000u);
  for (std::uint64_t offset : reports.checkpoints()) {
    EXPECT_GE(offset, 1000u);
    EXPECT_LE(offset, 10'000u);
  }
  EXPECT_EQ(files.Files()["/d/.f0.tmp"], std::string(10'000, 'x'));
}

}  // namespace
}  // namespace openbits::core
