// How bitsd serves calls on the bus: calls that wait on disks (Complete, Cancel) leave the bus
// thread free for the others, with the caller's identity and checks unchanged.
#include <systemd/sd-bus.h>

#include <deque>
#include <string>
#include <vector>

#include "integration/daemon_fixture.h"
#include "openbits/dbus_names.h"

namespace openbits::integration {
namespace {

// A raw sd-bus connection that sends calls without waiting and records the order in which
// their replies come back.
class PipelinedConnection {
 public:
  explicit PipelinedConnection(const std::string& address) {
    int r = sd_bus_new(&bus_);
    if (r >= 0) r = sd_bus_set_address(bus_, address.c_str());
    if (r >= 0) r = sd_bus_set_bus_client(bus_, 1);
    if (r >= 0) r = sd_bus_start(bus_);
    if (r < 0) throw std::runtime_error("cannot connect to " + address);
  }
  ~PipelinedConnection() { sd_bus_flush_close_unref(bus_); }

  // Sends `member` (no arguments) to the job at `path`; its reply is recorded as `label`.
  void Send(const std::string& path, const char* member, std::string label) {
    calls_.push_back({this, std::move(label)});
    sd_bus_message* call = nullptr;
    int r = sd_bus_message_new_method_call(bus_, &call, dbus::kBusName, path.c_str(),
                                           dbus::kJobInterface, member);
    if (r >= 0) r = sd_bus_call_async(bus_, nullptr, call, &Replied, &calls_.back(), 0);
    sd_bus_message_unref(call);
    if (r < 0) throw std::runtime_error(std::string("cannot send ") + member);
  }

  // Handles replies until `count` have come (or the timeout passes); returns them in order,
  // each as "label" or "label: error name".
  std::vector<std::string> Replies(std::size_t count, std::chrono::seconds timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (replies_.size() < count && std::chrono::steady_clock::now() < deadline) {
      if (sd_bus_process(bus_, nullptr) == 0) sd_bus_wait(bus_, 100'000);
    }
    return replies_;
  }

 private:
  struct Pending {
    PipelinedConnection* self;
    std::string label;
  };
  static int Replied(sd_bus_message* reply, void* userdata, sd_bus_error*) {
    auto* pending = static_cast<Pending*>(userdata);
    std::string entry = pending->label;
    if (sd_bus_message_is_method_error(reply, nullptr)) {
      entry += std::string(": ") + sd_bus_message_get_error(reply)->name;
    }
    pending->self->replies_.push_back(entry);
    return 1;
  }

  sd_bus* bus_ = nullptr;
  std::deque<Pending> calls_;  // stable addresses for the callbacks
  std::vector<std::string> replies_;
};

class BusCallsTest : public DaemonTest {
 protected:
  std::string Config() override {
    return DaemonTest::Config() + "[limits]\nmax_files_per_job = 400\n";
  }
};

// Complete of a job of 150 files renames them in batches, each with its syncs, and stores
// every delivery: it takes a while. A GetState sent after it on the same connection is
// answered meanwhile, not after it, and Complete still delivers every file.
TEST_F(BusCallsTest, CompleteLeavesTheBusFreeForOtherCalls) {
  constexpr int kFiles = 150;
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < kFiles; ++i) {
    const std::string name = "f" + std::to_string(i) + ".bin";
    harness::WriteRandomFile(www() + "/" + name, 1024, 100 + i);
    files.emplace_back(server_->Url("/" + name), out() + "/" + name);
  }
  auto job = client_->CreateJob("many-files");
  ASSERT_TRUE(job) << job.error().ToString();
  ASSERT_TRUE(job->AddFileSet(files));
  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}), JobState::kTransferred);

  PipelinedConnection connection(bus_->address());
  const std::string path = dbus::JobPath(job->id());
  connection.Send(path, "Complete", "Complete");
  connection.Send(path, "GetState", "GetState");
  EXPECT_EQ(connection.Replies(2), (std::vector<std::string>{"GetState", "Complete"}));

  for (const auto& [url, local] : files) {
    EXPECT_TRUE(std::filesystem::exists(local)) << local;
  }
  EXPECT_EQ(job->GetState().error().code(), hr::BG_E_NOT_FOUND);  // completed jobs are gone
}

// Complete and Cancel from another user are answered BG_E_NOT_FOUND, as any call on a job
// that user may not see; the owner's job is untouched.
TEST_F(BusCallsTest, CompleteAndCancelKeepTheCallersIdentity) {
  harness::WriteRandomFile(www() + "/mine.bin", 4096, 7);
  auto job = client_->CreateJob("mine");
  ASSERT_TRUE(job) << job.error().ToString();
  ASSERT_TRUE(job->AddFile(server_->Url("/mine.bin"), out() + "/mine.bin"));
  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}), JobState::kTransferred);

  std::string why_not;
  const auto users = harness::FindTestUsers(&why_not);
  if (!users) GTEST_SKIP() << why_not;
  const harness::RunAs bob = users->bob;
  for (const char* verb : {"/complete", "/cancel"}) {
    const auto denied = harness::Run(Bitsadmin({verb, job->id().ToString()}), bob);
    EXPECT_EQ(denied.exit_code, 1) << verb;
    EXPECT_NE(denied.err.find("BG_E_NOT_FOUND"), std::string::npos) << verb << ": " << denied.err;
  }
  EXPECT_EQ(*job->GetState(), JobState::kTransferred);
  EXPECT_FALSE(std::filesystem::exists(out() + "/mine.bin"));

  // Its owner completes it through the same path.
  auto completed = job->Complete();
  ASSERT_TRUE(completed) << completed.error().ToString();
  EXPECT_EQ(*completed, hr::S_OK);
  EXPECT_EQ(harness::Sha256OfFile(out() + "/mine.bin"), harness::Sha256OfFile(www() + "/mine.bin"));
}

}  // namespace
}  // namespace openbits::integration
