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
    // The trusted CA has revoked one of its server certificates (revoked_) and publishes a CRL.
    revoked_ = harness::IssueServerCertificate(dir_, trusted_, "revoked", {});
    crl_ = harness::MakeCrl(dir_, trusted_, revoked_.server_cert);
    return DaemonTest::Config() + "[tls]\nextra_ca_file = " + trusted_.ca_cert +
           "\ncrl_file = " + crl_ + "\n";
  }

  // A job for `url` run to its end; returns the state it ended in.
  JobState Fetch(const std::string& name, const std::string& url, std::uint32_t flags,
                 HRESULT* error_code = nullptr) {
    auto job = client_->CreateJob(name);
    if (!job || !job->AddFile(url, out() + "/" + name) || !job->SetSecurityFlags(flags) ||
        !job->Resume()) {
      ADD_FAILURE() << "could not start " << name;
      return JobState::kCancelled;
    }
    const JobState state =
        WaitForState(*job, {JobState::kTransferred, JobState::kError, JobState::kTransientError});
    if (error_code && state != JobState::kTransferred) *error_code = job->GetError()->code;
    (void)job->Cancel();
    return state;
  }
  std::unique_ptr<harness::RangeServer> Serve(const harness::TestPki& pki) {
    return std::make_unique<harness::RangeServer>(dir_, www(), pki);
  }

  harness::TestPki trusted_, rogue_, revoked_;
  std::string crl_;
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
  EXPECT_EQ(error->code, hr::WINHTTP_SECURE_INVALID_CA);
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

TEST_F(TlsTest, EachCertificateFaultHasItsCodeAndItsIgnoreFlag) {
  harness::WriteFile(www() + "/f.txt", "tls flags");
  struct Case {
    const char* name;
    harness::ServerCertificateOptions options;
    HRESULT code;
    std::uint32_t flag;
  };
  const Case cases[] = {
      {"expired",
       {.expired = true},
       hr::WINHTTP_SECURE_CERT_DATE_INVALID,
       kSslIgnoreCertDateInvalid},
      {"otherhost",
       {.host = "otherhost.test"},
       hr::WINHTTP_SECURE_CERT_CN_INVALID,
       kSslIgnoreCertCnInvalid},
      {"clientonly",
       {.client_auth_only = true},
       hr::WINHTTP_SECURE_CERT_WRONG_USAGE,
       kSslIgnoreCertWrongUsage},
  };
  for (const Case& c : cases) {
    auto server = Serve(harness::IssueServerCertificate(dir_, trusted_, c.name, c.options));
    HRESULT code = 0;
    EXPECT_EQ(Fetch(std::string(c.name) + "-strict", server->Url("/f.txt"), 0, &code),
              JobState::kError)
        << c.name;
    EXPECT_EQ(code, c.code) << c.name;
    // Its own flag excuses exactly that fault; another flag does not.
    EXPECT_EQ(Fetch(std::string(c.name) + "-excused", server->Url("/f.txt"), c.flag),
              JobState::kTransferred)
        << c.name;
    EXPECT_EQ(Fetch(std::string(c.name) + "-other", server->Url("/f.txt"), kSslIgnoreUnknownCa),
              JobState::kError)
        << c.name;
  }
  // An unknown authority, and its flag.
  EXPECT_EQ(Fetch("rogue-excused", untrusted_https_->Url("/f.txt"), kSslIgnoreUnknownCa),
            JobState::kTransferred);
}

TEST_F(TlsTest, RevocationIsCheckedOnlyWithTheCrlFlag) {
  harness::WriteFile(www() + "/f.txt", "crl");
  auto revoked = Serve(revoked_);
  EXPECT_EQ(Fetch("unchecked", revoked->Url("/f.txt"), 0), JobState::kTransferred);
  HRESULT code = 0;
  EXPECT_EQ(Fetch("checked", revoked->Url("/f.txt"), kSslEnableCrlCheck, &code), JobState::kError);
  EXPECT_EQ(code, hr::WINHTTP_SECURE_CERT_REVOKED);
  // A good certificate of the same CA passes the check.
  EXPECT_EQ(Fetch("good", https_->Url("/f.txt"), kSslEnableCrlCheck), JobState::kTransferred);
  // Without a CRL for the issuer the check cannot be made, which is fatal too.
  EXPECT_EQ(Fetch("no-crl", untrusted_https_->Url("/f.txt"),
                  kSslEnableCrlCheck | kSslIgnoreUnknownCa, &code),
            JobState::kError);
  EXPECT_EQ(code, hr::WINHTTP_SECURE_CERT_REV_FAILED);
}

TEST_F(TlsTest, AServerThatRequiresAClientCertificateSaysSoUnderTls12And13) {
  harness::WriteFile(www() + "/f.txt", "mutual");
  for (const char* version : {"1.2", "1.3"}) {
    harness::TestPki required = trusted_;
    required.client_ca = trusted_.ca_cert;
    required.client_verify = "required";
    if (std::string(version) == "1.2") required.max_tls = "1.2";
    auto server = Serve(required);
    HRESULT code = 0;
    EXPECT_EQ(Fetch(std::string("required-") + version, server->Url("/f.txt"), 0, &code),
              JobState::kError)
        << version;
    EXPECT_EQ(code, hr::WINHTTP_CLIENT_AUTH_CERT_NEEDED) << version;
  }
  // A server that only asks (optional) gets no certificate and serves the file.
  harness::TestPki optional = trusted_;
  optional.client_ca = trusted_.ca_cert;
  optional.client_verify = "optional";
  auto server = Serve(optional);
  EXPECT_EQ(Fetch("optional", server->Url("/f.txt"), 0), JobState::kTransferred);
}

}  // namespace
}  // namespace openbits::integration
