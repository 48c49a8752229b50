// Proxies against a real squid: OVERRIDE lists with failover and bypass rules, NO_PROXY,
// PRECONFIG from bitsd.conf, and proxy authentication (Basic, Negotiate, NTLM) for http
// targets and through CONNECT to https ones. What a user observes: the bytes on disk, the
// job's state and error, and squid's access log (which request went through which proxy,
// as whom).
#include <pwd.h>
#include <unistd.h>

#include "harness/auth_peers.h"
#include "harness/proxy_peers.h"
#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

constexpr HRESULT kHttp407 = 0x80190197;  // BG_E_HTTP_ERROR_407

class ProxyTest : public DaemonTest {
 protected:
  void SetUp() override {
    // bitsd never takes a proxy from its environment: this one does not exist.
    setenv("http_proxy", ("http://127.0.0.1:" + std::to_string(harness::UnusedPort())).c_str(), 1);
    setenv("https_proxy", getenv("http_proxy"), 1);
    tls_ = harness::MakeTestPki(dir_, "proxied");
    DaemonTest::SetUp();
    unsetenv("http_proxy");
    unsetenv("https_proxy");
    harness::WriteRandomFile(www() + "/file.bin", 200'000, 23);
    open_ = std::make_unique<harness::Squid>(dir_, "open", "none");
  }
  std::string Config() override {
    return DaemonTest::Config() + "[tls]\nextra_ca_file = " + tls_.ca_cert + "\n" + MoreConfig();
  }
  virtual std::string MoreConfig() { return ""; }

  Outcome Fetch(const std::string& name, const std::string& url,
                const std::function<Status(Job&)>& configure) {
    return RunJob(name, url, configure);
  }
  static std::function<Status(Job&)> Override(const std::string& list,
                                              const std::string& bypass = "") {
    return [=](Job& job) { return job.SetProxySettings(ProxyUsage::kOverride, list, bypass); };
  }
  // Whether squid's log shows a request whose URL contains `needle`.
  static bool Saw(const harness::Squid& squid, const std::string& needle) {
    for (const std::string& line : squid.AccessLog()) {
      if (line.find(needle) != std::string::npos) return true;
    }
    return false;
  }
  std::string Expected() const { return harness::Sha256OfFile(www() + "/file.bin"); }
  std::string Dead() const { return "127.0.0.1:" + std::to_string(harness::UnusedPort()); }

  harness::TestPki tls_;
  std::unique_ptr<harness::Squid> open_;
};

TEST_F(ProxyTest, OverrideGoesThroughTheProxyAndFailsOverFromADeadOne) {
  const Outcome outcome = Fetch("via", server_->Url("/file.bin?via"), Override(open_->Address()));
  ASSERT_EQ(outcome.state, JobState::kTransferred) << outcome.description;
  EXPECT_EQ(outcome.sha256, Expected());
  EXPECT_TRUE(harness::WaitUntil([&] { return Saw(*open_, "/file.bin?via"); }));

  const Outcome failover = Fetch("failover", server_->Url("/file.bin?failover"),
                                 Override(Dead() + ";" + open_->Address()));
  ASSERT_EQ(failover.state, JobState::kTransferred) << failover.description;
  EXPECT_TRUE(harness::WaitUntil([&] { return Saw(*open_, "/file.bin?failover"); }));
}

TEST_F(ProxyTest, WhenNoProxyOfTheListWorksTheErrorIsTransientAndNamesThem) {
  const std::string first = Dead(), second = Dead();
  const Outcome outcome =
      Fetch("dead", server_->Url("/file.bin"), Override(first + " http=" + second));
  EXPECT_EQ(outcome.state, JobState::kTransientError);
  EXPECT_EQ(outcome.context, ErrorContext::kGeneralTransport);
  EXPECT_NE(outcome.description.find("http://" + first), std::string::npos) << outcome.description;
  EXPECT_NE(outcome.description.find("http://" + second), std::string::npos) << outcome.description;
}

TEST_F(ProxyTest, BypassListSendsMatchingHostsDirect) {
  // <local>: a host name without a dot.
  const std::string local_url = "http://localhost:" + std::to_string(server_->port());
  const Outcome local =
      Fetch("local", local_url + "/file.bin?local", Override(open_->Address(), "<local>"));
  ASSERT_EQ(local.state, JobState::kTransferred) << local.description;
  // A wildcard, and the same URL without a matching bypass goes through squid.
  const Outcome wildcard = Fetch("wildcard", server_->Url("/file.bin?wildcard"),
                                 Override(open_->Address(), "<local>;127.0.0.*"));
  ASSERT_EQ(wildcard.state, JobState::kTransferred) << wildcard.description;
  const Outcome proxied = Fetch("proxied", server_->Url("/file.bin?proxied"),
                                Override(open_->Address(), "*.example.org 10.*"));
  ASSERT_EQ(proxied.state, JobState::kTransferred) << proxied.description;
  EXPECT_TRUE(harness::WaitUntil([&] { return Saw(*open_, "/file.bin?proxied"); }));
  EXPECT_FALSE(Saw(*open_, "?local"));
  EXPECT_FALSE(Saw(*open_, "?wildcard"));
}

TEST_F(ProxyTest, NoProxyAndPreconfigIgnoreTheProxyEnvironmentOfBitsd) {
  // bitsd was started with http_proxy and https_proxy pointing at nothing.
  const Outcome no_proxy = Fetch("no-proxy", server_->Url("/file.bin"), [](Job& job) {
    return job.SetProxySettings(ProxyUsage::kNoProxy);
  });
  EXPECT_EQ(no_proxy.state, JobState::kTransferred) << no_proxy.description;
  const Outcome preconfig =
      Fetch("preconfig", server_->Url("/file.bin"), [](Job&) { return Ok(); });
  EXPECT_EQ(preconfig.state, JobState::kTransferred) << preconfig.description;
}

TEST_F(ProxyTest, HttpsGoesThroughAConnectTunnel) {
  harness::RangeServer https(dir_, www(), tls_);
  const Outcome outcome =
      Fetch("tunnel", https.Url("/file.bin?tunnel"), Override(open_->Address()));
  ASSERT_EQ(outcome.state, JobState::kTransferred) << outcome.description;
  EXPECT_EQ(outcome.sha256, Expected());
  EXPECT_TRUE(harness::WaitUntil([&] { return Saw(*open_, "CONNECT 127.0.0.1:"); }));
}

TEST_F(ProxyTest, SettingsAreValidatedLikeBitsAndKeptAcrossARestart) {
  auto job = client_->CreateJob("settings");
  ASSERT_TRUE(job);
  auto code = [](const Status& status) { return status ? hr::S_OK : status.error().code(); };
  EXPECT_EQ(code(job->SetProxySettings(ProxyUsage::kNoProxy, "proxy:80")), hr::E_INVALIDARG);
  EXPECT_EQ(code(job->SetProxySettings(ProxyUsage::kOverride, "")), hr::E_INVALIDARG);
  EXPECT_EQ(code(job->SetProxySettings(static_cast<ProxyUsage>(7))), hr::E_INVALIDARG);
  EXPECT_EQ(code(job->SetProxySettings(ProxyUsage::kOverride, std::string(4001, 'p'))),
            hr::BG_E_PROXY_LIST_TOO_LARGE);
  EXPECT_EQ(code(job->SetProxySettings(ProxyUsage::kOverride, "p:1", std::string(4001, 'b'))),
            hr::BG_E_PROXY_BYPASS_LIST_TOO_LARGE);
  ASSERT_TRUE(job->SetProxySettings(ProxyUsage::kOverride, "a:3128 https=b:8080", "<local>"));
  ASSERT_EQ(bitsd_->Stop(), 0);
  bitsd_->Start();
  client_ = Connect();
  auto again = client_->GetJob(job->id());
  ASSERT_TRUE(again);
  auto settings = again->GetProxySettings();
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->usage, ProxyUsage::kOverride);
  EXPECT_EQ(settings->list, "a:3128 https=b:8080");
  EXPECT_EQ(settings->bypass, "<local>");
  EXPECT_EQ(harness::Run(Bitsadmin({"/getproxyusage", "settings"})).out, "OVERRIDE\n");
  EXPECT_EQ(harness::Run(Bitsadmin({"/getproxybypasslist", "settings"})).out, "<local>\n");
  ASSERT_EQ(harness::Run(Bitsadmin({"/setproxysettings", "settings", "NO_PROXY"})).exit_code, 0);
  EXPECT_EQ(harness::Run(Bitsadmin({"/getproxylist", "settings"})).out, "(none)\n");
}

TEST_F(ProxyTest, AnUnusableListFailsWithInvalidProxyInfoNamingTheEntry) {
  const Outcome outcome = Fetch("bad-list", server_->Url("/file.bin"), Override("good:3128 b!d:1"));
  EXPECT_EQ(outcome.state, JobState::kError);
  EXPECT_EQ(outcome.code, hr::BG_E_INVALID_PROXY_INFO);
  EXPECT_EQ(outcome.context, ErrorContext::kGeneralTransport);
  EXPECT_NE(outcome.description.find("'b!d:1'"), std::string::npos) << outcome.description;
}

class PreconfigProxyTest : public ProxyTest {
 protected:
  std::string MoreConfig() override {
    // The [proxy] section is read before the squid starts: its port is chosen now.
    port_ = harness::UnusedPort();
    return "[proxy]\nusage = OVERRIDE\nlist = localhost:" + std::to_string(port_) +
           "\nbypass = *.example.org\n";
  }
  int port_ = 0;
};

TEST_F(PreconfigProxyTest, PreconfigJobsUseTheProxyOfBitsdConf) {
  // Nothing listens on the configured proxy yet: the job cannot get through.
  const Outcome down = Fetch("down", server_->Url("/file.bin"), [](Job&) { return Ok(); });
  EXPECT_EQ(down.state, JobState::kTransientError);
  EXPECT_NE(down.description.find(std::to_string(port_)), std::string::npos) << down.description;
  // A job of its own with OVERRIDE is not affected.
  const Outcome own = Fetch("own", server_->Url("/file.bin?own"), Override(open_->Address()));
  EXPECT_EQ(own.state, JobState::kTransferred) << own.description;
}

TEST_F(PreconfigProxyTest, TheAccountsSettingsComeFirstThenTheCreatorsEnvironmentThenBitsdConf) {
  const std::string dead_env = Dead();
  setenv("http_proxy", ("http://" + dead_env).c_str(), 1);
  // 1. The account's own settings win over the environment and bitsd.conf.
  ASSERT_TRUE(client_->SetAccountProxy(geteuid(), {2, open_->Address(), "", ""}));
  const Outcome account =
      Fetch("account", server_->Url("/file.bin?account"), [](Job&) { return Ok(); });
  EXPECT_EQ(account.state, JobState::kTransferred) << account.description;
  EXPECT_TRUE(harness::WaitUntil([&] { return Saw(*open_, "?account"); }));
  EXPECT_EQ(harness::Run(Bitsadmin({"/util", "/getieproxy", std::to_string(geteuid())})).out,
            "MANUAL_PROXY " + open_->Address() + " NULL\n");
  // 2. Without them, the environment the job was created in.
  ASSERT_TRUE(client_->ResetAccountProxy(geteuid()));
  const Outcome environment =
      Fetch("environment", server_->Url("/file.bin"), [](Job&) { return Ok(); });
  EXPECT_EQ(environment.state, JobState::kTransientError);
  EXPECT_NE(environment.description.find(dead_env), std::string::npos) << environment.description;
  // ... and its no_proxy.
  setenv("no_proxy", "localhost,127.0.0.1", 1);
  const Outcome excepted =
      Fetch("no-proxy-env", server_->Url("/file.bin"), [](Job&) { return Ok(); });
  EXPECT_EQ(excepted.state, JobState::kTransferred) << excepted.description;
  unsetenv("no_proxy");
  // 3. Without either, bitsd.conf (a proxy that is down here).
  unsetenv("http_proxy");
  const Outcome machine = Fetch("machine", server_->Url("/file.bin"), [](Job&) { return Ok(); });
  EXPECT_EQ(machine.state, JobState::kTransientError);
  EXPECT_NE(machine.description.find(std::to_string(port_)), std::string::npos)
      << machine.description;
  // NO_PROXY for the account sends its PRECONFIG jobs direct.
  ASSERT_EQ(harness::Run(Bitsadmin({"/util", "/setieproxy", std::to_string(geteuid()), "NO_PROXY"}))
                .exit_code,
            0);
  const Outcome direct = Fetch("direct", server_->Url("/file.bin"), [](Job&) { return Ok(); });
  EXPECT_EQ(direct.state, JobState::kTransferred) << direct.description;
}

TEST_F(ProxyTest, UsersSetOnlyTheirOwnAccountSettingsWhichSurviveARestart) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run bitsadmin as other users";
  const passwd* alice = getpwnam("openbits-alice");
  ASSERT_NE(alice, nullptr);
  const harness::RunAs as_alice{alice->pw_uid, alice->pw_gid};
  const auto own = harness::Run(
      Bitsadmin({"/util", "/setieproxy", "openbits-alice", "AUTOSCRIPT", "http://pac/x.pac"}),
      as_alice);
  EXPECT_EQ(own.exit_code, 0) << own.err;
  const auto other =
      harness::Run(Bitsadmin({"/util", "/setieproxy", "openbits-bob", "NO_PROXY"}), as_alice);
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("E_ACCESSDENIED"), std::string::npos) << other.err;
  const auto bad = harness::Run(
      Bitsadmin({"/util", "/setieproxy", "openbits-alice", "AUTOSCRIPT", "ftp://pac"}), as_alice);
  EXPECT_NE(bad.err.find("E_INVALIDARG"), std::string::npos) << bad.err;
  ASSERT_EQ(bitsd_->Stop(), 0);
  bitsd_->Start();
  EXPECT_EQ(harness::Run(Bitsadmin({"/util", "/getieproxy", "openbits-alice"}), as_alice).out,
            "AUTOSCRIPT http://pac/x.pac\n");
  // An administrator reads and resets anyone's.
  EXPECT_EQ(harness::Run(Bitsadmin({"/util", "/setieproxy", "openbits-alice", "RESET"})).exit_code,
            0);
  EXPECT_EQ(harness::Run(Bitsadmin({"/rawreturn", "/util", "/getieproxy", "openbits-alice"})).out,
            "NONE\n");
}

}  // namespace
}  // namespace openbits::integration

namespace openbits::integration {
namespace {

// Proxy authentication: squid demands Basic, Negotiate or NTLM; targets are plain http
// (the credentials ride on the request) and https (on the CONNECT of the tunnel).
class ProxyAuthTest : public ProxyTest {
 protected:
  void SetUp() override {
    kdc_ = std::make_unique<harness::Kdc>(dir_);
    ProxyTest::SetUp();
    https_ = std::make_unique<harness::RangeServer>(dir_, www(), tls_);
  }
  std::string MoreConfig() override { return "[auth]\nallow_basic_over_http = true\n"; }
  static std::function<Status(Job&)> Through(const harness::Squid& squid, AuthScheme scheme,
                                             const std::string& user, const std::string& password) {
    return [&squid, scheme, user, password](Job& job) -> Status {
      OPENBITS_RETURN_IF_ERROR(job.SetProxySettings(ProxyUsage::kOverride, squid.Address()));
      if (user.empty()) return job.SetImplicitCredentials(AuthTarget::kProxy, scheme);
      return job.SetCredentials(AuthTarget::kProxy, scheme, SecretString(user),
                                SecretString(password));
    };
  }

  std::unique_ptr<harness::Kdc> kdc_;
  std::unique_ptr<harness::RangeServer> https_;
};

TEST_F(ProxyAuthTest, BasicProxyAuthenticationForHttpAndThroughConnect) {
  harness::Squid squid(dir_, "basic", "basic");
  for (const std::string& url :
       {server_->Url("/file.bin?basic-http"), https_->Url("/file.bin?basic-https")}) {
    const Outcome outcome =
        Fetch("basic", url, Through(squid, AuthScheme::kBasic, "alice", "alicepw"));
    ASSERT_EQ(outcome.state, JobState::kTransferred) << url << ": " << outcome.description;
    EXPECT_EQ(outcome.sha256, Expected());
  }
  EXPECT_TRUE(harness::WaitUntil([&] { return squid.UserOfAnswered("?basic-http") == "alice"; }));
  EXPECT_TRUE(harness::WaitUntil([&] { return squid.UserOfAnswered("CONNECT") == "alice"; }));
}

TEST_F(ProxyAuthTest, DigestProxyAuthenticationForHttpAndThroughConnect) {
  harness::Squid squid(dir_, "digest", "digest");
  for (const std::string& url :
       {server_->Url("/file.bin?digest-http"), https_->Url("/file.bin?digest-https")}) {
    const Outcome outcome =
        Fetch("digest", url, Through(squid, AuthScheme::kDigest, "bob", "bobpw"));
    ASSERT_EQ(outcome.state, JobState::kTransferred) << url << ": " << outcome.description;
  }
  EXPECT_TRUE(harness::WaitUntil([&] { return squid.UserOfAnswered("?digest-http") == "bob"; }));
  EXPECT_TRUE(harness::WaitUntil([&] { return squid.UserOfAnswered("CONNECT") == "bob"; }));
}

TEST_F(ProxyAuthTest, AWrongProxyPasswordEndsIn407WithTheTransportContext) {
  harness::Squid squid(dir_, "basic", "basic");
  const Outcome outcome = Fetch("wrong", server_->Url("/file.bin"),
                                Through(squid, AuthScheme::kBasic, "alice", "nope"));
  EXPECT_EQ(outcome.state, JobState::kError);
  EXPECT_EQ(outcome.code, kHttp407);
  EXPECT_EQ(outcome.context, ErrorContext::kGeneralTransport);
  EXPECT_NE(outcome.description.find("the password was refused"), std::string::npos)
      << outcome.description;
}

TEST_F(ProxyAuthTest, NegotiateProxyAuthenticationWithTheCallersTicket) {
  harness::Squid squid(dir_, "negotiate", "negotiate", kdc_.get());
  setenv("KRB5CCNAME", kdc_->Kinit("bob", "bob.ccache").c_str(), 1);
  for (const std::string& url :
       {server_->Url("/file.bin?krb-http"), https_->Url("/file.bin?krb-https")}) {
    const Outcome outcome = Fetch("krb", url, Through(squid, AuthScheme::kNegotiate, "", ""));
    ASSERT_EQ(outcome.state, JobState::kTransferred) << url << ": " << outcome.description;
  }
  EXPECT_TRUE(
      harness::WaitUntil([&] { return squid.UserOfAnswered("?krb-http") == "bob@TEST.LOCAL"; }));
  EXPECT_TRUE(
      harness::WaitUntil([&] { return squid.UserOfAnswered("CONNECT") == "bob@TEST.LOCAL"; }));
}

TEST_F(ProxyAuthTest, NtlmProxyAuthenticationForHttpAndThroughConnect) {
  harness::Squid squid(dir_, "ntlm", "ntlm");
  for (const std::string& url :
       {server_->Url("/file.bin?ntlm-http"), https_->Url("/file.bin?ntlm-https")}) {
    const Outcome outcome =
        Fetch("ntlm", url, Through(squid, AuthScheme::kNtlm, "TESTDOM\\alice", "alicepw"));
    ASSERT_EQ(outcome.state, JobState::kTransferred) << url << ": " << outcome.description;
  }
  // squid's log escapes the backslash of DOMAIN\user.
  EXPECT_TRUE(
      harness::WaitUntil([&] { return squid.UserOfAnswered("?ntlm-http") == "TESTDOM\\\\alice"; }));
  EXPECT_TRUE(
      harness::WaitUntil([&] { return squid.UserOfAnswered("CONNECT") == "TESTDOM\\\\alice"; }));
}

TEST_F(ProxyAuthTest, BasicAndNegotiateProxyAuthenticationWithPreconfig) {
  // PRECONFIG jobs (no SetProxySettings) find the proxy in the account's settings.
  harness::Squid basic(dir_, "basic", "basic");
  harness::Squid negotiate(dir_, "negotiate", "negotiate", kdc_.get());
  setenv("KRB5CCNAME", kdc_->Kinit("alice", "alice.ccache").c_str(), 1);
  struct Case {
    const harness::Squid& squid;
    std::function<Status(Job&)> credentials;
    std::string user;
  };
  const std::vector<Case> cases = {
      {basic,
       [](Job& job) {
         return job.SetCredentials(AuthTarget::kProxy, AuthScheme::kBasic, SecretString("bob"),
                                   SecretString("bobpw"));
       },
       "bob"},
      {negotiate,
       [](Job& job) {
         return job.SetImplicitCredentials(AuthTarget::kProxy, AuthScheme::kNegotiate);
       },
       "alice@TEST.LOCAL"}};
  for (const Case& c : cases) {
    ASSERT_TRUE(client_->SetAccountProxy(geteuid(), {2, c.squid.Address(), "", ""}));
    const std::string tag = "?preconfig-" + c.user;
    const Outcome outcome = Fetch("preconfig", server_->Url("/file.bin" + tag), c.credentials);
    ASSERT_EQ(outcome.state, JobState::kTransferred) << c.user << ": " << outcome.description;
    EXPECT_TRUE(harness::WaitUntil([&] { return c.squid.UserOfAnswered(tag) == c.user; }))
        << c.user;
  }
}

TEST_F(ProxyAuthTest, ProxyAndServerAuthenticationInOneJob) {
  harness::Squid squid(dir_, "ntlm", "ntlm");
  harness::AuthApache apache(dir_, www(), *kdc_);
  const Outcome outcome = Fetch("both", apache.Url("/digest/file.bin"), [&](Job& job) -> Status {
    OPENBITS_RETURN_IF_ERROR(Through(squid, AuthScheme::kNtlm, "TESTDOM\\alice", "alicepw")(job));
    return job.SetCredentials(AuthTarget::kServer, AuthScheme::kDigest, SecretString("alice"),
                              SecretString("alicepw"));
  });
  ASSERT_EQ(outcome.state, JobState::kTransferred) << outcome.description;
  EXPECT_EQ(outcome.sha256, Expected());
  EXPECT_TRUE(harness::WaitUntil([&] { return squid.UserOfAnswered("/digest/file.bin") != ""; }));
  bool digest_alice = false;
  for (const std::string& line : apache.AccessLog()) {
    if (line.starts_with("206 alice Digest ") && line.ends_with(" /digest/file.bin")) {
      digest_alice = true;
    }
  }
  EXPECT_TRUE(digest_alice);
}

}  // namespace
}  // namespace openbits::integration

namespace openbits::integration {
namespace {

// PAC scripts: an account's AUTOSCRIPT and AUTODETECT (with [proxy] wpad_url), evaluated in
// openbits-pac-helper; the PAC files are served by the test's HTTP server.
class PacTest : public ProxyTest {
 protected:
  void SetUp() override {
    ProxyTest::SetUp();
    // localhost goes through squid (with a dead proxy first), 127.0.0.1 direct.
    harness::WriteFile(www() + "/proxy.pac",
                       "function FindProxyForURL(url, host) {\n"
                       "  if (host == 'localhost') return 'PROXY " +
                           Dead() + "; PROXY " + open_->Address() +
                           "';\n"
                           "  if (shExpMatch(url, '*garbage*')) return 'FOO bar';\n"
                           "  if (shExpMatch(url, '*loop*')) { while (true) {} }\n"
                           "  return 'DIRECT';\n}\n");
    harness::WriteFile(www() + "/broken.pac", "function FindProxyForURL(url, host) { return (");
  }
  std::string MoreConfig() override {
    return "[proxy]\nwpad_url = " + server_->Url("/proxy.pac") + "\npac_timeout_ms = 2000\n";
  }
  std::string LocalhostUrl(const std::string& path) const {
    return "http://localhost:" + std::to_string(server_->port()) + path;
  }
  static std::function<Status(Job&)> Autodetect() {
    return [](Job& job) { return job.SetProxySettings(ProxyUsage::kAutodetect); };
  }
};

TEST_F(PacTest, AutoscriptOfTheAccountChoosesAProxyOrDirectPerHost) {
  ASSERT_TRUE(client_->SetAccountProxy(geteuid(), {3, "", "", server_->Url("/proxy.pac")}));
  const Outcome proxied =
      Fetch("pac-proxied", LocalhostUrl("/file.bin?pac-proxied"), [](Job&) { return Ok(); });
  ASSERT_EQ(proxied.state, JobState::kTransferred) << proxied.description;
  EXPECT_EQ(proxied.sha256, Expected());
  const Outcome direct =
      Fetch("pac-direct", server_->Url("/file.bin?pac-direct"), [](Job&) { return Ok(); });
  ASSERT_EQ(direct.state, JobState::kTransferred) << direct.description;
  EXPECT_TRUE(harness::WaitUntil([&] { return Saw(*open_, "?pac-proxied"); }));
  EXPECT_FALSE(Saw(*open_, "?pac-direct"));
}

TEST_F(PacTest, AutodetectUsesTheWpadUrlAndFailsOverWithinThePacAnswer) {
  const Outcome proxied =
      Fetch("wpad-proxied", LocalhostUrl("/file.bin?wpad-proxied"), Autodetect());
  ASSERT_EQ(proxied.state, JobState::kTransferred) << proxied.description;
  EXPECT_TRUE(harness::WaitUntil([&] { return Saw(*open_, "?wpad-proxied"); }));
  const Outcome direct = Fetch("wpad-direct", server_->Url("/file.bin?wpad-direct"), Autodetect());
  ASSERT_EQ(direct.state, JobState::kTransferred) << direct.description;
  EXPECT_FALSE(Saw(*open_, "?wpad-direct"));
}

TEST_F(PacTest, AGarbageAnswerABrokenScriptAndALoopFailWithInvalidProxyInfo) {
  const Outcome garbage = Fetch("garbage", server_->Url("/file.bin?garbage"), Autodetect());
  EXPECT_EQ(garbage.state, JobState::kError);
  EXPECT_EQ(garbage.code, hr::BG_E_INVALID_PROXY_INFO);
  EXPECT_EQ(garbage.context, ErrorContext::kGeneralTransport);
  EXPECT_NE(garbage.description.find("'FOO bar'"), std::string::npos) << garbage.description;
  // A script that never returns is stopped after pac_timeout_ms (2 s here).
  const auto started = std::chrono::steady_clock::now();
  const Outcome loop = Fetch("loop", server_->Url("/file.bin?loop"), Autodetect());
  EXPECT_EQ(loop.state, JobState::kError);
  EXPECT_EQ(loop.code, hr::BG_E_INVALID_PROXY_INFO);
  EXPECT_NE(loop.description.find("did not answer within 2000 ms"), std::string::npos)
      << loop.description;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s);
  ASSERT_TRUE(client_->SetAccountProxy(geteuid(), {3, "", "", server_->Url("/broken.pac")}));
  const Outcome broken = Fetch("broken", server_->Url("/file.bin"), [](Job&) { return Ok(); });
  EXPECT_EQ(broken.state, JobState::kError);
  EXPECT_EQ(broken.code, hr::BG_E_INVALID_PROXY_INFO);
  EXPECT_NE(broken.description.find("does not parse"), std::string::npos) << broken.description;
}

TEST_F(PacTest, APacServerThatIsDownIsATransientError) {
  const std::string down = "http://127.0.0.1:" + std::to_string(harness::UnusedPort()) + "/x.pac";
  ASSERT_TRUE(client_->SetAccountProxy(geteuid(), {3, "", "", down}));
  const Outcome outcome = Fetch("pac-down", server_->Url("/file.bin"), [](Job&) { return Ok(); });
  EXPECT_EQ(outcome.state, JobState::kTransientError);
  EXPECT_EQ(outcome.context, ErrorContext::kGeneralTransport);
  EXPECT_NE(outcome.description.find(down), std::string::npos) << outcome.description;
}

}  // namespace
}  // namespace openbits::integration
