// Network loss: bitsd runs in a network namespace of its own whose only link the test pulls
// and plugs back, while the server stays on this side of a veth pair.
#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

class NetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!harness::NetworkNamespace::Supported()) {
      GTEST_SKIP() << "needs root and iproute2 for a network namespace";
    }
    std::filesystem::create_directories(dir_ / "www");
    std::filesystem::create_directories(dir_ / "out");
    namespace_ = std::make_unique<harness::NetworkNamespace>();
    bus_ = std::make_unique<harness::PrivateBus>(dir_);
    server_ = std::make_unique<harness::RangeServer>(dir_, dir_ / "www", std::nullopt,
                                                     namespace_->host_address());
    // A fresh veth link takes a moment to carry traffic.
    ASSERT_TRUE(harness::WaitUntil(
        [&] { return namespace_->CanReach(namespace_->host_address(), server_->port()); }));
    bitsd_ = std::make_unique<harness::Bitsd>(dir_, bus_->address(),
                                              "[transfer]\ncheckpoint_interval_ms = 100\n",
                                              namespace_->Launcher());
    bitsd_->Start();
    auto client = Client::Connect(BusChoice::Parse(bus_->address()));
    ASSERT_TRUE(client) << client.error().ToString();
    client_ = std::move(*client);
  }
  void TearDown() override {
    if (bitsd_ && HasFailure()) std::cerr << "---- bitsd log ----\n" << bitsd_->Log();
    client_.reset();
    bitsd_.reset();
    server_.reset();
    namespace_.reset();
  }
  JobState StateOf(Job& job) {
    auto state = job.GetState();
    return state ? *state : JobState::kCancelled;
  }

  harness::TempDir dir_;
  std::unique_ptr<harness::NetworkNamespace> namespace_;
  std::unique_ptr<harness::PrivateBus> bus_;
  std::unique_ptr<harness::RangeServer> server_;
  std::unique_ptr<harness::Bitsd> bitsd_;
  std::unique_ptr<Client> client_;
};

TEST_F(NetworkTest, JobsWaitForTheNetworkAndResumeWhenItReturns) {
  harness::WriteRandomFile(dir_ / "www/far.bin", 12 * 1024 * 1024, 70);
  auto job = client_->CreateJob("far");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFile(server_->Url("/far.bin?rate=4000000"), dir_ / "out/far.bin"));
  ASSERT_TRUE(job->Resume());
  ASSERT_TRUE(
      harness::WaitUntil([&] { return job->GetProgress()->bytes_transferred > 1'000'000; }));

  namespace_->SetLinkUp(false);
  ASSERT_TRUE(harness::WaitUntil([&] { return StateOf(*job) == JobState::kTransientError; }));
  auto error = job->GetError();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, hr::BG_E_NETWORK_DISCONNECTED);
  EXPECT_EQ(error->context, ErrorContext::kGeneralTransport);

  namespace_->SetLinkUp(true);
  ASSERT_TRUE(harness::WaitUntil([&] { return StateOf(*job) == JobState::kTransferred; }, 30s));
  ASSERT_TRUE(job->Complete());
  EXPECT_EQ(harness::Sha256OfFile(dir_ / "out/far.bin"),
            harness::Sha256OfFile(dir_ / "www/far.bin"));
  // It went on from where it stopped.
  const auto starts = server_->RangeStarts("/far.bin");
  ASSERT_GE(starts.size(), 2u);
  EXPECT_GT(starts.back(), 0u);
}

}  // namespace
}  // namespace openbits::integration

namespace openbits::integration {
namespace {

// WPAD by DNS devolution, the way a laptop on a corporate network finds its PAC: bitsd runs
// in a network namespace whose resolv.conf searches eng.corp.openbits.test and whose hosts
// file knows wpad.corp.openbits.test (not wpad.eng...), served on this side of the veth.
class WpadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!harness::NetworkNamespace::Supported()) {
      GTEST_SKIP() << "needs root and iproute2 for a network namespace";
    }
    std::filesystem::create_directories(dir_ / "www");
    std::filesystem::create_directories(dir_ / "out");
    const std::string host = "198.18.77.5";  // slot 1
    namespace_ = std::make_unique<harness::NetworkNamespace>(
        1, std::map<std::string, std::string>{
               {"resolv.conf", "search eng.corp.openbits.test\n"},
               {"hosts", "127.0.0.1 localhost\n" + host +
                             " wpad.corp.openbits.test files.corp.openbits.test "
                             "other.corp.openbits.test\n"}});
    // The PAC: files.* direct, everything else through a proxy that only the PAC names.
    harness::WriteFile(dir_ / "www/wpad.dat",
                       "function FindProxyForURL(url, host) {\n"
                       "  if (host == 'files.corp.openbits.test') return 'DIRECT';\n"
                       "  return 'PROXY only-the-pac-knows.corp.openbits.test:3128';\n}\n");
    harness::WriteRandomFile(dir_ / "www/file.bin", 100'000, 5);
    wpad_ = std::make_unique<harness::RangeServer>(dir_, dir_ / "www", std::nullopt, host, 80);
    files_ = std::make_unique<harness::RangeServer>(dir_, dir_ / "www", std::nullopt, host);
    ASSERT_TRUE(harness::WaitUntil([&] { return namespace_->CanReach(host, files_->port()); }));
    bus_ = std::make_unique<harness::PrivateBus>(dir_);
    bitsd_ = std::make_unique<harness::Bitsd>(dir_, bus_->address(), "", namespace_->Launcher());
    bitsd_->Start();
    auto client = Client::Connect(BusChoice::Parse(bus_->address()));
    ASSERT_TRUE(client) << client.error().ToString();
    client_ = std::move(*client);
  }
  void TearDown() override {
    if (bitsd_ && HasFailure()) std::cerr << "---- bitsd log ----\n" << bitsd_->Log();
    client_.reset();
    bitsd_.reset();
    files_.reset();
    wpad_.reset();
    namespace_.reset();
  }
  JobState Run(const std::string& name, const std::string& host, JobErrorInfo* error) {
    auto job = client_->CreateJob(name);
    if (!job) return JobState::kCancelled;
    const std::string url = "http://" + host + ":" + std::to_string(files_->port()) + "/file.bin";
    if (!job->AddFile(url, dir_ / ("out/" + name)) ||
        !job->SetProxySettings(ProxyUsage::kAutodetect) || !job->Resume()) {
      return JobState::kCancelled;
    }
    JobState state = JobState::kQueued;
    harness::WaitUntil([&] {
      auto now = job->GetState();
      state = now ? *now : JobState::kCancelled;
      return state == JobState::kTransferred || state == JobState::kError ||
             state == JobState::kTransientError;
    });
    if (error && state != JobState::kTransferred) *error = *job->GetError();
    return state;
  }

  harness::TempDir dir_;
  std::unique_ptr<harness::NetworkNamespace> namespace_;
  std::unique_ptr<harness::RangeServer> wpad_, files_;
  std::unique_ptr<harness::PrivateBus> bus_;
  std::unique_ptr<harness::Bitsd> bitsd_;
  std::unique_ptr<Client> client_;
};

TEST_F(WpadTest, AutodetectFindsThePacByDnsDevolution) {
  EXPECT_EQ(Run("direct", "files.corp.openbits.test", nullptr), JobState::kTransferred);
  // The other host goes to the proxy that only the discovered PAC names (and which does not
  // exist): the error says so.
  JobErrorInfo error;
  EXPECT_EQ(Run("proxied", "other.corp.openbits.test", &error), JobState::kTransientError);
  EXPECT_NE(error.description.find("only-the-pac-knows.corp.openbits.test"), std::string::npos)
      << error.description;
  bool fetched = false;
  for (const std::string& line : wpad_->LogLines()) {
    if (line.find("/wpad.dat") != std::string::npos) fetched = true;
  }
  EXPECT_TRUE(fetched);
}

}  // namespace
}  // namespace openbits::integration
