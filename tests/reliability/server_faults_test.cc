// Reliability tests: server faults. Each fault ends in the expected state with an error that
// names its cause (docs/reliability.md). One row per fault mode: the URL that provokes it
// (tests/harness/fault_server.py), the state the job must reach, its HRESULT and context, and
// a piece of the message that says what happened.
#include <gtest/gtest.h>

#include "harness/fault_server.h"
#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

constexpr std::size_t kFileLength = 1'000'000;
constexpr std::size_t kCutAt = 300'000;

// Which peer serves the row's URL.
enum class Peer {
  kFaultServer,   // tests/harness/fault_server.py on 127.0.0.1
  kUntrustedTls,  // the range server with a certificate of a CA bitsd does not trust
  kNoListener,    // a port of 127.0.0.1 nothing listens on
  kNoDns,         // bitsd in a network namespace whose only name server does not answer
};

struct FaultRow {
  const char* name;
  Peer peer;
  std::string path;  // on the fault server; for kNoDns, the host name
  // The first request is cut short (the job goes to TRANSIENT_ERROR with bytes committed),
  // then the test resumes it: the fault is in how the server answers the resumed request.
  bool resume_once;
  JobState state;
  HRESULT code;
  ErrorContext context;
  const char* cause;               // the message must contain this
  std::uint32_t content_seed = 0;  // TRANSFERRED rows: the file must be /file's bytes of it
};

// Rows print as their names, not as bytes.
void PrintTo(const FaultRow& row, std::ostream* os) { *os << row.name; }

std::string FileUrl(std::uint32_t seed, const std::string& after) {
  return "/file?len=" + std::to_string(kFileLength) + "&seed=" + std::to_string(seed) +
         "&cut=" + std::to_string(kCutAt) + "&after=" + after;
}

const FaultRow kRows[] = {
    {"ResetMidBody", Peer::kFaultServer, "/reset-after?len=1000000&send=200000", false,
     JobState::kTransientError, hr::WINHTTP_CONNECTION_ERROR, ErrorContext::kRemoteFile,
     "Connection reset by peer"},
    {"ResetBeforeResponse", Peer::kFaultServer, "/reset", false, JobState::kTransientError,
     hr::WINHTTP_CONNECTION_ERROR, ErrorContext::kRemoteFile, "Connection reset by peer"},
    {"TruncatedBody", Peer::kFaultServer, "/truncate?len=1000000&send=200000", false,
     JobState::kTransientError, hr::BG_E_CONNECTION_CLOSED, ErrorContext::kRemoteFile,
     "800000 bytes remaining"},
    {"Hang", Peer::kFaultServer, "/hang?s=30", false, JobState::kTransientError,
     hr::WINHTTP_TIMEOUT, ErrorContext::kRemoteFile, "sent no response"},
    {"SlowHeaders", Peer::kFaultServer, "/slow-headers?s=30", false, JobState::kTransientError,
     hr::WINHTTP_TIMEOUT, ErrorContext::kRemoteFile, "stalled after answering HTTP 200"},
    {"Status500", Peer::kFaultServer, "/status/500", false, JobState::kTransientError,
     HttpStatusToHresult(500), ErrorContext::kRemoteFile, "500 Internal Server Error"},
    {"Status502", Peer::kFaultServer, "/status/502", false, JobState::kTransientError,
     HttpStatusToHresult(502), ErrorContext::kRemoteFile, "502 Bad Gateway"},
    {"Status503RetryAfter", Peer::kFaultServer, "/status/503?retry_after=120", false,
     JobState::kTransientError, HttpStatusToHresult(503), ErrorContext::kRemoteFile,
     "Retry-After: 120"},
    {"Status404", Peer::kFaultServer, "/status/404", false, JobState::kError,
     HttpStatusToHresult(404), ErrorContext::kRemoteFile, "404 Not Found"},
    {"Status403", Peer::kFaultServer, "/status/403", false, JobState::kError,
     HttpStatusToHresult(403), ErrorContext::kRemoteFile, "403 Forbidden"},
    {"Status410", Peer::kFaultServer, "/status/410", false, JobState::kError,
     HttpStatusToHresult(410), ErrorContext::kRemoteFile, "410 Gone"},
    {"Status416", Peer::kFaultServer, "/status/416", false, JobState::kError,
     HttpStatusToHresult(416), ErrorContext::kRemoteFile, "416 Range Not Satisfiable"},
    {"RangeIgnoredOnResume", Peer::kFaultServer, FileUrl(6, "norange"), true, JobState::kError,
     hr::BG_E_INSUFFICIENT_RANGE_SUPPORT, ErrorContext::kRemoteFile, "ignored the Range header"},
    {"IfRangeIgnoredWithChangedContent", Peer::kFaultServer, FileUrl(7, "changed-ignore-ifrange"),
     true, JobState::kTransferred, hr::S_OK, ErrorContext::kNone, "", 7 + 1000},
    {"ETagChangedOnResume", Peer::kFaultServer, FileUrl(8, "changed"), true, JobState::kTransferred,
     hr::S_OK, ErrorContext::kNone, "", 8 + 1000},
    {"NoContentLength", Peer::kFaultServer, "/nolength?len=100000", false, JobState::kError,
     hr::BG_E_MISSING_FILE_SIZE, ErrorContext::kRemoteFile, "neither Content-Length"},
    {"RedirectLoop", Peer::kFaultServer, "/loop", false, JobState::kError,
     hr::WINHTTP_REDIRECT_FAILED, ErrorContext::kRemoteFile, "a redirect to http://127.0.0.1:"},
    {"TlsUntrustedCertificate", Peer::kUntrustedTls, "/file.bin", false, JobState::kError,
     hr::WINHTTP_SECURE_INVALID_CA, ErrorContext::kRemoteFile, "untrusted authority"},
    {"ConnectionRefused", Peer::kNoListener, "/file.bin", false, JobState::kTransientError,
     hr::WINHTTP_CANNOT_CONNECT, ErrorContext::kRemoteFile, "Connection refused"},
    {"DnsFailure", Peer::kNoDns, "nonexistent.openbits.test", false, JobState::kTransientError,
     hr::WINHTTP_NAME_NOT_RESOLVED, ErrorContext::kRemoteFile, "nonexistent.openbits.test"},
};

class ServerFaultTest : public DaemonTest, public ::testing::WithParamInterface<FaultRow> {
 protected:
  void SetUp() override {
    if (GetParam().peer == Peer::kNoDns) {
      if (!harness::NetworkNamespace::Supported()) {
        GTEST_SKIP() << "needs root and iproute2 for a network namespace";
      }
      // The name server of the namespace is its own loopback, where nothing answers: every
      // lookup fails at once, and no query leaves the machine.
      namespace_ = std::make_unique<harness::NetworkNamespace>(
          6, std::map<std::string, std::string>{
                 {"resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"},
                 {"hosts", "127.0.0.1 localhost\n"}});
    }
    DaemonTest::SetUp();
    faults_ = std::make_unique<harness::FaultServer>(dir_);
    if (GetParam().peer == Peer::kUntrustedTls) {
      harness::WriteRandomFile(www() + "/file.bin", 1000, 3);
      untrusted_ =
          std::make_unique<harness::RangeServer>(dir_, www(), harness::MakeTestPki(dir_, "rogue"));
    }
  }
  void TearDown() override {
    if (HasFailure() && faults_) {
      std::cerr << "---- fault server requests ----\n";
      for (const auto& line : faults_->LogLines()) std::cerr << line << "\n";
    }
    DaemonTest::TearDown();
    namespace_.reset();
  }
  std::string Config() override {
    // Stalls are noticed after 2 s, so that the hang rows end quickly.
    return DaemonTest::Config() + "low_speed_time_s = 2\nconnect_timeout_s = 5\n";
  }

  std::string UrlOf(const FaultRow& row) {
    switch (row.peer) {
      case Peer::kFaultServer:
        return faults_->Url(row.path);
      case Peer::kUntrustedTls:
        return untrusted_->Url(row.path);
      case Peer::kNoListener:
        return "http://127.0.0.1:" + std::to_string(harness::UnusedPort()) + row.path;
      case Peer::kNoDns:
        return "http://" + row.path + ":8080/file.bin";
    }
    return "";
  }

  std::unique_ptr<harness::NetworkNamespace> namespace_;
  std::unique_ptr<harness::FaultServer> faults_;
  std::unique_ptr<harness::RangeServer> untrusted_;
};

TEST_P(ServerFaultTest, EndsInItsStateWithAnErrorThatNamesTheCause) {
  const FaultRow& row = GetParam();
  // The DNS row needs bitsd inside the namespace; the others use the fixture's.
  std::unique_ptr<harness::TempDir> ns_dir;
  std::unique_ptr<harness::Bitsd> ns_bitsd;
  std::unique_ptr<Client> ns_client;
  Client* client = client_.get();
  if (namespace_) {
    ns_dir = std::make_unique<harness::TempDir>();
    ns_bitsd = std::make_unique<harness::Bitsd>(*ns_dir, bus_->address(), Config(),
                                                namespace_->Launcher());
    ASSERT_EQ(bitsd_->Stop(), 0);  // one bitsd per bus
    bitsd_.reset();
    ns_bitsd->Start();
    ns_client = Connect();
    client = ns_client.get();
  }
  auto job = client->CreateJob(row.name);
  ASSERT_TRUE(job);
  const std::string local = out() + "/" + row.name;
  ASSERT_TRUE(job->AddFile(UrlOf(row), local));
  ASSERT_TRUE(job->SetMinimumRetryDelay(60));
  ASSERT_TRUE(job->Resume());
  const std::set<JobState> ends = {JobState::kTransferred, JobState::kError,
                                   JobState::kTransientError};
  if (row.resume_once) {
    ASSERT_EQ(WaitForState(*job, ends), JobState::kTransientError);
    ASSERT_EQ(job->GetError()->code, hr::BG_E_CONNECTION_CLOSED) << job->GetError()->description;
    ASSERT_EQ(job->GetProgress()->bytes_transferred, kCutAt);
    ASSERT_TRUE(job->Resume());
  }
  const JobState state = WaitForState(*job, ends);
  auto error = job->GetError();
  ASSERT_EQ(state, row.state) << (error ? error->description : "");
  if (row.state == JobState::kTransferred) {
    ASSERT_TRUE(job->Complete());
    // The new version, whole: never the old bytes with the new ones spliced after them.
    EXPECT_TRUE(harness::ReadFile(local) ==
                harness::FaultServer::Content(row.content_seed, kFileLength))
        << "the file is not the new version of the remote file";
    return;
  }
  ASSERT_TRUE(error);
  RecordProperty("message", error->description);  // for docs/reliability.md
  EXPECT_EQ(error->code, row.code)
      << HresultName(error->code).value_or("?") << ": " << error->description;
  EXPECT_EQ(error->context, row.context);
  EXPECT_NE(error->description.find(row.cause), std::string::npos)
      << "the message does not name the cause (" << row.cause << "): " << error->description;
  EXPECT_EQ(error->file_index, 0u);
  EXPECT_TRUE(job->Cancel());
  if (ns_bitsd) {
    EXPECT_EQ(ns_bitsd->Stop(), 0);
  }
}

// Retry-After longer than the MinimumRetryDelay (5 s, the floor) decides when the job asks
// again: not after 5 s but after 8.
class RetryAfterTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    faults_ = std::make_unique<harness::FaultServer>(dir_);
  }
  std::unique_ptr<harness::FaultServer> faults_;
};

TEST_F(RetryAfterTest, RetryAfterLongerThanTheRetryDelayIsHonoured) {
  auto job = client_->CreateJob("retry after");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFile(faults_->Url("/status/503?retry_after=8"), out() + "/retry"));
  ASSERT_TRUE(job->SetMinimumRetryDelay(5));
  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(WaitForState(*job, {JobState::kTransientError}), JobState::kTransientError);
  const auto failed = std::chrono::steady_clock::now();
  ASSERT_TRUE(harness::WaitUntil([&] { return faults_->LogLines().size() >= 2; }, 15s))
      << "the job did not ask again";
  EXPECT_GE(std::chrono::steady_clock::now() - failed, 6s) << "Retry-After: 8 was not honoured";
  EXPECT_TRUE(job->Cancel());
}

INSTANTIATE_TEST_SUITE_P(Faults, ServerFaultTest, ::testing::ValuesIn(kRows),
                         [](const ::testing::TestParamInfo<FaultRow>& row) {
                           return std::string(row.param.name);
                         });

}  // namespace
}  // namespace openbits::integration
