// The core's cost per job as the queue grows: CreateJob + AddFiles + Resume, and the job's
// transfer to TRANSFERRED, against the in-memory fakes, with N jobs already in the queue.
// The rate must not fall as N grows (each call and each scheduler event is O(log N)).
//   queue_bench [jobs_per_round=2000] [queue sizes...=100 10000 100000]
// (Before this was O(log N), a round at 100,000 took minutes: give it fewer jobs.)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "core/job_manager.h"
#include "core/system_clock.h"
#include "fakes/fake_ports.h"

namespace openbits {
namespace {

using SteadyClock = std::chrono::steady_clock;

double Seconds(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// Jobs already queued: SUSPENDED ones with a file each, of 1,000 owners, as a busy machine
// holds them (loaded from the store, as bitsd finds them at start).
void Populate(fakes::InMemoryJobStore& store, std::size_t count, std::int64_t now_us) {
  for (std::size_t i = 0; i < count; ++i) {
    core::Job job;
    job.id = Guid::Generate();
    job.owner_uid = job.owner_gid = 2000 + static_cast<std::uint32_t>(i % 1000);
    job.display_name = "queued " + std::to_string(i);
    job.times.creation_us = job.times.modification_us = job.last_progress_us = now_us;
    core::JobFile file;
    file.remote_url = "http://h/queued";
    file.local_path = "/d/queued-" + std::to_string(i);
    file.temp_path = file.local_path + ".tmp";
    job.files.push_back(file);
    (void)store.Save(job);
  }
}

void Round(std::size_t queue_size, int jobs) {
  core::ManagerOptions options;
  options.max_jobs_per_user = 1'000'000;
  options.max_jobs_per_machine = 1'000'000;
  fakes::InMemoryJobStore store;
  fakes::ScriptedTransport transport;
  fakes::InMemoryFileSystem files;
  fakes::RecordingEventSink events;
  fakes::FakeCommandRunner commands;
  core::SystemClock clock;
  Populate(store, queue_size, clock.NowUs());
  transport.Serve("http://h/new", "0123456789abcdef");
  core::JobManager manager(options, store, transport, files, events, commands, clock);
  if (!manager.Start()) std::abort();
  const core::Caller caller{1000, 1000, false};
  std::vector<Guid> ids;
  const auto start = SteadyClock::now();
  for (int i = 0; i < jobs; ++i) {
    auto id = manager.CreateJob(caller, "new", JobType::kDownload);
    if (!id) std::abort();
    if (!manager.AddFiles(caller, *id, {{"http://h/new", "/d/new-" + std::to_string(i)}}))
      std::abort();
    if (!manager.Resume(caller, *id)) std::abort();
    ids.push_back(*id);
  }
  const double calls = Seconds(start);
  for (const Guid& id : ids) {
    for (;;) {
      auto job = manager.GetJob(caller, id);
      if (!job) std::abort();
      if (job->state == JobState::kTransferred) break;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  const double all = Seconds(start);
  std::printf(
      "queue %7zu: %d x (CreateJob+AddFiles+Resume) %8.0f jobs/s; transferred %8.0f jobs/s\n",
      queue_size, jobs, jobs / calls, jobs / all);
  std::fflush(stdout);
}

}  // namespace
}  // namespace openbits

int main(int argc, char** argv) {
  openbits::log::Init("warn");
  const int jobs = argc > 1 ? std::atoi(argv[1]) : 2000;
  std::vector<std::size_t> sizes;
  for (int i = 2; i < argc; ++i) sizes.push_back(std::strtoull(argv[i], nullptr, 10));
  if (sizes.empty()) sizes = {100, 10'000, 100'000};
  for (std::size_t size : sizes) openbits::Round(size, jobs);
}
