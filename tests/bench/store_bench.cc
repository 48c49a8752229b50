// Google Benchmark of the job store on a real file (tests/bench/README or run directly):
//   build/release/tests/bench/store_bench --benchmark_filter=.
// Save (a state change of a job of 16 files), SaveFileProgress (one file's checkpoint),
// SyncDurable after a batch of writes, and LoadAll of 10 and 100,000 jobs.
#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "store/sqlite_job_store.h"

namespace openbits::store {
namespace {

namespace fs = std::filesystem;

// A store in a fresh directory of its own, removed with it.
class ScratchStore {
 public:
  ScratchStore() {
    dir_ = fs::temp_directory_path() / ("openbits-store-bench-" + Guid::Generate().ToHex());
    fs::create_directories(dir_);
    path_ = (dir_ / "jobs.db").string();
    auto box = SecretBox::OpenOrCreate((dir_ / "secret.key").string());
    if (!box) std::abort();
    secrets_ = std::move(*box);
    Reopen();
  }
  ~ScratchStore() {
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  void Reopen() {
    store_.reset();
    auto opened = SqliteJobStore::Open(path_, secrets_);
    if (!opened) std::abort();
    store_ = std::move(*opened);
  }
  SqliteJobStore& store() { return *store_; }

  // Adds `count` one-file jobs in one transaction straight into the file (the store is closed
  // meanwhile): Save would make the set-up, not the measured LoadAll, the slow part.
  void Populate(std::size_t count) {
    store_.reset();
    sqlite3* db = nullptr;
    sqlite3_open(path_.c_str(), &db);
    const std::string sql =
        "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
        std::to_string(count) +
        ") INSERT INTO jobs (id, owner_uid, owner_gid, display_name, description, type, "
        "priority, state, error_count, minimum_retry_delay_s, no_progress_timeout_s, "
        "creation_us, modification_us, transfer_completion_us, last_progress_us, retry_at_us) "
        "SELECT printf('{%08X-0000-4000-8000-%012X}', i, i), 1000, 1000, 'bench job ' || i, '', "
        "0, 2, 0, 0, 600, 1209600, i, i, 0, i, 0 FROM n; "
        "INSERT INTO files (job_id, idx, remote_url, local_path, temp_path, bytes_total, "
        "bytes_committed, completed, etag, last_modified, remote_mtime_us) "
        "SELECT id, 0, 'http://127.0.0.1:8080/files/' || creation_us, '/var/tmp/bench/' || "
        "creation_us, '/var/tmp/bench/.BIT' || creation_us || '.tmp', 16384, 0, 0, '', '', 0 "
        "FROM jobs; COMMIT;";
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) std::abort();
    sqlite3_close(db);
    Reopen();
  }

 private:
  fs::path dir_;
  std::string path_;
  std::shared_ptr<const SecretBox> secrets_;
  std::unique_ptr<SqliteJobStore> store_;
};

// The process's peak resident set (VmHWM), in MiB.
double PeakRssMib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

core::Job MakeJob(std::uint32_t files) {
  core::Job job;
  job.id = Guid::Generate();
  job.owner_uid = 1000;
  job.owner_gid = 1000;
  job.display_name = "bench job";
  job.state = JobState::kQueued;
  job.custom_headers = SecretString("X-Token: 12345\r\n");
  for (std::uint32_t i = 0; i < files; ++i) {
    core::JobFile file;
    file.remote_url = "http://127.0.0.1:8080/files/" + std::to_string(i);
    file.local_path = "/var/tmp/bench/" + std::to_string(i);
    file.temp_path = "/var/tmp/bench/.BIT" + std::to_string(i) + ".tmp";
    file.bytes_total = 16384;
    job.files.push_back(std::move(file));
  }
  return job;
}

void Check(const Status& status, benchmark::State& state) {
  if (!status) state.SkipWithError(status.error().ToString().c_str());
}

// A state change of a job of 16 files (what Resume, Suspend or an error write).
void BM_SaveStateChange(benchmark::State& state) {
  ScratchStore scratch;
  core::Job job = MakeJob(16);
  Check(scratch.store().Save(job), state);
  int flip = 0;
  for (auto _ : state) {
    job.state = (++flip % 2) ? JobState::kTransferring : JobState::kQueued;
    job.times.modification_us = flip;
    Check(scratch.store().Save(job), state);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SaveStateChange);

// A new job of one file (CreateJob + AddFile).
void BM_SaveNewJob(benchmark::State& state) {
  ScratchStore scratch;
  for (auto _ : state) Check(scratch.store().Save(MakeJob(1)), state);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SaveNewJob);

// One file's checkpoint of a job of 5,000 files (the per-file write of B2).
void BM_SaveFileProgress(benchmark::State& state) {
  ScratchStore scratch;
  core::Job job = MakeJob(5000);
  Check(scratch.store().Save(job), state);
  std::uint32_t index = 0;
  for (auto _ : state) {
    core::JobFile& file = job.files[index];
    file.bytes_committed = file.bytes_total;
    file.completed = true;
    Check(scratch.store().SaveFileProgress(job.id, index, file), state);
    index = (index + 1) % 5000;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SaveFileProgress);

// 64 checkpoints, then the durability promise for all of them (what FileTransferred waits for).
void BM_SaveFileProgressThenSyncDurable(benchmark::State& state) {
  ScratchStore scratch;
  core::Job job = MakeJob(64);
  Check(scratch.store().Save(job), state);
  std::uint64_t round = 0;
  for (auto _ : state) {
    ++round;
    for (std::uint32_t index = 0; index < 64; ++index) {
      job.files[index].bytes_committed = round;
      Check(scratch.store().SaveFileProgress(job.id, index, job.files[index]), state);
    }
    Check(scratch.store().SyncDurable(), state);
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_SaveFileProgressThenSyncDurable);

// LoadAll of a queue of N one-file jobs, as bitsd does at start.
void BM_LoadAll(benchmark::State& state) {
  ScratchStore scratch;
  const auto count = static_cast<std::size_t>(state.range(0));
  scratch.Populate(count);
  for (auto _ : state) {
    auto jobs = scratch.store().LoadAll();
    if (!jobs || jobs->size() != count) state.SkipWithError("LoadAll lost jobs");
    benchmark::DoNotOptimize(jobs);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(count));
  state.counters["peak_rss_MiB"] = PeakRssMib();
}
BENCHMARK(BM_LoadAll)->Arg(10)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace openbits::store

BENCHMARK_MAIN();
