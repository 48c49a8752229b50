// Reliability tests: concurrency. Each fault ends in the expected state with an error that
// names its cause (docs/reliability.md).
//
// Several clients, each on its own bus connection, race Resume, Suspend, Cancel, Complete and
// TakeOwnership over 1,000 jobs against the real daemon (its scheduler and transfer threads)
// for OPENBITS_CONCURRENCY_SECONDS (default 60). No call may fail with anything but the
// answers the race allows, none may hang, the daemon's memory stays bounded and it shuts
// down cleanly afterwards.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

constexpr int kJobs = 1000;
constexpr int kClients = 4;
// The client library keeps a proxy (with its signal match rules) for every job it touched,
// and the bus admits 512 match rules per connection (a handful per job proxy): clients
// reconnect long before that.
constexpr int kCallsPerConnection = 50;

int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::atoi(value) : fallback;
}

// The resident set of the bitsd that uses `state_dir`, in KiB (0 when not found).
long BitsdRssKib(const std::string& state_dir) {
  for (const auto& process : std::filesystem::directory_iterator("/proc")) {
    std::ifstream cmdline(process.path() / "cmdline", std::ios::binary);
    const std::string args((std::istreambuf_iterator<char>(cmdline)),
                           std::istreambuf_iterator<char>());
    if (args.find("bitsd") == std::string::npos || args.find(state_dir) == std::string::npos) {
      continue;
    }
    std::ifstream status(process.path() / "status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    }
  }
  return 0;
}

class ConcurrencyTest : public DaemonTest {
 protected:
  std::string Config() override {
    return "[transfer]\ncheckpoint_interval_ms = 100\nmax_background_jobs = 8\n"
           "[limits]\nmax_jobs_per_user = 2000\nmax_jobs_per_machine = 2000\n"
           "max_files_per_job = 1000\n";
  }
};

// What each client saw: calls made, calls refused as the race allows, and the ones that
// should never happen (with the first few errors kept to say why).
struct Tally {
  std::atomic<long> calls{0};
  std::atomic<long> raced{0};  // BG_E_NOT_FOUND: another client ended the job first
  std::atomic<long> failed{0};
  std::atomic<long> slowest_ms{0};
  std::mutex mutex;
  std::vector<std::string> failures;

  void Note(const char* call, const Status& status, std::chrono::milliseconds took) {
    ++calls;
    long slowest = slowest_ms.load();
    while (took.count() > slowest && !slowest_ms.compare_exchange_weak(slowest, took.count())) {
    }
    if (status) return;
    if (status.error().code() == hr::BG_E_NOT_FOUND) {
      ++raced;
      return;
    }
    ++failed;
    std::lock_guard lock(mutex);
    if (failures.size() < 10)
      failures.push_back(std::string(call) + ": " + status.error().ToString());
  }
};

TEST_F(ConcurrencyTest, ClientsRacingEveryJobMethodOverAThousandJobs) {
  const auto duration = std::chrono::seconds(EnvInt("OPENBITS_CONCURRENCY_SECONDS", 60));
  for (int i = 0; i < 8; ++i) {
    harness::WriteFile(www() + "/f" + std::to_string(i), std::string(64 * 1024 * (i + 1), 'x'));
  }
  // The queue: 1,000 jobs, one file each; a job ended by Cancel or Complete is replaced.
  std::mutex ids_mutex;
  std::vector<Guid> ids;
  std::atomic<long> created{0};
  auto create = [&](Client& client) -> std::optional<Guid> {
    const long n = created++;
    auto job = client.CreateJob("race " + std::to_string(n));
    if (!job) {
      ADD_FAILURE() << "job " << n << ": " << job.error().ToString();
      return std::nullopt;
    }
    const Status added =
        job->AddFile(server_->Url("/f" + std::to_string(n % 8)), out() + "/" + std::to_string(n));
    if (!added) {
      ADD_FAILURE() << "job " << n << ": " << added.error().ToString();
      return std::nullopt;
    }
    return job->id();
  };
  for (int i = 0; i < kJobs; i += kCallsPerConnection) {
    std::unique_ptr<Client> creator = Connect();
    for (int j = i; j < std::min(kJobs, i + kCallsPerConnection); ++j) {
      auto id = create(*creator);
      ASSERT_TRUE(id);
      ids.push_back(*id);
    }
  }
  const long rss_before = BitsdRssKib(bitsd_->state_dir());

  Tally tally;
  std::atomic<long> ended{0};
  const auto deadline = std::chrono::steady_clock::now() + duration;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      std::unique_ptr<Client> client;
      std::mt19937 random(static_cast<unsigned>(c) * 7919u + 1u);
      for (long n = 0; std::chrono::steady_clock::now() < deadline; ++n) {
        if (n % kCallsPerConnection == 0) client = Connect();
        std::size_t slot = 0;
        Guid id;
        {
          std::lock_guard lock(ids_mutex);
          slot = random() % ids.size();
          id = ids[slot];
        }
        auto job = client->GetJob(id);
        if (!job) {
          tally.Note("GetJob", job.error(), {});
          continue;
        }
        const int op = static_cast<int>(random() % 10);
        const auto started = std::chrono::steady_clock::now();
        Status status = Ok();
        const char* call = "";
        bool ends = false;
        if (op < 3) {
          call = "Resume";
          status = job->Resume();
        } else if (op < 5) {
          call = "Suspend";
          status = job->Suspend();
        } else if (op < 6) {
          call = "TakeOwnership";
          status = job->TakeOwnership();
        } else if (op < 8) {
          call = "Cancel";
          auto result = job->Cancel();
          status = result ? Ok() : Status(result.error());
          ends = static_cast<bool>(result);
        } else {
          call = "Complete";
          auto result = job->Complete();
          status = result ? Ok() : Status(result.error());
          ends = static_cast<bool>(result);
        }
        tally.Note(call, status,
                   std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - started));
        if (ends) {
          ++ended;
          if (auto replacement = create(*client)) {
            std::lock_guard lock(ids_mutex);
            if (ids[slot] == id)
              ids[slot] = *replacement;  // else another client replaced it
            else
              ids.push_back(*replacement);
          }
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();
  const long rss_after = BitsdRssKib(bitsd_->state_dir());

  std::cerr << "concurrency: " << tally.calls << " calls in " << duration.count() << " s, " << ended
            << " jobs ended, " << tally.raced << " lost a race (BG_E_NOT_FOUND), "
            << "slowest call " << tally.slowest_ms << " ms, bitsd RSS " << rss_before << " -> "
            << rss_after << " KiB\n";
  EXPECT_EQ(tally.failed, 0) << [&] {
    std::string all;
    for (const auto& failure : tally.failures) all += failure + "\n";
    return all;
  }();
  EXPECT_GT(ended, 0);
  // No hang: every call answered well within the D-Bus timeout (25 s).
  EXPECT_LT(tally.slowest_ms, 10'000);
  // Bounded memory: the queue stays at about 1,000 jobs, so must the daemon.
  ASSERT_GT(rss_before, 0);
  EXPECT_LT(rss_after, rss_before + 64 * 1024 + harness::kSanitizerSlackKib)
      << "bitsd grew by more than 64 MiB";
  // The daemon still answers, and every job it lists is one a client can use.
  auto listed = client_->EnumJobs();
  ASSERT_TRUE(listed) << listed.error().ToString();
  EXPECT_GE(listed->size(), static_cast<std::size_t>(kJobs) - kClients);
}

// Complete racing a crash: bitsd is killed (SIGKILL) while Complete renames 1,000 files. After
// the restart the job is still TRANSFERRED, and Complete delivers the rest: every file once,
// with its content, no temp file left. (Before, the files already renamed made every later
// Complete fail, and Cancel was the only way out.)
TEST_F(ConcurrencyTest, CompleteInterruptedBySigkillFinishesAfterTheRestart) {
  // Complete renames in batches of 32 (one sync each): enough batches that the kill, sent as
  // soon as the first file is in place, comes while most are still to go.
  constexpr int kFiles = 1000;
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < kFiles; ++i) {
    const std::string name = "c" + std::to_string(i);
    harness::WriteFile(www() + "/" + name, std::string(4096, static_cast<char>('a' + i % 26)));
    files.emplace_back(server_->Url("/" + name), out() + "/" + name);
  }
  auto job = client_->CreateJob("complete vs kill");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFileSet(files));
  ASSERT_TRUE(job->SetParallelFiles(16));  // the transfer is not what this test is about
  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}, 120s),
            JobState::kTransferred);

  auto delivered = [&] {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(out())) {
      if (entry.path().filename().string().front() != '.') ++count;
    }
    return count;
  };
  std::thread completing([&] { (void)job->Complete(); });  // its answer dies with bitsd
  ASSERT_TRUE(harness::WaitUntil([&] { return delivered() > 0; }, 20s, 1ms));
  bitsd_->Kill();
  completing.join();
  const int before_restart = delivered();
  ASSERT_LT(before_restart, kFiles) << "the kill came after Complete had finished";

  bitsd_->Start();
  client_ = Connect();
  auto recovered = client_->GetJob(job->id());
  ASSERT_TRUE(recovered) << recovered.error().ToString();
  EXPECT_EQ(*recovered->GetState(), JobState::kTransferred);
  const Result<HRESULT> completed = recovered->Complete();
  ASSERT_TRUE(completed) << completed.error().ToString();
  EXPECT_EQ(*completed, hr::S_OK);
  EXPECT_EQ(delivered(), kFiles);
  for (int i = 0; i < kFiles; ++i) {
    EXPECT_EQ(harness::Sha256OfFile(files[i].second),
              harness::Sha256OfFile(www() + "/c" + std::to_string(i)))
        << files[i].second;
  }
  for (const auto& entry : std::filesystem::directory_iterator(out())) {
    EXPECT_NE(entry.path().filename().string().front(), '.') << "left behind: " << entry.path();
  }
  std::cerr << "complete vs kill: " << before_restart << " of " << kFiles
            << " files delivered before the kill\n";
}

}  // namespace
}  // namespace openbits::integration
