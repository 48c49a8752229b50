// bench_client: drives bitsd over D-Bus for tests/bench/run.sh, through the public client
// library (include/openbits/client.h), from several threads with one connection each so that
// the client is not what limits the rate. Prints one line of key=value pairs.
//
//   bench_client --bus=ADDR transfer LIST_FILE [PRIORITY]
//       one job holding every "URL PATH" line of LIST_FILE; waits for TRANSFERRED, completes
//   bench_client --bus=ADDR jobs COUNT THREADS URL_PREFIX DIR [PRIORITY]
//       COUNT one-file jobs (URL_PREFIX + "f<i>.bin" -> DIR/f<i>.bin), created, resumed,
//       awaited and completed by THREADS threads
//   bench_client --bus=ADDR roundtrips THREADS SECONDS [WINDOW]
//       alternating GetState/GetProgress calls on one suspended job per thread; with WINDOW,
//       each thread keeps WINDOW calls in flight on its connection (raw sd-bus, pipelined)
//       instead of waiting for each answer (the client library, synchronous)
//   bench_client --bus=ADDR pipelined-jobs COUNT THREADS WINDOW URL_PREFIX DIR [PRIORITY]
//       the jobs of `jobs`, each thread on one connection with up to WINDOW calls in flight
//       (raw sd-bus): CreateJob, SetPriority, AddFile, Resume; Complete when the job's
//       JobTransferred signal arrives (no polling)
//   bench_client --bus=ADDR submitted-jobs COUNT THREADS WINDOW URL_PREFIX DIR [PRIORITY]
//       the same with one Manager.SubmitJob call per job (create, priority, file, resume)
//   bench_client --bus=ADDR touch WINDOW
//       GetState on every job of every user (EnumJobs), WINDOW calls in flight on one
//       connection (raw sd-bus): a client that touches each job of a large queue once
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
#include <unordered_set>
#include <utility>
#include <vector>

#include "openbits/client.h"
#include "openbits/dbus_names.h"
#include "pipeline.h"

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

using bench::Die;
using bench::Pipeline;

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
  // One connection per thread. (Each connection of the owner gets every job's signals, so
  // more connections would cost bitsd and dbus-daemon more messages per job.)
  auto client = Connect(bus);
  std::vector<Job> pending;
  pending.reserve(count);
  for (std::size_t i = first; i < first + count; ++i) {
    const std::string name = "f" + std::to_string(i) + ".bin";
    Job job = Must(client->CreateJob("bench-" + std::to_string(i)), "create job");
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

// The bus address of `bus` for the raw sd-bus modes.
std::string AddressOf(const BusChoice& bus) {
  if (bus.kind != BusChoice::Kind::kAddress) Die("the pipelined modes need --bus=ADDRESS");
  return bus.address;
}

// A new job of this connection, created synchronously (set-up, not measured).
std::string CreateJobOn(Pipeline& pipeline, const std::string& name) {
  std::string path;
  pipeline.Call(
      openbits::dbus::kManagerPath, openbits::dbus::kManagerInterface, "CreateJob",
      [&](sd_bus_message* call) {
        return sd_bus_message_append(call, "sua{ss}", name.c_str(), 0u, 0);
      },
      [&](sd_bus_message* reply) {
        const char* id = nullptr;
        const char* object = nullptr;
        if (sd_bus_message_read(reply, "so", &id, &object) < 0) Die("malformed CreateJob reply");
        path = object;
      });
  while (path.empty()) pipeline.Step();
  return path;
}

int PipelinedRoundTrips(const BusChoice& bus, std::size_t threads, double seconds,
                        std::size_t window) {
  if (threads == 0 || seconds <= 0) Die("roundtrips: THREADS and SECONDS must be positive");
  const std::string address = AddressOf(bus);
  std::atomic<std::uint64_t> total{0};
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      Pipeline pipeline(address, window);
      const std::string path = CreateJobOn(pipeline, "bench-roundtrips");
      ++ready;
      while (!go.load()) std::this_thread::sleep_for(std::chrono::microseconds(100));
      std::uint64_t calls = 0;
      bool state = true;
      while (!stop.load(std::memory_order_relaxed)) {
        while (pipeline.pending() < pipeline.window()) {
          pipeline.Call(path, openbits::dbus::kJobInterface, state ? "GetState" : "GetProgress",
                        nullptr, [&](sd_bus_message*) { ++calls; });
          state = !state;
        }
        pipeline.Step();
      }
      while (pipeline.pending() > 0) pipeline.Step();
      pipeline.Call(path, openbits::dbus::kJobInterface, "Cancel", nullptr, nullptr);
      while (pipeline.pending() > 0) pipeline.Step();
      total += calls;
    });
  }
  while (ready.load() < threads) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto start = Clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  const double elapsed = SecondsSince(start);
  for (auto& worker : workers) worker.join();
  // The calls answered after `stop` (at most WINDOW per thread) are counted too: a slight
  // overcount of threads * WINDOW calls, negligible against seconds of calls.
  const std::uint64_t calls = total.load();
  std::printf("calls=%llu seconds=%.4f rate=%.1f window=%zu\n",
              static_cast<unsigned long long>(calls), elapsed, static_cast<double>(calls) / elapsed,
              window);
  return 0;
}

// One thread's share of pipelined-jobs: jobs [first, first + count) on one connection.
void RunPipelinedJobs(const std::string& address, std::size_t window, bool submit,
                      std::size_t first, std::size_t count, const std::string& url_prefix,
                      const std::string& dir, JobPriority priority) {
  Pipeline pipeline(address, window);
  // This connection's jobs that were resumed and are not completed yet. bitsd sends a job's
  // signals to each of its owner's connections, so others' jobs are ignored here.
  std::unordered_set<std::string> mine;
  std::size_t completed = 0;
  auto on_signal = [&](sd_bus_message* signal, bool transferred) {
    const std::string path = sd_bus_message_get_path(signal);
    if (!mine.erase(path)) return;
    if (!transferred) Die("job " + path + " failed");
    pipeline.Call(path, openbits::dbus::kJobInterface, "Complete", nullptr,
                  [&](sd_bus_message* reply) {
                    if (bench::ReadReply<std::uint32_t>(reply, 'u') != openbits::hr::S_OK) {
                      Die("complete: partial");
                    }
                    ++completed;
                  });
  };
  pipeline.OnSignal(openbits::dbus::kJobInterface, "JobTransferred",
                    [&](sd_bus_message* signal) { on_signal(signal, true); });
  pipeline.OnSignal(openbits::dbus::kJobInterface, "JobError",
                    [&](sd_bus_message* signal) { on_signal(signal, false); });
  const std::uint32_t priority_value = static_cast<std::uint32_t>(priority);
  std::size_t created = 0;
  while (completed < count) {
    // New jobs only while the window has room, so that completions are never starved.
    while (created < count && pipeline.pending() < pipeline.window()) {
      const std::size_t i = first + created++;
      const std::string job_name = "bench-" + std::to_string(i);
      const std::string name = "f" + std::to_string(i) + ".bin";
      const std::string url = url_prefix + name, local = dir + "/" + name;
      auto read_path = [](sd_bus_message* reply) {
        const char* id = nullptr;
        const char* object = nullptr;
        if (sd_bus_message_read(reply, "so", &id, &object) < 0) Die("malformed reply");
        return std::string(object);
      };
      if (submit) {
        pipeline.Call(
            openbits::dbus::kManagerPath, openbits::dbus::kManagerInterface, "SubmitJob",
            [=](sd_bus_message* call) {
              return sd_bus_message_append(call, "sua{ss}a(ss)uu", job_name.c_str(), 0u, 0, 1,
                                           url.c_str(), local.c_str(), priority_value, 1u);
            },
            [&, read_path](sd_bus_message* reply) { mine.insert(read_path(reply)); });
        continue;
      }
      pipeline.Call(
          openbits::dbus::kManagerPath, openbits::dbus::kManagerInterface, "CreateJob",
          [job_name](sd_bus_message* call) {
            return sd_bus_message_append(call, "sua{ss}", job_name.c_str(), 0u, 0);
          },
          [&, read_path, url, local](sd_bus_message* reply) {
            const std::string path = read_path(reply);
            const char* job = openbits::dbus::kJobInterface;
            pipeline.Call(
                path, job, "SetPriority",
                [=](sd_bus_message* call) {
                  return sd_bus_message_append(call, "u", priority_value);
                },
                nullptr);
            pipeline.Call(
                path, job, "AddFile",
                [=](sd_bus_message* call) {
                  return sd_bus_message_append(call, "ss", url.c_str(), local.c_str());
                },
                nullptr);
            mine.insert(path);
            pipeline.Call(path, job, "Resume", nullptr, nullptr);
          });
    }
    pipeline.Step();
  }
}

int PipelinedJobs(const BusChoice& bus, bool submit, std::size_t count, std::size_t threads,
                  std::size_t window, const std::string& url_prefix, const std::string& dir,
                  JobPriority priority) {
  if (threads == 0 || count == 0) Die("jobs: COUNT and THREADS must be positive");
  const std::string address = AddressOf(bus);
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  std::size_t first = 0;
  for (std::size_t t = 0; t < threads; ++t) {
    const std::size_t share = count / threads + (t < count % threads ? 1 : 0);
    workers.emplace_back(RunPipelinedJobs, address, window, submit, first, share, url_prefix, dir,
                         priority);
    first += share;
  }
  for (auto& worker : workers) worker.join();
  const double seconds = SecondsSince(start);
  std::printf("jobs=%zu seconds=%.4f rate=%.1f window=%zu\n", count, seconds,
              static_cast<double>(count) / seconds, window);
  return 0;
}

int TouchAll(const BusChoice& bus, std::size_t window) {
  Pipeline pipeline(AddressOf(bus), window);
  std::vector<std::string> paths;
  bool listed = false;
  pipeline.Call(
      openbits::dbus::kManagerPath, openbits::dbus::kManagerInterface, "EnumJobs",
      [](sd_bus_message* call) { return sd_bus_message_append(call, "u", 1u); },
      [&](sd_bus_message* reply) {
        if (sd_bus_message_enter_container(reply, 'a', "o") < 0) Die("malformed EnumJobs reply");
        const char* path = nullptr;
        while (sd_bus_message_read(reply, "o", &path) > 0) paths.emplace_back(path);
        listed = true;
      });
  while (!listed) pipeline.Step();
  const auto start = Clock::now();
  std::size_t answered = 0;
  for (const std::string& path : paths) {
    pipeline.Call(path, openbits::dbus::kJobInterface, "GetState", nullptr,
                  [&](sd_bus_message*) { ++answered; });
    while (pipeline.pending() >= pipeline.window()) pipeline.Step();
  }
  while (pipeline.pending() > 0) pipeline.Step();
  const double seconds = SecondsSince(start);
  std::printf("jobs=%zu seconds=%.4f rate=%.1f\n", answered, seconds,
              static_cast<double>(answered) / seconds);
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

}  // namespace

namespace bench {

void Die(const std::string& what) {
  static std::mutex output_mutex;
  {
    std::lock_guard lock(output_mutex);
    std::cerr << "bench_client: " << what << "\n";
  }
  std::exit(1);
}

}  // namespace bench

namespace {

int Usage() {
  std::cerr << "usage: bench_client --bus=ADDR transfer LIST_FILE [PRIORITY]\n"
               "       bench_client --bus=ADDR jobs COUNT THREADS URL_PREFIX DIR [PRIORITY]\n"
               "       bench_client --bus=ADDR pipelined-jobs COUNT THREADS WINDOW URL_PREFIX DIR "
               "[PRIORITY]\n"
               "       bench_client --bus=ADDR submitted-jobs COUNT THREADS WINDOW URL_PREFIX DIR "
               "[PRIORITY]\n"
               "       bench_client --bus=ADDR roundtrips THREADS SECONDS [WINDOW]\n"
               "       bench_client --bus=ADDR touch WINDOW\n"
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
  if ((mode == "pipelined-jobs" || mode == "submitted-jobs") &&
      (args.size() == 6 || args.size() == 7)) {
    return PipelinedJobs(bus, mode == "submitted-jobs", Number(args[1]), Number(args[2]),
                         Number(args[3]), args[4], args[5], priority_at(6));
  }
  if (mode == "roundtrips" && (args.size() == 3 || args.size() == 4)) {
    double seconds = 0;
    std::istringstream(args[2]) >> seconds;
    if (args.size() == 4)
      return PipelinedRoundTrips(bus, Number(args[1]), seconds, Number(args[3]));
    return RoundTrips(bus, Number(args[1]), seconds);
  }
  if (mode == "touch" && args.size() == 2) return TouchAll(bus, Number(args[1]));
  if (mode == "ready" && args.size() == 2) {
    double timeout = 0;
    std::istringstream(args[1]) >> timeout;
    return Ready(bus, timeout);
  }
  return Usage();
}
