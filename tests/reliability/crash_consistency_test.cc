// Reliability tests: crash consistency. A workload of multi-file jobs (to be completed, to be
// cancelled, and ones that end in ERROR) runs while bitsd is killed with SIGKILL at random
// moments: mid-transfer, mid-checkpoint, during CreateJob, AddFileSet, Complete and Cancel.
// After every kill the database passes PRAGMA integrity_check and every file at a destination
// is whole; in the end every job reaches its expected state, completed files are
// byte-identical to their sources and no temp file is left (docs/reliability.md).
//
// OPENBITS_CRASH_KILLS raises the number of kills (default 32, about a minute);
// OPENBITS_CRASH_SEED replays a run (the seed is printed).
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

namespace fs = std::filesystem;

constexpr int kJobs = 24;
constexpr int kFilesPerJob = 3;
constexpr int kCreationsPerRun = 2;  // so that job creation spans several runs (and kills)

int EnvNumber(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::atoi(value) : fallback;
}

enum class Want { kComplete, kCancel, kError };

struct ModelJob {
  std::string name;
  Want want = Want::kComplete;
  std::vector<std::pair<std::string, std::string>> files;  // url, local path
  std::vector<std::string> sources;                        // www paths (empty: a 404)
  std::optional<Guid> id;
  bool create_sent = false;  // CreateJob was called; its answer may have been lost
  bool end_sent = false;     // Complete or Cancel was called
  bool done = false;         // nothing more to do until the final check
};

// What the workload thread is doing, so that the test can kill bitsd in the middle of it.
class Moment {
 public:
  void Enter(const std::string& op) {
    std::lock_guard lock(mutex_);
    op_ = op;
    changed_.notify_all();
  }
  std::string op() {
    std::lock_guard lock(mutex_);
    return op_;
  }
  // Waits until the workload enters `op`; false after `timeout`.
  bool WaitFor(const std::string& op, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return op_ == op; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string op_ = "idle";
};

class CrashConsistencyTest : public DaemonTest {
 protected:
  std::string Config() override {
    return "[transfer]\ncheckpoint_interval_ms = 50\nmax_background_jobs = 6\n";
  }

  void MakeWorkload(std::mt19937& rng) {
    for (int i = 0; i < kJobs; ++i) {
      ModelJob job;
      job.name = "crash-" + std::to_string(i);
      job.want = i % 6 == 4 ? Want::kCancel : i % 6 == 5 ? Want::kError : Want::kComplete;
      for (int f = 0; f < kFilesPerJob; ++f) {
        const std::string name = job.name + "-" + std::to_string(f) + ".bin";
        const std::string local = out() + "/" + name;
        if (job.want == Want::kError && f == 1) {
          job.files.emplace_back(server_->Url("/missing/" + name), local);
          job.sources.emplace_back();
          continue;
        }
        harness::WriteRandomFile(www() + "/" + name, 32 * 1024 * (1 + rng() % 40), rng());
        // Throttled so that transfers are under way when the kills come.
        job.files.emplace_back(server_->Url("/" + name + "?rate=2000000"), local);
        job.sources.push_back(www() + "/" + name);
      }
      jobs_.push_back(std::move(job));
    }
  }

  // One pass of the workload over every job; false when bitsd stopped answering.
  bool Pass(Client& client, Moment& moment) {
    std::optional<std::vector<Job>> listed;
    for (ModelJob& job : jobs_) {
      if (job.done) continue;
      if (!job.id && job.create_sent) {
        // The answer of CreateJob was lost in a crash: the job exists or not, whole or not.
        if (!listed) {
          auto jobs = client.EnumJobs();
          if (!jobs) return Lost(jobs.error(), "EnumJobs");
          listed = std::move(*jobs);
        }
        for (Job& existing : *listed) {
          auto name = existing.GetDisplayName();
          if (!name) return Lost(name.error(), "GetDisplayName");
          if (*name == job.name) job.id = existing.id();
        }
      }
      if (!job.id) {
        if (created_this_run_ == kCreationsPerRun) continue;
        ++created_this_run_;
        moment.Enter("create");
        job.create_sent = true;
        auto made = client.CreateJob(job.name);
        if (!made) return Lost(made.error(), "CreateJob " + job.name);
        job.id = made->id();
      }
      auto handle = client.GetJob(*job.id);
      if (!handle) {
        if (handle.error().code() != hr::BG_E_NOT_FOUND) return Lost(handle.error(), "GetJob");
        // Gone: only a job that was completed or cancelled may go.
        EXPECT_TRUE(job.end_sent) << job.name << " disappeared";
        job.done = true;
        continue;
      }
      auto state = handle->GetState();
      auto progress = handle->GetProgress();
      if (!state) return Lost(state.error(), "GetState " + job.name);
      if (!progress) return Lost(progress.error(), "GetProgress " + job.name);
      if (progress->files_total == 0) {
        moment.Enter("add files");
        // All files or none.
        if (auto added = handle->AddFileSet(job.files); !added) {
          return Lost(added.error(), "AddFileSet " + job.name);
        }
      }
      if (*state == JobState::kSuspended || *state == JobState::kTransientError) {
        moment.Enter("resume");
        if (auto resumed = handle->Resume(); !resumed) {
          return Lost(resumed.error(), "Resume " + job.name);
        }
        continue;
      }
      if (*state == JobState::kError && job.want != Want::kError) {
        auto error = handle->GetError();
        ADD_FAILURE() << job.name << " failed: " << (error ? error->description : "?");
        job.done = true;
        continue;
      }
      switch (job.want) {
        case Want::kComplete:
          if (*state == JobState::kTransferred) {
            moment.Enter("complete");
            job.end_sent = true;
            auto completed = handle->Complete();
            if (!completed) return Lost(completed.error(), "Complete " + job.name);
            EXPECT_EQ(*completed, hr::S_OK) << job.name;
            job.done = true;
          }
          break;
        case Want::kCancel:
          if (progress->bytes_transferred > 0) {
            moment.Enter("cancel");
            job.end_sent = true;
            auto cancelled = handle->Cancel();
            if (!cancelled) return Lost(cancelled.error(), "Cancel " + job.name);
            EXPECT_EQ(*cancelled, hr::S_OK) << job.name;
            job.done = true;
          }
          break;
        case Want::kError:
          EXPECT_NE(*state, JobState::kTransferred) << job.name;
          if (*state == JobState::kError) job.done = true;
          break;
      }
    }
    moment.Enter("transfers");
    return true;
  }

  bool AllDone() const {
    return std::all_of(jobs_.begin(), jobs_.end(), [](const ModelJob& job) { return job.done; });
  }

  // With bitsd dead: the database is consistent, and any file at a destination is whole.
  void CheckAfterKill(int kill) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2((bitsd_->state_dir() + "/jobs.db").c_str(), &db,
                              SQLITE_OPEN_READWRITE, nullptr),
              SQLITE_OK);
    std::string result;
    sqlite3_exec(
        db, "PRAGMA integrity_check",
        [](void* out, int, char** values, char**) {
          *static_cast<std::string*>(out) += values[0] ? values[0] : "";
          return 0;
        },
        &result, nullptr);
    sqlite3_close(db);
    EXPECT_EQ(result, "ok") << "after kill " << kill;
    for (const ModelJob& job : jobs_) {
      for (std::size_t f = 0; f < job.files.size(); ++f) {
        if (!fs::exists(job.files[f].second)) continue;
        EXPECT_NE(job.want, Want::kError) << job.files[f].second << " was delivered";
        EXPECT_TRUE(!job.sources[f].empty() &&
                    harness::ReadFile(job.files[f].second) == harness::ReadFile(job.sources[f]))
            << job.files[f].second << " is not its source, after kill " << kill;
      }
    }
  }

  // A call failed: bitsd is gone (a kill), or the call was refused (a defect in the final run).
  bool Lost(const Error& error, const std::string& call) {
    last_failure_ = call + ": " + error.ToString();
    return false;
  }

  std::vector<ModelJob> jobs_;
  int created_this_run_ = 0;  // jobs created since bitsd last started
  std::string last_failure_;
};

TEST_F(CrashConsistencyTest, EveryJobReachesItsStateAcrossRandomKills) {
  const int kills = EnvNumber("OPENBITS_CRASH_KILLS", 32);
  const auto seed = static_cast<std::uint32_t>(EnvNumber("OPENBITS_CRASH_SEED", 20261206));
  std::cout << "OPENBITS_CRASH_SEED=" << seed << " OPENBITS_CRASH_KILLS=" << kills << "\n";
  std::mt19937 rng(seed);
  MakeWorkload(rng);
  const std::vector<std::string> targets = {"transfers", "create", "add files", "complete",
                                            "cancel"};
  std::map<std::string, int> killed_in;
  client_.reset();
  for (int kill = 0; kill < kills; ++kill) {
    if (kill > 0) bitsd_->Start();
    created_this_run_ = 0;
    auto client = Connect();
    Moment moment;
    std::atomic<bool> stop = false;
    std::thread workload([&] {
      while (!stop && Pass(*client, moment)) {
        // The workload's own pace, not a synchronisation: it only looks at states again.
        std::this_thread::sleep_for(20ms);
      }
    });
    // Aim at an operation (or let a random amount of transfer time pass), then kill within a
    // few milliseconds of it: in the call, in its database write, or just after.
    const std::string& target = targets[rng() % targets.size()];
    if (target == "transfers" || !moment.WaitFor(target, 1500ms)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 1200));
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    }
    ++killed_in[moment.op()];
    bitsd_->Kill();
    stop = true;
    workload.join();
    client.reset();
    CheckAfterKill(kill);
    if (HasFatalFailure()) return;
  }

  // The last run, without kills: everything ends as planned.
  bitsd_->Start();
  created_this_run_ = -kJobs;  // no limit
  client_ = Connect();
  Moment moment;
  EXPECT_TRUE(harness::WaitUntil(
      [&] {
        if (!Pass(*client_, moment)) ADD_FAILURE() << last_failure_;
        return AllDone() || HasFailure();
      },
      180s))
      << "not every job reached its state";
  std::cout << "kills survived: " << kills << " (";
  for (const auto& [op, count] : killed_in) std::cout << op << " " << count << ", ";
  std::cout << ")\n";
  for (const ModelJob& job : jobs_) {
    if (job.want == Want::kError) {
      auto handle = client_->GetJob(*job.id);
      ASSERT_TRUE(handle) << job.name;
      auto state = handle->GetState();
      ASSERT_TRUE(state);
      EXPECT_EQ(*state, JobState::kError) << job.name;
      auto error = handle->GetError();
      ASSERT_TRUE(error);
      EXPECT_EQ(error->code, HttpStatusToHresult(404)) << error->description;
      EXPECT_EQ(error->file_index, 1u);
      EXPECT_TRUE(handle->Cancel());
    }
    for (std::size_t f = 0; f < job.files.size(); ++f) {
      const std::string& local = job.files[f].second;
      if (job.want == Want::kComplete) {
        EXPECT_TRUE(fs::exists(local) &&
                    harness::ReadFile(local) == harness::ReadFile(job.sources[f]))
            << local << " is missing or differs from its source";
      } else {
        EXPECT_FALSE(fs::exists(local)) << local;
      }
    }
  }
  auto left = client_->EnumJobs();
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->empty()) << left->size() << " jobs left";
  for (const auto& entry : fs::directory_iterator(out())) {
    EXPECT_EQ(entry.path().filename().string().find(".bits-"), std::string::npos)
        << "temp file left: " << entry.path();
  }
}

// The state a SIGKILL in the middle of Complete leaves, made on purpose: the first file of a
// TRANSFERRED job already renamed into place (with the remote mtime Complete gives it), the
// second still a temp file, and the job still in the database. Complete must finish the job.
TEST_F(CrashConsistencyTest, CompleteInterruptedAfterSomeRenamesFinishesWhenCalledAgain) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const char* name : {"first.bin", "second.bin"}) {
    harness::WriteRandomFile(www() + "/" + name, 100'000, 31);
    files.emplace_back(server_->Url(std::string("/") + name), out() + "/" + name);
  }
  auto job = client_->CreateJob("interrupted complete");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFileSet(files));
  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}), JobState::kTransferred);
  auto temp = job->GetTemporaryName(0);
  ASSERT_TRUE(temp);
  const Guid id = job->id();
  bitsd_->Kill();

  struct stat source {};
  ASSERT_EQ(stat((www() + "/first.bin").c_str(), &source), 0);
  const timespec times[2] = {{0, UTIME_OMIT}, {source.st_mtim.tv_sec, 0}};  // Last-Modified: s
  ASSERT_EQ(utimensat(AT_FDCWD, temp->c_str(), times, 0), 0);
  fs::rename(*temp, files[0].second);

  bitsd_->Start();
  client_ = Connect();
  auto again = client_->GetJob(id);
  ASSERT_TRUE(again) << again.error().ToString();
  auto completed = again->Complete();
  ASSERT_TRUE(completed) << completed.error().ToString();
  EXPECT_EQ(*completed, hr::S_OK);
  for (const char* name : {"first.bin", "second.bin"}) {
    EXPECT_EQ(harness::Sha256OfFile(out() + "/" + name), harness::Sha256OfFile(www() + "/" + name));
  }
  EXPECT_EQ(client_->GetJob(id).error().code(), hr::BG_E_NOT_FOUND);
  for (const auto& entry : fs::directory_iterator(out())) {
    EXPECT_EQ(entry.path().filename().string().find(".bits-"), std::string::npos) << entry.path();
  }
}

}  // namespace
}  // namespace openbits::integration
