// Security tests: secrets at rest. A proxy password in the proxy environment (bitsd's own and
// the one a client sends with CreateJob), in a job's proxy list or in an account's proxy
// settings never reaches the job database (main file and WAL, read byte by byte), bitsd's log
// or a D-Bus reply; the proxy still receives the credentials.
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "harness/proxy_peers.h"
#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

namespace fs = std::filesystem;

// Every file of the job database (jobs.db, -wal, -shm), concatenated.
std::string DatabaseBytes(const std::string& state_dir) {
  std::string bytes;
  for (const auto& entry : fs::directory_iterator(state_dir)) {
    if (!entry.path().filename().string().starts_with("jobs.db")) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    bytes.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return bytes;
}

// bitsd and the test's client both have a proxy environment with a password: squid at
// `proxy_address`, reached as `user`:`password`.
class ProxySecretTest : public DaemonTest {
 protected:
  void SetUp() override {
    squid_ = std::make_unique<harness::Squid>(dir_, SquidName(), SquidSchemes());
    proxy_url_ = "http://" + User() + ":" + Password() + "@" + squid_->Address();
    setenv("http_proxy", proxy_url_.c_str(), 1);
    setenv("https_proxy", proxy_url_.c_str(), 1);
    setenv("no_proxy", "", 1);
    DaemonTest::SetUp();  // bitsd inherits the environment
    harness::WriteRandomFile(www() + "/file.bin", 100'000, 41);
  }
  void TearDown() override {
    DaemonTest::TearDown();
    unsetenv("http_proxy");
    unsetenv("https_proxy");
    unsetenv("no_proxy");
  }
  std::string Config() override {
    return DaemonTest::Config() + "[auth]\nallow_basic_over_http = true\n";
  }
  virtual std::string SquidName() { return "open"; }
  virtual std::string SquidSchemes() { return "none"; }
  virtual std::string User() { return "user"; }
  virtual std::string Password() { return "S3cretPw"; }

  // The password is nowhere bitsd writes: the database files and the log.
  void ExpectPasswordNowhere(const std::string& when) {
    EXPECT_EQ(DatabaseBytes(bitsd_->state_dir()).find(Password()), std::string::npos)
        << when << ": the job database holds the proxy password";
    EXPECT_EQ(bitsd_->Log().find(Password()), std::string::npos)
        << when << ": bitsd's log holds the proxy password:\n"
        << bitsd_->Log();
  }

  std::unique_ptr<harness::Squid> squid_;
  std::string proxy_url_;
};

TEST_F(ProxySecretTest, AProxyPasswordIsNeverStoredLoggedOrReturned) {
  // The client sends its proxy environment (with the password) at CreateJob.
  auto job = client_->CreateJob("proxied");
  ASSERT_TRUE(job) << job.error().ToString();
  const std::string local = out() + "/file.bin";
  ASSERT_TRUE(job->AddFile(server_->Url("/file.bin?via-env"), local));
  ASSERT_TRUE(job->Resume());
  const JobState state = WaitForState(*job, {JobState::kTransferred, JobState::kError});
  std::string description;
  if (auto error = job->GetError()) description = error->description;
  EXPECT_EQ(state, JobState::kTransferred) << description;
  EXPECT_EQ(description.find(Password()), std::string::npos) << description;
  // It went through the proxy of the environment.
  EXPECT_TRUE(harness::WaitUntil([&] {
    for (const std::string& line : squid_->AccessLog()) {
      if (line.find("via-env") != std::string::npos) return true;
    }
    return false;
  }));
  ExpectPasswordNowhere("after the transfer");

  // A proxy list with a user name and password is refused (credentials go through
  // SetCredentials), and the refusal does not repeat the password.
  const std::string with_userinfo = User() + ":" + Password() + "@" + squid_->Address();
  const Status set = job->SetProxySettings(ProxyUsage::kOverride, with_userinfo, "");
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code(), hr::E_INVALIDARG);
  EXPECT_EQ(set.error().ToString().find(Password()), std::string::npos) << set.error().ToString();
  // Nothing a reply carries holds it.
  auto settings = job->GetProxySettings();
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->list.find(Password()), std::string::npos);

  // The same for an account's own settings (bitsadmin /util /setieproxy), the list or the
  // PAC URL.
  AccountProxySettings manual{2, with_userinfo, "", ""};
  const Status account = client_->SetAccountProxy(getuid(), manual);
  ASSERT_FALSE(account);
  EXPECT_EQ(account.error().code(), hr::E_INVALIDARG);
  EXPECT_EQ(account.error().ToString().find(Password()), std::string::npos);
  AccountProxySettings script{3, "", "", "http://" + User() + ":" + Password() + "@127.0.0.1/p"};
  EXPECT_FALSE(client_->SetAccountProxy(getuid(), script));
  auto stored = client_->GetAccountProxy(getuid());
  ASSERT_TRUE(stored);
  EXPECT_FALSE(stored->has_value());

  ASSERT_TRUE(job->Complete());
  ExpectPasswordNowhere("at the end");
}

TEST_F(ProxySecretTest, AQueuedJobsProxyPasswordStaysOutOfTheDatabaseAcrossARestart) {
  auto job = client_->CreateJob("kept");
  ASSERT_TRUE(job) << job.error().ToString();
  ASSERT_TRUE(job->AddFile(server_->Url("/file.bin?after-restart"), out() + "/kept.bin"));
  ASSERT_TRUE(bitsd_->Stop());
  ExpectPasswordNowhere("with bitsd stopped");
  bitsd_->Start();
  client_ = Connect();
  auto again = client_->GetJob(job->id());
  ASSERT_TRUE(again) << again.error().ToString();
  ASSERT_TRUE(again->Resume());
  EXPECT_EQ(WaitForState(*again, {JobState::kTransferred, JobState::kError}),
            JobState::kTransferred);
  ASSERT_TRUE(again->Complete());
  ExpectPasswordNowhere("after the restart");
}

// squid demanding Basic: the credentials of the proxy environment reach it.
class ProxyCredentialsFromEnvironmentTest : public ProxySecretTest {
 protected:
  std::string SquidName() override { return "basic"; }
  std::string SquidSchemes() override { return "basic"; }
  std::string User() override { return "alice"; }
  std::string Password() override { return "alicepw"; }
};

TEST_F(ProxyCredentialsFromEnvironmentTest, TheProxyReceivesTheCredentialsOfTheEnvironment) {
  const Outcome outcome =
      RunJob("authenticated", server_->Url("/file.bin?env-credentials"), [](Job&) { return Ok(); });
  ASSERT_EQ(outcome.state, JobState::kTransferred) << outcome.description;
  EXPECT_EQ(outcome.sha256, harness::Sha256OfFile(www() + "/file.bin"));
  // squid logged the request as alice.
  EXPECT_TRUE(harness::WaitUntil([&] {
    for (const std::string& line : squid_->AccessLog()) {
      std::istringstream fields(line);
      std::vector<std::string> words;
      for (std::string word; fields >> word;) words.push_back(word);
      if (line.find("env-credentials") != std::string::npos && words.size() > 7 &&
          words[7] == "alice") {
        return true;
      }
    }
    return false;
  }));
  ExpectPasswordNowhere("after the transfer");
}

}  // namespace
}  // namespace openbits::integration
