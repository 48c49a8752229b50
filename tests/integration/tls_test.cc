// HTTPS: certificate verification is on by default; [tls] extra_ca_file adds a trusted CA.
#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

class TlsTest : public DaemonTest {
 protected:
  void SetUp() override {
    trusted_ = harness::MakeTestPki(dir_, "trusted");
    rogue_ = harness::MakeTestPki(dir_, "rogue");
    DaemonTest::SetUp();
    https_ = std::make_unique<harness::RangeServer>(dir_, www(), trusted_);
    untrusted_https_ = std::make_unique<harness::RangeServer>(dir_, www(), rogue_);
  }
  std::string Config() override {
    return DaemonTest::Config() + "[tls]\nextra_ca_file = " + trusted_.ca_cert + "\n";
  }

  harness::TestPki trusted_, rogue_;
  std::unique_ptr<harness::RangeServer> https_, untrusted_https_;
};

TEST_F(TlsTest, HttpsDownloadFromAServerOfATrustedCa) {
  harness::WriteRandomFile(www() + "/secure.bin", 5 * 1024 * 1024 + 1, 20);
  auto job = client_->CreateJob("https");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFile(https_->Url("/secure.bin"), out() + "/secure.bin"));
  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}), JobState::kTransferred);
  ASSERT_TRUE(job->Complete());
  EXPECT_EQ(harness::Sha256OfFile(out() + "/secure.bin"),
            harness::Sha256OfFile(www() + "/secure.bin"));
  EXPECT_EQ(https_->RangeStarts("/secure.bin"), std::vector<std::uint64_t>{0});
}

TEST_F(TlsTest, UntrustedServerCertificateIsAFatalSecureFailure) {
  harness::WriteFile(www() + "/secret.txt", "secret");
  auto job = client_->CreateJob("untrusted");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFile(untrusted_https_->Url("/secret.txt"), out() + "/secret.txt"));
  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(
      WaitForState(*job, {JobState::kTransferred, JobState::kError, JobState::kTransientError}),
      JobState::kError);
  auto error = job->GetError();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, hr::WINHTTP_SECURE_FAILURE);
  EXPECT_EQ(error->protocol, "https");
  // Not a single request reached the server's HTTP layer.
  EXPECT_TRUE(untrusted_https_->LogLines().empty());
}

TEST_F(TlsTest, RedirectFromHttpsToHttpNeedsItsFlag) {
  harness::WriteRandomFile(www() + "/plain.bin", 2048, 21);
  const std::string down = https_->Url("/redirect?to=" + server_->Url("/plain.bin"));
  auto refused = client_->CreateJob("refused");
  ASSERT_TRUE(refused->AddFile(down, out() + "/refused"));
  ASSERT_TRUE(refused->Resume());
  ASSERT_EQ(WaitForState(*refused, {JobState::kTransferred, JobState::kError}), JobState::kError);
  EXPECT_EQ(refused->GetError()->code, hr::WINHTTP_REDIRECT_FAILED);

  auto allowed = client_->CreateJob("allowed");
  ASSERT_TRUE(allowed->AddFile(down, out() + "/allowed"));
  ASSERT_TRUE(allowed->SetSecurityFlags(kRedirectAllowHttpsToHttp));
  ASSERT_TRUE(allowed->Resume());
  ASSERT_EQ(WaitForState(*allowed, {JobState::kTransferred, JobState::kError}),
            JobState::kTransferred);
  ASSERT_TRUE(allowed->Complete());
  EXPECT_EQ(harness::Sha256OfFile(out() + "/allowed"), harness::Sha256OfFile(www() + "/plain.bin"));
}

}  // namespace
}  // namespace openbits::integration
