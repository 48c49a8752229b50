// How bitsd serves calls on the bus: calls that wait on disks (Complete, Cancel) leave the bus
// thread free for the others, with the caller's identity and checks unchanged.
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

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

namespace openbits::integration {
namespace {

// SubmitJob: one call creates the job with its files and priority and resumes it; the job is
// the caller's and runs as any other.
TEST_F(BusCallsTest, SubmitJobCreatesFillsAndResumesAJobInOneCall) {
  harness::WriteRandomFile(www() + "/a.bin", 64 * 1024, 21);
  harness::WriteRandomFile(www() + "/b.bin", 3000, 22);
  auto job = client_->SubmitJob(
      "submitted",
      {{server_->Url("/a.bin"), out() + "/a.bin"}, {server_->Url("/b.bin"), out() + "/b.bin"}},
      JobPriority::kHigh);
  ASSERT_TRUE(job) << job.error().ToString();
  EXPECT_EQ(*job->GetDisplayName(), "submitted");
  EXPECT_EQ(*job->GetPriority(), JobPriority::kHigh);
  EXPECT_EQ(job->GetOwner()->uid, geteuid());
  const auto files = job->EnumFiles();
  ASSERT_TRUE(files);
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[1].local_name, out() + "/b.bin");
  ASSERT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}), JobState::kTransferred);
  ASSERT_TRUE(job->Complete());
  EXPECT_EQ(harness::Sha256OfFile(out() + "/a.bin"), harness::Sha256OfFile(www() + "/a.bin"));
  EXPECT_EQ(harness::Sha256OfFile(out() + "/b.bin"), harness::Sha256OfFile(www() + "/b.bin"));

  // Without the RESUME flag the job waits, suspended, with its files.
  auto waiting = client_->SubmitJob("waiting", {{server_->Url("/a.bin"), out() + "/a2.bin"}},
                                    JobPriority::kLow, /*resume=*/false);
  ASSERT_TRUE(waiting) << waiting.error().ToString();
  EXPECT_EQ(*waiting->GetState(), JobState::kSuspended);
  EXPECT_EQ(waiting->GetProgress()->files_total, 1u);
  EXPECT_TRUE(waiting->Cancel());
}

// A step that fails fails the call with that step's error, and leaves no job behind.
TEST_F(BusCallsTest, SubmitJobIsAllOrNothing) {
  auto bad_file = client_->SubmitJob("bad-file", {{server_->Url("/x"), "relative/name"}});
  ASSERT_FALSE(bad_file);
  EXPECT_EQ(bad_file.error().code(), hr::E_INVALIDARG) << bad_file.error().ToString();
  auto bad_priority = client_->SubmitJob("bad-priority", {{server_->Url("/x"), out() + "/x"}},
                                         static_cast<JobPriority>(7));
  ASSERT_FALSE(bad_priority);
  EXPECT_EQ(bad_priority.error().code(), hr::E_INVALIDARG) << bad_priority.error().ToString();
  auto nothing = client_->SubmitJob("nothing", {});
  ASSERT_FALSE(nothing);  // Resume of a job without files
  const auto listed = client_->ListJobs();
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->empty()) << listed->size() << " job(s) left, the first "
                               << (listed->empty() ? "" : listed->front().display_name);
}

// SubmitJob checks as the caller: Bob cannot place a file where only Alice may write, and
// what he submits is his.
TEST_F(BusCallsTest, SubmitJobActsAsTheCaller) {
  std::string why_not;
  const auto users = harness::FindTestUsers(&why_not);
  if (!users) GTEST_SKIP() << why_not;
  const std::string alice_dir = out() + "/alice";
  std::filesystem::create_directories(alice_dir);
  ASSERT_EQ(chown(alice_dir.c_str(), users->alice.uid, users->alice.gid), 0);
  ASSERT_EQ(chmod(alice_dir.c_str(), 0700), 0);
  harness::WriteRandomFile(www() + "/small.bin", 2048, 23);

  // bitsadmin /transfer submits its job in one call.
  const auto denied = harness::Run(
      Bitsadmin({"/transfer", "planted", server_->Url("/small.bin"), alice_dir + "/planted"}),
      users->bob);
  EXPECT_EQ(denied.exit_code, 1) << denied.out;
  EXPECT_NE(denied.err.find("E_ACCESSDENIED"), std::string::npos) << denied.err;
  EXPECT_FALSE(std::filesystem::exists(alice_dir + "/planted"));
  EXPECT_NE(harness::Run(Bitsadmin({"/list", "/allusers"})).out.find("Listed 0 job(s)."),
            std::string::npos);

  const auto transferred = harness::Run(
      Bitsadmin({"/transfer", "hers", server_->Url("/small.bin"), alice_dir + "/small.bin"}),
      users->alice);
  ASSERT_EQ(transferred.exit_code, 0) << transferred.out << transferred.err;
  struct stat info {};
  ASSERT_EQ(stat((alice_dir + "/small.bin").c_str(), &info), 0);
  EXPECT_EQ(info.st_uid, users->alice.uid);
  EXPECT_EQ(harness::Sha256OfFile(alice_dir + "/small.bin"),
            harness::Sha256OfFile(www() + "/small.bin"));
}

}  // namespace
}  // namespace openbits::integration
