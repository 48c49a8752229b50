// Authentication against real peers: Apache with Basic, Digest and Negotiate locations and an
// MIT KDC. What a user observes: the bytes on disk, the job's state and error, and who the
// server says it authenticated (its access log).
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "harness/auth_peers.h"
#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

namespace fs = std::filesystem;

constexpr HRESULT kHttp401 = 0x80190191;  // BG_E_HTTP_ERROR_401

class AuthTest : public DaemonTest {
 protected:
  void SetUp() override {
    kdc_ = std::make_unique<harness::Kdc>(dir_);
    DaemonTest::SetUp();
    harness::WriteRandomFile(www() + "/file.bin", 300'000, 17);
    apache_ = std::make_unique<harness::AuthApache>(dir_, www(), *kdc_);
  }
  std::string Config() override {
    return DaemonTest::Config() +
           "[auth]\nallow_basic_over_http = true\nallow_url_credentials = true\n";
  }

  // Runs a one-file job for `path` on Apache with `configure` setting its credentials.
  Outcome Fetch(const std::string& name, const std::string& path,
                const std::function<Status(Job&)>& configure) {
    return RunJob(name, apache_->Url(path), configure);
  }
  static Status Explicit(Job& job, AuthScheme scheme, const std::string& user,
                         const std::string& password) {
    return job.SetCredentials(AuthTarget::kServer, scheme, SecretString(user),
                              SecretString(password));
  }
  // Access-log lines for `path`.
  std::vector<std::string> Requests(const std::string& path) const {
    std::vector<std::string> lines;
    for (const std::string& line : apache_->AccessLog()) {
      if (line.ends_with(" " + path)) lines.push_back(line);
    }
    return lines;
  }
  std::string Expected() const { return harness::Sha256OfFile(www() + "/file.bin"); }

  std::unique_ptr<harness::Kdc> kdc_;
  std::unique_ptr<harness::AuthApache> apache_;
};

TEST_F(AuthTest, BasicWithTheRightPasswordTransfersAsThatUser) {
  const Outcome outcome = Fetch("basic", "/basic/file.bin", [](Job& job) {
    return Explicit(job, AuthScheme::kBasic, "alice", "alicepw");
  });
  ASSERT_EQ(outcome.state, JobState::kTransferred) << outcome.description;
  EXPECT_EQ(outcome.sha256, Expected());
  const auto requests = Requests("/basic/file.bin");
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests.back().substr(0, 16), "206 alice Basic ");
}

TEST_F(AuthTest, AWrongPasswordEndsInError401AfterOneRetryNotALoop) {
  const Outcome outcome = Fetch("wrong", "/basic/file.bin", [](Job& job) {
    return Explicit(job, AuthScheme::kBasic, "alice", "not-the-password");
  });
  EXPECT_EQ(outcome.state, JobState::kError);
  EXPECT_EQ(outcome.code, kHttp401);
  EXPECT_EQ(outcome.context, ErrorContext::kRemoteFile);
  EXPECT_NE(outcome.description.find("refused"), std::string::npos) << outcome.description;
  // The anonymous request, the answer, and its one retry: three requests, all 401.
  const auto requests = Requests("/basic/file.bin");
  EXPECT_EQ(requests.size(), 3u);
  for (const std::string& line : requests) EXPECT_TRUE(line.starts_with("401 ")) << line;
}

TEST_F(AuthTest, NoCredentialsEndInError401SayingWhatWasOffered) {
  const Outcome outcome = Fetch("none", "/digest/file.bin", [](Job&) { return Ok(); });
  EXPECT_EQ(outcome.state, JobState::kError);
  EXPECT_EQ(outcome.code, kHttp401);
  EXPECT_NE(outcome.description.find("offered digest"), std::string::npos) << outcome.description;
}

TEST_F(AuthTest, DigestWithTheRightPasswordTransfers) {
  const Outcome outcome = Fetch("digest", "/digest/file.bin", [](Job& job) {
    return Explicit(job, AuthScheme::kDigest, "alice", "alicepw");
  });
  ASSERT_EQ(outcome.state, JobState::kTransferred) << outcome.description;
  EXPECT_EQ(outcome.sha256, Expected());
  EXPECT_EQ(Requests("/digest/file.bin").back().substr(0, 17), "206 alice Digest ");
}

TEST_F(AuthTest, NegotiateWithAnExplicitPasswordGetsAKerberosTicket) {
  const Outcome outcome = Fetch("krb-explicit", "/negotiate/file.bin", [](Job& job) {
    return Explicit(job, AuthScheme::kNegotiate, "alice", "alicepw");
  });
  ASSERT_EQ(outcome.state, JobState::kTransferred) << outcome.description;
  EXPECT_EQ(outcome.sha256, Expected());
  const std::string last = Requests("/negotiate/file.bin").back();
  EXPECT_TRUE(last.starts_with("206 alice@TEST.LOCAL ")) << last;
  EXPECT_NE(last.find("Negotiate/krb5"), std::string::npos) << last;
}

TEST_F(AuthTest, RawNtlmV2WithOurOwnCodecAgainstGssNtlmssp) {
  // Three legs on one connection; gss-ntlmssp checks the NTLMv2 response and the MIC.
  const Outcome outcome = Fetch("ntlm", "/ntlm/file.bin", [](Job& job) {
    return Explicit(job, AuthScheme::kNtlm, "alice", "alicepw");
  });
  ASSERT_EQ(outcome.state, JobState::kTransferred) << outcome.description << apache_->ErrorLog();
  EXPECT_EQ(outcome.sha256, Expected());
  // Apache's log escapes the backslash of DOMAIN\user.
  EXPECT_TRUE(
      Requests("/ntlm/file.bin").back().starts_with("206 TESTDOM\\\\alice NTLM NTLM/NTLM "));
  const Outcome wrong = Fetch("ntlm-wrong", "/ntlm/file.bin", [](Job& job) {
    return Explicit(job, AuthScheme::kNtlm, "TESTDOM\\alice", "wrong");
  });
  EXPECT_EQ(wrong.state, JobState::kError);
  EXPECT_EQ(wrong.code, kHttp401);
  EXPECT_NE(wrong.description.find("NTLM: the password was refused"), std::string::npos)
      << wrong.description;
}

TEST_F(AuthTest, ImplicitNtlmUsesTheCallersNtlmUserFileOnlyWhenPrivate) {
  const std::string users = dir_ / "ntlm_users";
  harness::WriteFile(users, "# the caller's NTLM account\nTESTDOM:alice:alicepw\n");
  fs::permissions(users, fs::perms::owner_read | fs::perms::owner_write);
  setenv("NTLM_USER_FILE", users.c_str(), 1);
  const auto implicit_ntlm = [](Job& job) {
    return job.SetImplicitCredentials(AuthTarget::kServer, AuthScheme::kNtlm);
  };
  const Outcome outcome = Fetch("implicit-ntlm", "/ntlm/file.bin", implicit_ntlm);
  ASSERT_EQ(outcome.state, JobState::kTransferred) << outcome.description;
  EXPECT_TRUE(Requests("/ntlm/file.bin").back().starts_with("206 TESTDOM\\\\alice NTLM "));
  // A file that others may read is not used.
  fs::permissions(users, fs::perms::group_read, fs::perm_options::add);
  const Outcome exposed = Fetch("exposed-ntlm", "/ntlm/file.bin", implicit_ntlm);
  EXPECT_EQ(exposed.state, JobState::kError);
  EXPECT_NE(exposed.description.find("readable by it alone"), std::string::npos)
      << exposed.description;
  unsetenv("NTLM_USER_FILE");
}

TEST_F(AuthTest, NtlmAuthenticatesAtLowAndHighCompatibilityLevels) {
  for (int level : {1, 2, 5}) {
    ASSERT_EQ(bitsd_->Stop(), 0);
    bitsd_ = std::make_unique<harness::Bitsd>(
        dir_, bus_->address(),
        DaemonTest::Config() + "[auth]\nlm_compatibility_level = " + std::to_string(level) + "\n");
    bitsd_->Start();
    client_ = Connect();
    const Outcome outcome =
        Fetch("ntlm-level-" + std::to_string(level), "/ntlm/file.bin",
              [](Job& job) { return Explicit(job, AuthScheme::kNtlm, "alice", "alicepw"); });
    // gss-ntlmssp accepts NTLMv1 (levels 0-2 send it) as well as NTLMv2 (3-5).
    EXPECT_EQ(outcome.state, JobState::kTransferred) << level << ": " << outcome.description;
  }
}

TEST_F(AuthTest, NegotiateSpeaksNtlmInsideSpnegoWhereTheServerOffersOnlyThat) {
  // gss-ntlmssp on both sides: the first SPNEGO exchange (Kerberos first) is refused, the
  // retry offers NTLM alone, three legs on one connection.
  const Outcome outcome = Fetch("spnego-ntlm", "/ntlm/file.bin", [](Job& job) {
    return Explicit(job, AuthScheme::kNegotiate, "alice", "alicepw");
  });
  ASSERT_EQ(outcome.state, JobState::kTransferred) << outcome.description;
  EXPECT_EQ(outcome.sha256, Expected());
  const std::string last = Requests("/ntlm/file.bin").back();
  EXPECT_NE(last.find("Negotiate/NTLM"), std::string::npos) << last;
}

TEST_F(AuthTest, ImplicitNegotiateUsesTheCallersTicketCache) {
  // The client library sends this process's KRB5CCNAME with implicit credentials.
  const std::string bob = kdc_->Kinit("bob", "bob.ccache");
  setenv("KRB5CCNAME", bob.c_str(), 1);
  const Outcome outcome = Fetch("krb-implicit", "/negotiate/file.bin", [](Job& job) {
    return job.SetImplicitCredentials(AuthTarget::kServer, AuthScheme::kNegotiate);
  });
  ASSERT_EQ(outcome.state, JobState::kTransferred) << outcome.description;
  EXPECT_TRUE(Requests("/negotiate/file.bin").back().starts_with("206 bob@TEST.LOCAL "));
}

TEST_F(AuthTest, ImplicitNegotiateWithoutATicketEndsIn401) {
  setenv("KRB5CCNAME", ("FILE:" + dir_ / "no-such.ccache").c_str(), 1);
  const Outcome outcome = Fetch("krb-none", "/negotiate/file.bin", [](Job& job) {
    return job.SetImplicitCredentials(AuthTarget::kServer, AuthScheme::kNegotiate);
  });
  EXPECT_EQ(outcome.state, JobState::kError);
  EXPECT_EQ(outcome.code, kHttp401);
  EXPECT_NE(outcome.description.find("no Kerberos credential cache"), std::string::npos)
      << outcome.description;
}

TEST_F(AuthTest, ACacheOfAnotherUserIsNotUsed) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the cache to another user";
  const passwd* bob = getpwnam("openbits-bob");
  ASSERT_NE(bob, nullptr);
  const std::string cache = kdc_->Kinit("bob", "bobs.ccache", harness::RunAs{bob->pw_uid, 0});
  setenv("KRB5CCNAME", cache.c_str(), 1);
  const Outcome outcome = Fetch("krb-stolen", "/negotiate/file.bin", [](Job& job) {
    return job.SetImplicitCredentials(AuthTarget::kServer, AuthScheme::kNegotiate);
  });
  EXPECT_EQ(outcome.state, JobState::kError);
  EXPECT_EQ(outcome.code, kHttp401);
  EXPECT_NE(outcome.description.find("must belong to uid 0"), std::string::npos)
      << outcome.description;
}

TEST_F(AuthTest, NegotiateWithoutATicketFallsBackToBasic) {
  // /multi/ offers Negotiate, NTLM and Basic; the job's Negotiate cannot be used.
  setenv("KRB5CCNAME", ("FILE:" + dir_ / "no-such.ccache").c_str(), 1);
  const Outcome outcome = Fetch("fallback", "/multi/file.bin", [](Job& job) {
    const Status implicit = job.SetImplicitCredentials(AuthTarget::kServer, AuthScheme::kNegotiate);
    if (!implicit) return implicit;
    return Explicit(job, AuthScheme::kBasic, "alice", "alicepw");
  });
  ASSERT_EQ(outcome.state, JobState::kTransferred) << outcome.description;
  const std::string last = Requests("/multi/file.bin").back();
  EXPECT_TRUE(last.starts_with("206 alice@TEST.LOCAL ")) << last;
  EXPECT_NE(last.find("Basic/krb5"), std::string::npos) << last;
}

TEST_F(AuthTest, CredentialsSurviveARestartAndNeverReachTheLogOrTheDatabaseInClear) {
  const std::string password = "pw-that-must-never-leak-4711";
  auto job = client_->CreateJob("persisted");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFile(apache_->Url("/basic/file.bin"), out() + "/persisted"));
  ASSERT_TRUE(Explicit(*job, AuthScheme::kBasic, "alice", password));
  ASSERT_TRUE(Explicit(*job, AuthScheme::kBasic, "alice", "alicepw"));  // the slot is replaced
  ASSERT_TRUE(Explicit(*job, AuthScheme::kDigest, "alice", password));
  ASSERT_EQ(bitsd_->Stop(), 0);
  bitsd_->Start();
  client_ = Connect();
  auto again = client_->GetJob(job->id());
  ASSERT_TRUE(again);
  ASSERT_TRUE(again->Resume());
  EXPECT_EQ(WaitForState(*again, {JobState::kTransferred, JobState::kError}),
            JobState::kTransferred);
  ASSERT_TRUE(again->Complete());
  EXPECT_EQ(harness::Sha256OfFile(out() + "/persisted"), Expected());
  ASSERT_EQ(bitsd_->Stop(), 0);
  for (const auto& entry : fs::directory_iterator(bitsd_->state_dir())) {
    if (!entry.is_regular_file()) continue;
    EXPECT_EQ(harness::ReadFile(entry.path()).find(password), std::string::npos) << entry.path();
    EXPECT_EQ(harness::ReadFile(entry.path()).find("alicepw"), std::string::npos) << entry.path();
  }
  EXPECT_EQ(bitsd_->Log().find(password), std::string::npos);
  EXPECT_EQ(bitsd_->Log().find("alicepw"), std::string::npos);
  bitsd_->Start();
}

TEST_F(AuthTest, NothingBitsdSendsOnTheBusCarriesThePassword) {
  const std::string password = "bus-secret-pw-0815";
  auto job = client_->CreateJob("bus-quiet");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFile(apache_->Url("/basic/file.bin"), out() + "/bus-quiet"));
  ASSERT_TRUE(Explicit(*job, AuthScheme::kBasic, "alice", password));
  // From here on every message on the bus is recorded: replies, errors and signals of
  // bitsd while the job runs, fails, is listed and inspected.
  const std::string recorded = dir_ / "bus.log";
  harness::Process dump =
      harness::Process::Start({"/usr/bin/dbus-monitor", "--address", bus_->address()}, recorded);
  ASSERT_TRUE(harness::WaitUntil([&] { return !harness::ReadFile(recorded).empty(); }));
  ASSERT_TRUE(job->SetNotifyFlags(kNotifyAllFlags & ~kNotifyDisable));
  ASSERT_TRUE(job->Resume());
  EXPECT_EQ(WaitForState(*job, {JobState::kError}), JobState::kError);  // a wrong password
  (void)job->GetError();
  (void)client_->EnumJobs();
  harness::Run(Bitsadmin({"/info", "bus-quiet", "/verbose"}));
  harness::Run(Bitsadmin({"--json", "/list", "/verbose"}));
  ASSERT_TRUE(harness::WaitUntil(
      [&] { return harness::ReadFile(recorded).find("GetError") != std::string::npos; }));
  dump.Stop();
  const std::string traffic = harness::ReadFile(recorded);
  EXPECT_NE(traffic.find("JobError"), std::string::npos);  // the recording saw bitsd talk
  EXPECT_EQ(traffic.find(password), std::string::npos);
  EXPECT_EQ(bitsd_->Log().find(password), std::string::npos);
}

TEST_F(AuthTest, CredentialsDoNotFollowARedirectToAnotherOrigin) {
  // The test's server on 127.0.0.1 redirects to Apache on localhost: another origin, which
  // gets no credentials.
  const std::string apache_port =
      apache_->Url("/").substr(std::string("http://localhost:").size());  // "PORT/"
  const std::string url =
      server_->Url("/redirect?to=http%3A%2F%2Flocalhost%3A" +
                   apache_port.substr(0, apache_port.size() - 1) + "%2Fbasic%2Ffile.bin");
  auto job = client_->CreateJob("redirected");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFile(url, out() + "/redirected"));
  ASSERT_TRUE(Explicit(*job, AuthScheme::kBasic, "alice", "alicepw"));
  ASSERT_TRUE(job->Resume());
  EXPECT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}), JobState::kError);
  auto error = job->GetError();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, kHttp401);
  EXPECT_NE(error->description.find("another origin"), std::string::npos) << error->description;
  const auto requests = Requests("/basic/file.bin");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_TRUE(requests[0].starts_with("401 - ")) << requests[0];
}

TEST_F(AuthTest, UrlCredentialsBecomeTheJobsBasicCredentialsWhenAllowed) {
  // allow_url_credentials = true here: the user name and password leave the URL.
  const std::string url = apache_->Url("/basic/file.bin");
  const std::string with_userinfo = "http://alice:alice%70w@" + url.substr(7);  // %70 = 'p'
  auto job = client_->CreateJob("userinfo");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFile(with_userinfo, out() + "/userinfo"));
  auto files = job->EnumFiles();
  ASSERT_TRUE(files);
  EXPECT_EQ((*files)[0].remote_url, url);
  ASSERT_TRUE(job->Resume());
  EXPECT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}), JobState::kTransferred);
  EXPECT_TRUE(Requests("/basic/file.bin").back().starts_with("206 alice Basic "));
  // SetRemoteName never takes them.
  const Status renamed = job->SetRemoteName(0, with_userinfo);
  ASSERT_FALSE(renamed);
  EXPECT_EQ(renamed.error().code(), hr::E_INVALIDARG);
  EXPECT_EQ(renamed.error().message().find("alice%70w"), std::string::npos);
  EXPECT_EQ(bitsd_->Log().find("alice%70w"), std::string::npos);
}

TEST_F(AuthTest, SetAndRemoveCredentialsValidateLikeBits) {
  auto job = client_->CreateJob("validation");
  ASSERT_TRUE(job);
  auto code = [](const Status& status) { return status ? hr::S_OK : status.error().code(); };
  EXPECT_EQ(code(job->SetCredentials(static_cast<AuthTarget>(3), AuthScheme::kBasic,
                                     SecretString("a"), SecretString("b"))),
            hr::BG_E_INVALID_AUTH_TARGET);
  EXPECT_EQ(code(job->SetCredentials(AuthTarget::kServer, static_cast<AuthScheme>(9),
                                     SecretString("a"), SecretString("b"))),
            hr::BG_E_INVALID_AUTH_SCHEME);
  EXPECT_EQ(code(Explicit(*job, AuthScheme::kBasic, std::string(301, 'u'), "b")),
            hr::BG_E_USERNAME_TOO_LARGE);
  EXPECT_EQ(code(Explicit(*job, AuthScheme::kBasic, "u", std::string(65'536, 'p'))),
            hr::BG_E_PASSWORD_TOO_LARGE);
  EXPECT_EQ(
      code(Explicit(*job, AuthScheme::kBasic, std::string(300, 'u'), std::string(65'535, 'p'))),
      hr::S_OK);
  EXPECT_EQ(code(job->SetImplicitCredentials(AuthTarget::kServer, AuthScheme::kBasic)),
            hr::E_INVALIDARG);
  EXPECT_EQ(*job->RemoveCredentials(AuthTarget::kServer, AuthScheme::kBasic), hr::S_OK);
  EXPECT_EQ(*job->RemoveCredentials(AuthTarget::kServer, AuthScheme::kBasic), hr::S_FALSE);
  EXPECT_EQ(job->RemoveCredentials(AuthTarget::kProxy, static_cast<AuthScheme>(0)).error().code(),
            hr::BG_E_INVALID_AUTH_SCHEME);
}

TEST_F(AuthTest, BitsadminReadsThePasswordFromStandardInput) {
  auto created = harness::Run(Bitsadmin({"/rawreturn", "/create", "cli-auth"}));
  ASSERT_EQ(created.exit_code, 0) << created.err;
  ASSERT_EQ(harness::Run(Bitsadmin({"/addfile", "cli-auth", apache_->Url("/basic/file.bin"),
                                    out() + "/cli-auth"}))
                .exit_code,
            0);
  std::string command;
  for (const std::string& arg :
       Bitsadmin({"/setcredentials", "cli-auth", "SERVER", "BASIC", "alice", "-"})) {
    command += "'" + arg + "' ";
  }
  const auto set = harness::Run({"/bin/sh", "-c", "echo alicepw | " + command});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(set.out, "Credentials set.\n");
  ASSERT_EQ(harness::Run(Bitsadmin({"/resume", "cli-auth"})).exit_code, 0);
  std::string id = created.out;
  std::erase(id, '\n');
  ASSERT_TRUE(Guid::Parse(id)) << id;
  auto job = client_->GetJob(*Guid::Parse(id));
  ASSERT_TRUE(job);
  EXPECT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}), JobState::kTransferred);
  const auto removed =
      harness::Run(Bitsadmin({"/removecredentials", "cli-auth", "SERVER", "BASIC"}));
  EXPECT_EQ(removed.out, "Credentials removed.\n");
}

TEST_F(AuthTest, TwoUsersAuthenticateAsThemselvesInConcurrentJobs) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run clients as other uids";
  struct Person {
    std::string name, principal;
    harness::RunAs id{0, 0};
    std::string cache, dir;
  };
  std::vector<Person> people(2);
  people[0].name = "openbits-alice";
  people[0].principal = "alice";
  people[1].name = "openbits-bob";
  people[1].principal = "bob";
  for (Person& person : people) {
    const passwd* entry = getpwnam(person.name.c_str());
    ASSERT_NE(entry, nullptr) << person.name << " is missing (tests/run.sh makes it)";
    person.id = {entry->pw_uid, entry->pw_gid};
    person.cache = kdc_->Kinit(person.principal, person.principal + ".ccache", person.id);
    person.dir = out() + "/" + person.principal;
    fs::create_directories(person.dir);
    ASSERT_EQ(chown(person.dir.c_str(), person.id.uid, person.id.gid), 0);
  }
  // Each user, with their own KRB5CCNAME, sets implicit credentials and starts the job;
  // both jobs then run at the same time on the same daemon.
  for (const Person& person : people) {
    auto as_user = [&](std::vector<std::string> args) {
      std::vector<std::string> argv = {"/usr/bin/env", "KRB5CCNAME=" + person.cache};
      for (std::string& arg : Bitsadmin(std::move(args))) argv.push_back(std::move(arg));
      return harness::Run(argv, person.id);
    };
    const std::string job = "krb-" + person.principal;
    ASSERT_EQ(as_user({"/create", job}).exit_code, 0);
    ASSERT_EQ(as_user({"/addfile", job, apache_->Url("/negotiate/" + person.principal + ".bin"),
                       person.dir + "/file.bin"})
                  .exit_code,
              0);
    const auto set = as_user({"/setcredentials", job, "SERVER", "NEGOTIATE", "NULL", "NULL"});
    ASSERT_EQ(set.exit_code, 0) << set.err;
    fs::copy_file(www() + "/file.bin", www() + "/" + person.principal + ".bin");
  }
  for (const Person& person : people) {
    std::vector<std::string> argv = {"/usr/bin/env", "KRB5CCNAME=" + person.cache};
    for (std::string& arg : Bitsadmin({"/resume", "krb-" + person.principal})) {
      argv.push_back(std::move(arg));
    }
    ASSERT_EQ(harness::Run(argv, person.id).exit_code, 0);
  }
  for (const Person& person : people) {
    EXPECT_TRUE(harness::WaitUntil([&] {
      const auto lines = Requests("/negotiate/" + person.principal + ".bin");
      return !lines.empty() && lines.back().starts_with("206 ");
    })) << person.name;
    const auto lines = Requests("/negotiate/" + person.principal + ".bin");
    ASSERT_FALSE(lines.empty());
    EXPECT_TRUE(lines.back().starts_with("206 " + person.principal + "@TEST.LOCAL "))
        << lines.back();
  }
}

// The UseLMCompat x LmCompatibilityLevel table of the BITS authentication documentation:
// whether implicit credentials go out when the job did or did not call SetCredentials with
// NULL user name and password, observable as a transfer (200) or ERROR 401.
TEST_F(AuthTest, ImplicitCredentialsFollowUseLmCompatAndLmCompatibilityLevel) {
  // The owner's default cache (krb5.conf's default_ccache_name) holds alice's ticket.
  kdc_->Kinit("alice", "ccache.default");
  unsetenv("KRB5CCNAME");
  int run = 0;
  for (int use_lm_compat = 0; use_lm_compat <= 2; ++use_lm_compat) {
    for (int level : {1, 2, 3}) {
      ASSERT_EQ(bitsd_->Stop(), 0);
      bitsd_ = std::make_unique<harness::Bitsd>(
          dir_, bus_->address(),
          DaemonTest::Config() + "[auth]\nuse_lm_compat = " + std::to_string(use_lm_compat) +
              "\nlm_compatibility_level = " + std::to_string(level) + "\n");
      bitsd_->Start();
      client_ = Connect();
      for (bool called : {false, true}) {
        const bool sent = called || use_lm_compat == 0 || (use_lm_compat == 1 && level >= 2);
        const Outcome outcome =
            Fetch("matrix-" + std::to_string(run++), "/negotiate/file.bin", [&](Job& job) {
              return called
                         ? job.SetImplicitCredentials(AuthTarget::kServer, AuthScheme::kNegotiate)
                         : Ok();
            });
        EXPECT_EQ(outcome.state, sent ? JobState::kTransferred : JobState::kError)
            << "use_lm_compat=" << use_lm_compat << " level=" << level << " called=" << called
            << ": " << outcome.description;
        if (!sent) {
          EXPECT_EQ(outcome.code, kHttp401);
        }
      }
    }
  }
}

class DefaultPolicyAuthTest : public AuthTest {
 protected:
  std::string Config() override { return DaemonTest::Config(); }
};

TEST_F(DefaultPolicyAuthTest, BasicOverPlainHttpIsRefusedByDefault) {
  const Outcome outcome = Fetch("basic-http", "/basic/file.bin", [](Job& job) {
    return Explicit(job, AuthScheme::kBasic, "alice", "alicepw");
  });
  EXPECT_EQ(outcome.state, JobState::kError);
  EXPECT_EQ(outcome.code, kHttp401);
  EXPECT_NE(outcome.description.find("allow_basic_over_http"), std::string::npos)
      << outcome.description;
  // The password never went out: only the anonymous request reached the server.
  EXPECT_EQ(Requests("/basic/file.bin").size(), 1u);
}

TEST_F(DefaultPolicyAuthTest, UrlCredentialsAreRefusedByDefault) {
  auto job = client_->CreateJob("userinfo");
  ASSERT_TRUE(job);
  const Status added =
      job->AddFile("http://alice:s3cret-in-url@localhost:1/file", out() + "/userinfo");
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code(), hr::E_INVALIDARG);
  EXPECT_EQ(added.error().message().find("s3cret-in-url"), std::string::npos);
  EXPECT_NE(added.error().message().find("allow_url_credentials"), std::string::npos);
}

}  // namespace
}  // namespace openbits::integration

namespace openbits::integration {
namespace {

// Passport 1.4 against the harness's own nexus, login server and site (range_server.py).
class PassportTest : public DaemonTest {
 protected:
  std::string Config() override {
    return DaemonTest::Config() +
           "[auth]\npassport_nexus_url = " + server_->Url("/passport/nexus") + "\n";
  }
  std::pair<JobState, JobErrorInfo> Fetch(const std::string& name, const std::string& user,
                                          const std::string& password) {
    auto job = client_->CreateJob(name);
    EXPECT_TRUE(job);
    EXPECT_TRUE(job->AddFile(server_->Url("/passport/site/file.bin"), out() + "/" + name));
    if (!user.empty()) {
      EXPECT_TRUE(job->SetCredentials(AuthTarget::kServer, AuthScheme::kPassport,
                                      SecretString(user), SecretString(password)));
    }
    EXPECT_TRUE(job->Resume());
    const JobState state = WaitForState(*job, {JobState::kTransferred, JobState::kError});
    JobErrorInfo error;
    if (state == JobState::kTransferred) {
      EXPECT_TRUE(job->Complete());
    } else {
      error = *job->GetError();
    }
    return {state, error};
  }
};

TEST_F(PassportTest, TheLoginServersTicketOpensTheSite) {
  harness::WriteRandomFile(www() + "/file.bin", 150'000, 41);
  const auto [state, error] = Fetch("passport", "alice@example.com", "alicepw");
  ASSERT_EQ(state, JobState::kTransferred) << error.description;
  EXPECT_EQ(harness::Sha256OfFile(out() + "/passport"), harness::Sha256OfFile(www() + "/file.bin"));
  bool signed_in = false, served = false;
  for (const std::string& line : server_->LogLines()) {
    if (line.find("/passport/login2.srf") != std::string::npos &&
        line.find("\"status\": 200") != std::string::npos) {
      signed_in = true;
    }
    if (line.find("\"passport_user\": \"alice@example.com\"") != std::string::npos) served = true;
  }
  EXPECT_TRUE(signed_in);
  EXPECT_TRUE(served);
}

TEST_F(PassportTest, AWrongPasswordOrNoneEndsIn401) {
  harness::WriteRandomFile(www() + "/file.bin", 1000, 42);
  const auto [wrong_state, wrong] = Fetch("wrong", "alice@example.com", "nope");
  EXPECT_EQ(wrong_state, JobState::kError);
  EXPECT_EQ(wrong.code, 0x80190191u);
  EXPECT_NE(wrong.description.find("the Passport login server refused the credentials"),
            std::string::npos)
      << wrong.description;
  const auto [none_state, none] = Fetch("none", "", "");
  EXPECT_EQ(none_state, JobState::kError);
  EXPECT_NE(none.description.find("offered passport1.4"), std::string::npos) << none.description;
}

}  // namespace
}  // namespace openbits::integration
