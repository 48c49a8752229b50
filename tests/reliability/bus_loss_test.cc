// Losing the bus: the dbus-daemon bitsd serves on goes away while a transfer runs. bitsd must
// not abort (no SIGABRT from an uncaught sdbus::Error): it checkpoints, logs why it stops and
// exits with a non-zero status that systemd's Restart=on-failure answers. Started again on a
// new bus at the same address, it resumes the job from its committed offset.
#include <gtest/gtest.h>

#include <signal.h>

#include <filesystem>
#include <memory>

#include "harness/harness.h"
#include "openbits/client.h"

namespace openbits::reliability {
namespace {

using namespace std::chrono_literals;

// A private dbus-daemon this test starts and kills itself (the harness's PrivateBus keeps its
// process to itself), on a fixed socket so that a second daemon can take the same address.
class KillableBus {
 public:
  explicit KillableBus(const harness::TempDir& dir)
      : dir_(dir), socket_(dir / "bus"), address_("unix:path=" + socket_) {
    Start();
  }
  void Start() {
    std::filesystem::remove(socket_);
    process_ = harness::Process::Start(
        {"/usr/bin/dbus-daemon",
         "--config-file=" OPENBITS_SOURCE_DIR "/tests/harness/dbus-private.conf",
         "--address=" + address_, "--nofork"},
        dir_ / "dbus.log");
    if (!harness::WaitUntil([&] { return std::filesystem::exists(socket_); }, 10s)) {
      throw std::runtime_error("dbus-daemon did not start: " +
                               harness::ReadFile(dir_ / "dbus.log"));
    }
    std::filesystem::permissions(socket_, std::filesystem::perms::all);
  }
  void Kill() {
    process_.Signal(SIGKILL);
    process_.Wait();
  }
  const std::string& address() const { return address_; }

 private:
  const harness::TempDir& dir_;
  std::string socket_;
  std::string address_;
  harness::Process process_;
};

std::unique_ptr<Client> Connect(const std::string& address) {
  auto client = Client::Connect(BusChoice::Parse(address));
  if (!client) throw std::runtime_error(client.error().ToString());
  return std::move(*client);
}

TEST(BusLossTest, BusKilledMidTransferExitsCleanlyAndTheJobResumesAfterRestart) {
  harness::TempDir dir;
  const std::string www = dir / "www";
  const std::string out = dir / "out";
  std::filesystem::create_directories(www);
  std::filesystem::create_directories(out);
  harness::WriteRandomFile(www + "/big.bin", 1536 * 1024, 41);
  KillableBus bus(dir);
  harness::RangeServer server(dir, www);
  harness::Bitsd bitsd(dir, bus.address(), "[transfer]\ncheckpoint_interval_ms = 100\n");
  bitsd.Start();

  Guid id;
  {
    auto client = Connect(bus.address());
    auto job = client->CreateJob("bus-loss");
    ASSERT_TRUE(job) << job.error().ToString();
    id = job->id();
    ASSERT_TRUE(job->AddFile(server.Url("/big.bin?rate=400000"), out + "/big.bin"));
    ASSERT_TRUE(job->Resume());
    // Some bytes committed, most still to come.
    ASSERT_TRUE(harness::WaitUntil([&] {
      auto progress = job->GetProgress();
      return progress && progress->bytes_transferred > 100 * 1024;
    }));
  }

  bus.Kill();
  // bitsd notices on its own, says why, and ends without a signal.
  ASSERT_TRUE(harness::WaitUntil(
      [&] {
        const std::string log = bitsd.Log();
        return log.find("bitsd stopped") != std::string::npos ||
               log.find("terminate called") != std::string::npos;
      },
      20s))
      << bitsd.Log();
  const auto status = bitsd.Stop();
  ASSERT_TRUE(status.has_value());
  // 1: a failure systemd's Restart=on-failure answers; not 128+SIGABRT, not a sanitizer's code.
  EXPECT_EQ(*status, 1) << bitsd.Log();
  EXPECT_EQ(bitsd.Log().find("Sanitizer"), std::string::npos) << bitsd.Log();
  EXPECT_NE(bitsd.Log().find("Lost the bus connection"), std::string::npos) << bitsd.Log();

  // What systemd does next: the bus comes back, bitsd is started again.
  bus.Start();
  bitsd.Start();
  auto client = Connect(bus.address());
  auto job = client->GetJob(id);
  ASSERT_TRUE(job) << job.error().ToString();
  ASSERT_TRUE(harness::WaitUntil(
      [&] {
        auto state = job->GetState();
        return state && *state == JobState::kTransferred;
      },
      30s))
      << bitsd.Log();
  ASSERT_TRUE(job->Complete());
  EXPECT_EQ(harness::Sha256OfFile(out + "/big.bin"), harness::Sha256OfFile(www + "/big.bin"));
  // It went on from its checkpoint rather than starting over.
  const auto starts = server.RangeStarts("/big.bin");
  ASSERT_FALSE(starts.empty());
  EXPECT_GT(starts.back(), 0u);
  client.reset();
  EXPECT_EQ(bitsd.Stop(), 0);
}

}  // namespace
}  // namespace openbits::reliability
