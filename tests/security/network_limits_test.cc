// Security tests: the network limits boundary. Each case is an attack by a local user, an
// administrator or a hostile server, asserting the secure outcome (docs/security.md).
//
// A hostile server (or proxy) must not make bitsd hold what it sends: challenge bodies and
// header blocks are capped (transfer/response_limits.h), and what a PAC script sees of a URL
// neither appears in /proc nor carries more than PAC semantics need.
#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;

// The value in kB of `field` ("VmHWM", "VmRSS") of /proc/<pid>/status, or -1.
long StatusKb(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

std::string Cmdline(pid_t pid) {
  std::string text = harness::ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : text) {
    if (c == '\0') c = ' ';
  }
  return text;
}

// The processes whose command line contains every one of `needles`.
std::vector<pid_t> ProcessesWith(const std::vector<std::string>& needles) {
  std::vector<pid_t> found;
  DIR* proc = opendir("/proc");
  if (!proc) return found;
  while (const dirent* entry = readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atol(entry->d_name));
    if (pid <= 0) continue;
    const std::string cmdline = Cmdline(pid);
    bool all = !cmdline.empty();
    for (const std::string& needle : needles)
      all = all && cmdline.find(needle) != std::string::npos;
    if (all) found.push_back(pid);
  }
  closedir(proc);
  return found;
}

class NetworkLimitsTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    harness::WriteRandomFile(www() + "/file.bin", 256 * 1024, 7);
    const auto pids = ProcessesWith({"bitsd", bitsd_->state_dir()});
    ASSERT_EQ(pids.size(), 1u) << "cannot find bitsd's pid";
    bitsd_pid_ = pids.front();
  }
  std::string Config() override {
    return DaemonTest::Config() +
           "[auth]\nallow_basic_over_http = true\nallow_url_credentials = true\n"
           "[proxy]\npac_timeout_ms = " +
           "3000\n";
  }
  // A normal download first, so that the peak RSS measured afterwards is the hostile
  // answer's alone (libcurl, TLS and thread start-up are paid already).
  long WarmPeakKb() {
    const Outcome warm = RunJob("warm", server_->Url("/file.bin"), [](Job&) { return Ok(); });
    EXPECT_EQ(warm.state, JobState::kTransferred) << warm.description;
    return StatusKb(bitsd_pid_, "VmHWM");
  }
  // The server's log entry for a request whose path (or CONNECT authority) contains `needle`
  // and that says how many body bytes the peer took.
  std::string SentEntry(const std::string& needle) {
    std::string found;
    harness::WaitUntil([&] {
      for (const std::string& line : server_->LogLines()) {
        if (line.find(needle) != std::string::npos && line.find("\"sent\"") != std::string::npos) {
          found = line;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  static std::uint64_t Sent(const std::string& entry) {
    const auto at = entry.find("\"sent\": ");
    return at == std::string::npos ? ~0ull : std::stoull(entry.substr(at + 8));
  }

  // The server's request log for `request` shows bitsd hung up long before the whole body
  // (it reads at most the 1 MiB cap; socket buffers take a few MiB more), and bitsd's peak
  // RSS grew by less than 8 MiB since `before_kb`.
  void ExpectNeitherHeldNorDrained(const std::string& request, long before_kb) {
    const std::string entry = SentEntry(request);
    EXPECT_LT(Sent(entry), 64ull << 20) << entry;
    const long after_kb = StatusKb(bitsd_pid_, "VmHWM");
    RecordProperty("peak_rss_growth_kb", std::to_string(after_kb - before_kb));
    EXPECT_LT(after_kb - before_kb, 8 * 1024) << "peak RSS grew from " << before_kb << " kB";
  }

  pid_t bitsd_pid_ = -1;
};

TEST_F(NetworkLimitsTest, AGigabyte401BodyIsNeitherHeldNorDrained) {
  const long before_kb = WarmPeakKb();
  const Outcome outcome =
      RunJob("huge401", server_->Url("/challenge/401?len=" + std::to_string(kGiB)),
             [](Job&) { return Ok(); });
  EXPECT_EQ(outcome.state, JobState::kError);
  EXPECT_EQ(outcome.code, HttpStatusToHresult(401)) << outcome.description;
  EXPECT_EQ(outcome.context, ErrorContext::kRemoteFile);
  ExpectNeitherHeldNorDrained("/challenge/401", before_kb);
}

TEST_F(NetworkLimitsTest, AGigabyte407BodyFromAnHttpProxyIsNeitherHeldNorDrained) {
  const long before_kb = WarmPeakKb();
  const std::string proxy = "127.0.0.1:" + std::to_string(server_->port());
  const Outcome outcome =
      RunJob("huge407", "http://127.0.0.1:9/challenge/407?len=" + std::to_string(kGiB),
             [&](Job& job) -> Status {
               OPENBITS_RETURN_IF_ERROR(job.SetProxySettings(ProxyUsage::kOverride, proxy));
               return job.SetCredentials(AuthTarget::kProxy, AuthScheme::kBasic,
                                         SecretString("alice"), SecretString("alicepw"));
             });
  EXPECT_EQ(outcome.state, JobState::kError);
  EXPECT_EQ(outcome.code, HttpStatusToHresult(407)) << outcome.description;
  ExpectNeitherHeldNorDrained("/challenge/407", before_kb);
}

TEST_F(NetworkLimitsTest, AGigabyte407BodyToAConnectIsNeitherHeldNorDrained) {
  const long before_kb = WarmPeakKb();
  const std::string proxy = "127.0.0.1:" + std::to_string(server_->port());
  const Outcome outcome =
      RunJob("huge407tunnel", "https://body" + std::to_string(kGiB) + ".invalid/file.bin",
             [&](Job& job) -> Status {
               OPENBITS_RETURN_IF_ERROR(job.SetProxySettings(ProxyUsage::kOverride, proxy));
               return job.SetCredentials(AuthTarget::kProxy, AuthScheme::kBasic,
                                         SecretString("alice"), SecretString("alicepw"));
             });
  EXPECT_EQ(outcome.state, JobState::kError);
  EXPECT_EQ(outcome.code, HttpStatusToHresult(407)) << outcome.description;
  EXPECT_EQ(outcome.context, ErrorContext::kGeneralTransport);
  ExpectNeitherHeldNorDrained("CONNECT", before_kb);
}

TEST_F(NetworkLimitsTest, AHundredThousandHeaderLinesAreRefusedNamingTheCap) {
  const Outcome outcome =
      RunJob("many", server_->Url("/file.bin?manyheaders=100000"), [](Job&) { return Ok(); });
  EXPECT_EQ(outcome.state, JobState::kError);
  EXPECT_EQ(outcome.code, hr::BG_E_INVALID_SERVER_RESPONSE) << outcome.description;
  EXPECT_EQ(outcome.context, ErrorContext::kRemoteFile);
  EXPECT_NE(outcome.description.find("256 KiB"), std::string::npos) << outcome.description;
}

TEST_F(NetworkLimitsTest, AProxysHeaderFloodToAConnectIsRefusedNamingTheCap) {
  const std::string proxy = "127.0.0.1:" + std::to_string(server_->port());
  const Outcome outcome =
      RunJob("tunnelheaders", "https://headers100000.invalid/file.bin",
             [&](Job& job) { return job.SetProxySettings(ProxyUsage::kOverride, proxy); });
  EXPECT_EQ(outcome.state, JobState::kError);
  EXPECT_EQ(outcome.code, hr::BG_E_INVALID_SERVER_RESPONSE) << outcome.description;
  EXPECT_EQ(outcome.context, ErrorContext::kGeneralTransport);
  EXPECT_NE(outcome.description.find("256 KiB"), std::string::npos) << outcome.description;
}

TEST_F(NetworkLimitsTest, ATenMegabyteHeaderLineIsRefusedNamingTheCap) {
  const Outcome outcome =
      RunJob("long", server_->Url("/file.bin?longheader=10485760"), [](Job&) { return Ok(); });
  EXPECT_EQ(outcome.state, JobState::kError);
  EXPECT_EQ(outcome.code, hr::BG_E_INVALID_SERVER_RESPONSE) << outcome.description;
  EXPECT_EQ(outcome.context, ErrorContext::kRemoteFile);
  EXPECT_NE(outcome.description.find("100 KiB"), std::string::npos) << outcome.description;
}

// PAC: the script is the proxy's (or a network's WPAD server's), the URL is the user's.
class PacPrivacyTest : public NetworkLimitsTest {
 protected:
  void SetUp() override {
    NetworkLimitsTest::SetUp();
    // Any trace of a user name or password sends the request to a dead proxy.
    harness::WriteFile(www() + "/privacy.pac",
                       "function FindProxyForURL(url, host) {\n"
                       "  if (shExpMatch(url, '*loop*')) { while (true) {} }\n"
                       "  if (url.indexOf('@') >= 0 || url.indexOf('secret') >= 0) return 'PROXY " +
                           dead_ + "';\n  return 'DIRECT';\n}\n");
    ASSERT_TRUE(client_->SetAccountProxy(geteuid(), {3, "", "", server_->Url("/privacy.pac")}));
  }
  const std::string dead_ = "127.0.0.1:" + std::to_string(harness::UnusedPort());
};

TEST_F(PacPrivacyTest, TheHelpersCommandLineNeverCarriesTheUrl) {
  // The script loops for this URL, so the helper lives long enough to be looked at.
  auto job = client_->CreateJob("argv");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFile(server_->Url("/file.bin?loop&token=topsecret42"), out() + "/argv"));
  ASSERT_TRUE(job->Resume());
  std::vector<std::string> seen;
  ASSERT_TRUE(harness::WaitUntil([&] {
    for (pid_t pid : ProcessesWith({"openbits-pac-helper"})) seen.push_back(Cmdline(pid));
    return !seen.empty();
  }));
  for (const std::string& cmdline : seen) {
    EXPECT_EQ(cmdline.find("topsecret42"), std::string::npos) << cmdline;
    EXPECT_EQ(cmdline.find("/file.bin"), std::string::npos) << cmdline;
    EXPECT_EQ(cmdline.find("127.0.0.1"), std::string::npos) << cmdline;
  }
  EXPECT_EQ(WaitForState(*job, {JobState::kError}), JobState::kError);
  (void)job->Cancel();
}

TEST_F(PacPrivacyTest, ThePacScriptSeesNoUserInfo) {
  const std::string url =
      "http://someone:secretpw@127.0.0.1:" + std::to_string(server_->port()) + "/file.bin";
  const Outcome outcome = RunJob("userinfo", url, [](Job&) { return Ok(); });
  EXPECT_EQ(outcome.state, JobState::kTransferred) << outcome.description;
}

class PacHttpsPrivacyTest : public PacPrivacyTest {
 protected:
  void SetUp() override {
    pki_ = harness::MakeTestPki(dir_, "pac");
    PacPrivacyTest::SetUp();
    https_ = std::make_unique<harness::RangeServer>(dir_, www(), pki_);
  }
  std::string Config() override {
    return PacPrivacyTest::Config() + "[tls]\nextra_ca_file = " + pki_.ca_cert + "\n";
  }
  harness::TestPki pki_;
  std::unique_ptr<harness::RangeServer> https_;
};

TEST_F(PacHttpsPrivacyTest, ThePacScriptSeesHttpsUrlsAsSchemeHostAndPortOnly) {
  // Direct only when the script sees https://host:port/ exactly; anything else (a path, a
  // query, a user name) goes to a dead proxy.
  const std::string port = std::to_string(https_->port());
  harness::WriteFile(www() + "/https.pac",
                     "function FindProxyForURL(url, host) {\n"
                     "  if (url == 'https://localhost:" +
                         port + "/') return 'DIRECT';\n  return 'PROXY " + dead_ + "';\n}\n");
  ASSERT_TRUE(client_->SetAccountProxy(geteuid(), {3, "", "", server_->Url("/https.pac")}));
  const Outcome outcome =
      RunJob("https", "https://someone:secretpw@localhost:" + port + "/file.bin?token=secret",
             [](Job&) { return Ok(); });
  EXPECT_EQ(outcome.state, JobState::kTransferred) << outcome.description;
  EXPECT_EQ(outcome.sha256, harness::Sha256OfFile(www() + "/file.bin"));
}

// Reliability: a server that ignores If-Range answers a resumed request with a 206 of the
// new content. Splicing the old prefix and the new tail would be silent corruption.
class ChangedUnderResumeTest : public NetworkLimitsTest {
 protected:
  // Downloads `query` on /changing.bin (throttled) to 200 KiB, suspends, replaces the file
  // with `new_size` other bytes, resumes; returns the SHA-256 of the new file, or "" when
  // the job did not finish.
  std::string ChangeMidway(const std::string& query, std::uint64_t new_size) {
    const std::string path = www() + "/changing.bin";
    harness::WriteRandomFile(path, 1024 * 1024, 11);
    auto job = client_->CreateJob("changing");
    if (!job ||
        !job->AddFile(server_->Url("/changing.bin?" + query + "&rate=262144"),
                      out() + "/changing.bin") ||
        !job->Resume()) {
      ADD_FAILURE() << "could not start the job";
      return "";
    }
    EXPECT_TRUE(harness::WaitUntil([&] {
      auto progress = job->GetProgress();
      return progress && progress->bytes_transferred >= 200 * 1024;
    }));
    EXPECT_TRUE(job->Suspend());
    EXPECT_EQ(WaitForState(*job, {JobState::kSuspended}), JobState::kSuspended);
    // New bytes and a new mtime (so a new ETag and Last-Modified, when they are sent).
    harness::WriteRandomFile(path + ".new", new_size, 12);
    std::filesystem::rename(path + ".new", path);
    EXPECT_TRUE(job->Resume());
    const JobState state =
        WaitForState(*job, {JobState::kTransferred, JobState::kError, JobState::kTransientError});
    EXPECT_EQ(state, JobState::kTransferred);
    if (state != JobState::kTransferred || !job->Complete()) return "";
    EXPECT_EQ(harness::Sha256OfFile(out() + "/changing.bin"), harness::Sha256OfFile(path));
    // The resumed request asked from the middle and got a 206 of the new file (If-Range
    // ignored); then the file was fetched again from byte 0.
    const auto starts = server_->RangeStarts("/changing.bin");
    EXPECT_GE(starts.size(), 3u);
    if (starts.size() >= 3) {
      EXPECT_EQ(starts.front(), 0u);
      EXPECT_GT(starts[starts.size() - 2], 0u);
      EXPECT_EQ(starts.back(), 0u);
    }
    return harness::Sha256OfFile(path);
  }
};

TEST_F(ChangedUnderResumeTest, A206WithANewETagRestartsTheFileFromZero) {
  EXPECT_NE(ChangeMidway("ignoreifrange=1", 1024 * 1024), "");
}

TEST_F(ChangedUnderResumeTest, A206WithoutValidatorsButANewSizeRestartsTheFileFromZero) {
  EXPECT_NE(ChangeMidway("ignoreifrange=1&novalidators=1", 1536 * 1024), "");
}

}  // namespace
}  // namespace openbits::integration
