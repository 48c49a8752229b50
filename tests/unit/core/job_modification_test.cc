// JobModification throttling on the real clock: a modification held back by the minimum
// notification interval is sent when the interval is over, even when nothing else happens to
// the job meanwhile (a transfer that stalls after some progress).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/job_manager.h"
#include "core/system_clock.h"
#include "fakes/fake_ports.h"
#include "fakes/wait.h"

namespace openbits::core {
namespace {

using namespace std::chrono_literals;

using fakes::WaitUntil;

// Answers, then sends the first half of the body when the test opens the gate, then stalls
// until the run is asked to stop.
class GatedTransport : public Transport {
 public:
  void OpenGate() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    changed_.notify_all();
  }
  std::unique_ptr<TransferSession> OpenSession() override {
    return std::make_unique<Session>(*this);
  }

 private:
  class Session : public TransferSession {
   public:
    explicit Session(GatedTransport& transport) : transport_(transport) {}
    Status Download(const DownloadRequest&, DownloadSink& sink) override {
      const std::string body(1000, 'x');
      DownloadResponse response;
      response.bytes_total = body.size();
      OPENBITS_RETURN_IF_ERROR(sink.OnResponse(response));
      {
        std::unique_lock lock(transport_.mutex_);
        while (!transport_.open_ && !sink.StopRequested()) transport_.changed_.wait_for(lock, 1ms);
      }
      if (!sink.StopRequested()) OPENBITS_RETURN_IF_ERROR(sink.OnData(body.data(), 500));
      while (!sink.StopRequested()) std::this_thread::sleep_for(1ms);
      return Error(kAborted, ErrorContext::kNone, "stopped");
    }

   private:
    GatedTransport& transport_;
  };

  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
};

// The system clock, counting how often it is read: a scheduler that wakes up and reads it in a
// loop shows there.
class CountingClock : public Clock {
 public:
  std::int64_t NowUs() const override {
    ++reads_;
    return clock_.NowUs();
  }
  std::uint64_t reads() const { return reads_.load(); }

 private:
  SystemClock clock_;
  mutable std::atomic<std::uint64_t> reads_{0};
};

class ModificationSink : public fakes::RecordingEventSink {
 public:
  void JobModified(const Guid&, std::uint32_t, JobState state) override {
    if (state == JobState::kTransferring) ++transferring_;
  }
  int transferring() const { return transferring_.load(); }

 private:
  std::atomic<int> transferring_{0};
};

TEST(JobModificationTest, AThrottledModificationIsSentWhenTheIntervalIsOver) {
  ManagerOptions options;
  fakes::InMemoryJobStore store;
  GatedTransport transport;
  fakes::InMemoryFileSystem files;
  ModificationSink events;
  fakes::FakeCommandRunner commands;
  SystemClock clock;
  JobManager manager(options, store, transport, files, events, commands, clock);
  ASSERT_TRUE(manager.Start());
  const Caller alice{1000, 1000, false};

  auto id = manager.CreateJob(alice, "throttled", JobType::kDownload);
  ASSERT_TRUE(id);
  ASSERT_TRUE(manager.AddFiles(alice, *id, {{"http://h/stall", "/d/stall"}}));
  ASSERT_TRUE(manager.SetNotifyFlags(alice, *id, kNotifyJobModification));
  ASSERT_TRUE(manager.SetProperty(alice, *id, JobPropertyId::kMinimumNotificationIntervalMs,
                                  std::uint32_t{500}));
  ASSERT_TRUE(manager.Resume(alice, *id));
  // TRANSFERRING is sent at once (a state change is never held back).
  ASSERT_TRUE(WaitUntil([&] { return events.transferring() == 1; }));
  // The bytes come within the interval of that modification, so their modification is held
  // back. (Opened a little later, so that the scheduler has gone to sleep first: the defect is
  // a sleeping scheduler that nobody tells about the held-back modification.)
  std::this_thread::sleep_for(150ms);
  transport.OpenGate();
  ASSERT_TRUE(WaitUntil([&] {
    auto job = manager.GetJob(alice, *id);
    return job && job->files[0].bytes_transferred == 500;
  }));
  // Nothing else happens to the job: the held-back modification goes out once its interval
  // (500 ms) is over, not whenever something next wakes the scheduler.
  EXPECT_TRUE(WaitUntil([&] { return events.transferring() == 2; }, 5s))
      << "the modification of the progress was never sent";
  manager.Stop();
}

// A modification held back, then the job stops asking for modifications: nothing is pending
// any more, and the scheduler sleeps instead of handling the same due timer over and over.
TEST(JobModificationTest, NoModificationStaysPendingForAJobThatNoLongerAsksForThem) {
  ManagerOptions options;
  fakes::InMemoryJobStore store;
  fakes::ScriptedTransport transport;
  fakes::InMemoryFileSystem files;
  ModificationSink events;
  fakes::FakeCommandRunner commands;
  CountingClock clock;
  JobManager manager(options, store, transport, files, events, commands, clock);
  ASSERT_TRUE(manager.Start());
  const Caller alice{1000, 1000, false};

  auto id = manager.CreateJob(alice, "quiet", JobType::kDownload);
  ASSERT_TRUE(id);
  ASSERT_TRUE(manager.SetNotifyFlags(alice, *id, kNotifyJobModification));  // sent at once
  // Within the interval of the one just sent: held back.
  ASSERT_TRUE(manager.SetProperty(alice, *id, JobPropertyId::kMinimumNotificationIntervalMs,
                                  std::uint32_t{100}));
  ASSERT_TRUE(manager.SetNotifyFlags(alice, *id, kNotifyJobTransferred));

  // The held-back modification's time comes (100 ms) and goes; then the scheduler has
  // nothing to do. Its reads of the clock over a quarter of a second show whether it sleeps
  // (a few reads) or spins on a timer that never goes away (thousands).
  std::this_thread::sleep_for(300ms);
  const std::uint64_t before = clock.reads();
  std::this_thread::sleep_for(250ms);
  const std::uint64_t reads = clock.reads() - before;
  EXPECT_LT(reads, 50u) << "the scheduler read the clock " << reads
                        << " times in 250 ms while idle";
  manager.Stop();
}

}  // namespace
}  // namespace openbits::core
