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
