// bench_client: drives bitsd over D-Bus for tests/bench/run.sh, through the public client
// library (include/openbits/client.h), from several threads with one connection each so that
// the client is not what limits the rate. Prints one line of key=value pairs.
//
//   bench_client --bus=ADDR transfer LIST_FILE [PRIORITY]
//       one job holding every "URL PATH" line of LIST_FILE; waits for TRANSFERRED, completes
//   bench_client --bus=ADDR jobs COUNT THREADS URL_PREFIX DIR [PRIORITY]
//       COUNT one-file jobs (URL_PREFIX + "f<i>.bin" -> DIR/f<i>.bin), created, resumed,
//       awaited and completed by THREADS threads
//   bench_client --bus=ADDR roundtrips THREADS SECONDS
//       alternating GetState/GetProgress calls on one suspended job per thread
//   bench_client --bus=ADDR ready TIMEOUT_SECONDS
//       waits until bitsd answers a call (GetErrorDescription) and prints the wall-clock time
//       of that answer (ready_at, seconds since the epoch), so that the caller can time a
//       start it began before this program
//
// PRIORITY: foreground, high, normal (the default) or low.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "openbits/client.h"

namespace {

using openbits::BusChoice;
using openbits::Client;
using openbits::Job;
using openbits::JobPriority;
using openbits::JobState;
using Clock = std::chrono::steady_clock;

// Polling stands in for the JobTransferred signal, which the client library does not expose;
// a short interval keeps the measured time within a few milliseconds of the real end.
constexpr auto kPollInterval = std::chrono::milliseconds(2);

std::mutex g_output_mutex;

[[noreturn]] void Die(const std::string& what) {
  {
    std::lock_guard lock(g_output_mutex);
    std::cerr << "bench_client: " << what << "\n";
  }
  std::exit(1);
}

template <typename T>
T Must(openbits::Result<T> result, const std::string& what) {
  if (!result) Die(what + ": " + result.error().ToString());
  return std::move(*result);
}

void Must(const openbits::Status& status, const std::string& what) {
  if (!status) Die(what + ": " + status.error().ToString());
}

std::unique_ptr<Client> Connect(const BusChoice& bus) {
  return Must(Client::Connect(bus), "connect to bitsd");
}

std::optional<JobPriority> ParsePriority(const std::string& text) {
  if (text == "foreground") return JobPriority::kForeground;
  if (text == "high") return JobPriority::kHigh;
  if (text == "normal") return JobPriority::kNormal;
  if (text == "low") return JobPriority::kLow;
  return std::nullopt;
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Fails on ERROR (with the job's error) and on a suspension by someone else.
bool IsDone(Job& job) {
  const JobState state = Must(job.GetState(), "get state of " + job.id().ToString());
  if (state == JobState::kError) {
    auto error = job.GetError();
    Die("job " + job.id().ToString() +
        " failed: " + (error ? error->description : error.error().ToString()));
  }
  if (state == JobState::kSuspended) Die("job " + job.id().ToString() + " was suspended");
  return state == JobState::kTransferred;
}

int Transfer(const BusChoice& bus, const std::string& list_path, JobPriority priority) {
  std::ifstream list(list_path);
  if (!list) Die("cannot open " + list_path);
  std::vector<std::pair<std::string, std::string>> files;
  for (std::string url, path; list >> url >> path;) files.emplace_back(url, path);
  auto client = Connect(bus);
  const auto start = Clock::now();
  Job job = Must(client->CreateJob("bench-transfer"), "create job");
  Must(job.SetPriority(priority), "set priority");
  Must(job.AddFileSet(files), "add files");
  const double added = SecondsSince(start);
  Must(job.Resume(), "resume");
  while (!IsDone(job)) std::this_thread::sleep_for(kPollInterval);
  const double transferred = SecondsSince(start);
  const auto completed = Must(job.Complete(), "complete");
  if (completed != openbits::hr::S_OK) Die("complete: partial");
  const double seconds = SecondsSince(start);
  // The phases tell where the time goes: adding the files, transferring, Complete's renames.
  std::printf("files=%zu seconds=%.4f rate=%.1f add_s=%.4f transfer_s=%.4f complete_s=%.4f\n",
              files.size(), seconds, static_cast<double>(files.size()) / seconds, added,
              transferred - added, seconds - transferred);
  return 0;
}

// One thread's share of the jobs benchmark: jobs [first, first + count).
void RunJobs(const BusChoice& bus, std::size_t first, std::size_t count,
             const std::string& url_prefix, const std::string& dir, JobPriority priority) {
  // The client library keeps a proxy per job that subscribes to the job's 4 signals, and
  // dbus-daemon allows 512 match rules per connection by default (the system bus too): one
  // connection can hold 128 jobs at most. So a new connection every kJobsPerConnection jobs.
  constexpr std::size_t kJobsPerConnection = 100;
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<Job> pending;
  pending.reserve(count);
  for (std::size_t i = first; i < first + count; ++i) {
    if ((i - first) % kJobsPerConnection == 0) clients.push_back(Connect(bus));
    const std::string name = "f" + std::to_string(i) + ".bin";
    Job job = Must(clients.back()->CreateJob("bench-" + std::to_string(i)), "create job");
    Must(job.SetPriority(priority), "set priority");
    Must(job.AddFile(url_prefix + name, dir + "/" + name), "add file");
    Must(job.Resume(), "resume");
    pending.push_back(std::move(job));
  }
  // Jobs finish roughly in creation order: each sweep stops after a run of unfinished ones,
  // so that polling does not load bitsd with thousands of calls per sweep.
  constexpr std::size_t kUnfinishedRun = 8;
  while (!pending.empty()) {
    std::vector<Job> still;
    std::size_t unfinished = 0;
    bool progressed = false;
    for (std::size_t i = 0; i < pending.size(); ++i) {
      if (unfinished < kUnfinishedRun && IsDone(pending[i])) {
        const auto completed = Must(pending[i].Complete(), "complete");
        if (completed != openbits::hr::S_OK) Die("complete: partial");
        progressed = true;
        continue;
      }
      ++unfinished;
      still.push_back(std::move(pending[i]));
    }
    pending = std::move(still);
    if (!progressed && !pending.empty()) std::this_thread::sleep_for(kPollInterval);
  }
}

int Jobs(const BusChoice& bus, std::size_t count, std::size_t threads,
         const std::string& url_prefix, const std::string& dir, JobPriority priority) {
  if (threads == 0 || count == 0) Die("jobs: COUNT and THREADS must be positive");
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  std::size_t first = 0;
  for (std::size_t t = 0; t < threads; ++t) {
    const std::size_t share = count / threads + (t < count % threads ? 1 : 0);
    workers.emplace_back(RunJobs, bus, first, share, url_prefix, dir, priority);
    first += share;
  }
  for (auto& worker : workers) worker.join();
  const double seconds = SecondsSince(start);
  std::printf("jobs=%zu seconds=%.4f rate=%.1f\n", count, seconds,
              static_cast<double>(count) / seconds);
  return 0;
}

int RoundTrips(const BusChoice& bus, std::size_t threads, double seconds) {
  if (threads == 0 || seconds <= 0) Die("roundtrips: THREADS and SECONDS must be positive");
  std::atomic<std::uint64_t> total{0};
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<Job> jobs;
  for (std::size_t t = 0; t < threads; ++t) {
    clients.push_back(Connect(bus));
    jobs.push_back(Must(clients.back()->CreateJob("bench-roundtrips"), "create job"));
  }
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::uint64_t calls = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        Must(jobs[t].GetState(), "get state");
        Must(jobs[t].GetProgress(), "get progress");
        calls += 2;
      }
      total += calls;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& worker : workers) worker.join();
  const double elapsed = SecondsSince(start);
  for (Job& job : jobs) (void)job.Cancel();
  std::printf("calls=%llu seconds=%.4f rate=%.1f\n", static_cast<unsigned long long>(total.load()),
              elapsed, static_cast<double>(total.load()) / elapsed);
  return 0;
}

int Ready(const BusChoice& bus, double timeout_seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_seconds);
  std::string last_error = "no attempt";
  while (Clock::now() < deadline) {
    if (auto client = Client::Connect(bus)) {
      auto answer = (*client)->GetErrorDescription(openbits::hr::S_OK);
      if (answer) {
        const auto now = std::chrono::system_clock::now().time_since_epoch();
        std::printf("ready_at=%.6f\n", std::chrono::duration<double>(now).count());
        return 0;
      }
      last_error = answer.error().ToString();
    } else {
      last_error = client.error().ToString();
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  Die("bitsd did not answer within the timeout: " + last_error);
}

std::size_t Number(const std::string& text) {
  std::size_t used = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty()) Die("not a number: " + text);
  return static_cast<std::size_t>(value);
}

int Usage() {
  std::cerr << "usage: bench_client --bus=ADDR transfer LIST_FILE [PRIORITY]\n"
               "       bench_client --bus=ADDR jobs COUNT THREADS URL_PREFIX DIR [PRIORITY]\n"
               "       bench_client --bus=ADDR roundtrips THREADS SECONDS\n"
               "       bench_client --bus=ADDR ready TIMEOUT_SECONDS\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  BusChoice bus = BusChoice::Auto();
  if (!args.empty() && args[0].starts_with("--bus=")) {
    bus = BusChoice::Parse(args[0].substr(6));
    args.erase(args.begin());
  }
  if (args.empty()) return Usage();
  const std::string mode = args[0];
  auto priority_at = [&](std::size_t index) {
    if (args.size() <= index) return JobPriority::kNormal;
    auto priority = ParsePriority(args[index]);
    if (!priority) Die("unknown priority " + args[index]);
    return *priority;
  };
  if (mode == "transfer" && (args.size() == 2 || args.size() == 3)) {
    return Transfer(bus, args[1], priority_at(2));
  }
  if (mode == "jobs" && (args.size() == 5 || args.size() == 6)) {
    return Jobs(bus, Number(args[1]), Number(args[2]), args[3], args[4], priority_at(5));
  }
  if (mode == "roundtrips" && args.size() == 3) {
    double seconds = 0;
    std::istringstream(args[2]) >> seconds;
    return RoundTrips(bus, Number(args[1]), seconds);
  }
  if (mode == "ready" && args.size() == 2) {
    double timeout = 0;
    std::istringstream(args[1]) >> timeout;
    return Ready(bus, timeout);
  }
  return Usage();
}
