// Implicit NTLM without SetCredentials (the UseLMCompat x LmCompatibilityLevel table of the BITS
// authentication documentation), against the real NTLM acceptor (Apache with gss-ntlmssp) and
// squid (ntlm_auth). The job's identity keeps its NTLM account in its own file ([auth]
// ntlm_user_file); the client sends no NTLM_USER_FILE. What is observed: the job's state and
// error, and the user the server's or the proxy's log names.
#include <pwd.h>
#include <unistd.h>

#include <sstream>

#include "harness/auth_peers.h"
#include "harness/proxy_peers.h"
#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

namespace fs = std::filesystem;

constexpr HRESULT kHttp401 = 0x80190191;  // BG_E_HTTP_ERROR_401
constexpr HRESULT kHttp407 = 0x80190197;  // BG_E_HTTP_ERROR_407

class ImplicitNtlmTest : public DaemonTest {
 protected:
  void SetUp() override {
    kdc_ = std::make_unique<harness::Kdc>(dir_);
    DaemonTest::SetUp();
    harness::WriteRandomFile(www() + "/file.bin", 100'000, 23);
    apache_ = std::make_unique<harness::AuthApache>(dir_, www(), *kdc_);
    squid_ = std::make_unique<harness::Squid>(dir_, "ntlm", "ntlm");
    // The job owner's (root's, uid 0) own NTLM account: readable by it alone.
    harness::WriteFile(dir_ / "ntlm-0", "TESTDOM:alice:alicepw\n");
    fs::permissions(dir_ / "ntlm-0", fs::perms::owner_read | fs::perms::owner_write);
    unsetenv("NTLM_USER_FILE");
  }
  void Restart(int use_lm_compat, int level) {
    ASSERT_EQ(bitsd_->Stop(), 0);
    bitsd_ = std::make_unique<harness::Bitsd>(
        dir_, bus_->address(),
        DaemonTest::Config() + "[auth]\nuse_lm_compat = " + std::to_string(use_lm_compat) +
            "\nlm_compatibility_level = " + std::to_string(level) +
            "\nntlm_user_file = " + std::string(dir_ / "ntlm-%{uid}") + "\n");
    bitsd_->Start();
    client_ = Connect();
  }
  // Whether Apache logged a success for `path` as TESTDOM\alice.
  bool ServerSawAlice(const std::string& path) const {
    for (const std::string& line : apache_->AccessLog()) {
      if (line.ends_with(" " + path) && line.starts_with("2") &&
          line.find(" TESTDOM\\\\alice NTLM ") != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  std::unique_ptr<harness::Kdc> kdc_;
  std::unique_ptr<harness::AuthApache> apache_;
  std::unique_ptr<harness::Squid> squid_;
};

// Every combination of use_lm_compat (0-2) and lm_compatibility_level (0-5), with and without
// SetCredentials(..., NULL, NULL): implicit credentials go out under 0 always, under 1 when
// the level is >= 2, under 2 only after the call; otherwise 401 (server) or 407 (proxy).
TEST_F(ImplicitNtlmTest, WithoutSetCredentialsFollowsUseLmCompatAndLevelForServerAndProxy) {
  int run = 0;
  for (int use_lm_compat = 0; use_lm_compat <= 2; ++use_lm_compat) {
    for (int level = 0; level <= 5; ++level) {
      Restart(use_lm_compat, level);
      for (bool called : {false, true}) {
        const bool sent = called || use_lm_compat == 0 || (use_lm_compat == 1 && level >= 2);
        const std::string what = "use_lm_compat=" + std::to_string(use_lm_compat) +
                                 " level=" + std::to_string(level) +
                                 " called=" + std::to_string(called);
        // The server (gss-ntlmssp checks the response).
        const std::string tag = "m" + std::to_string(run++);
        fs::copy_file(www() + "/file.bin", www() + "/" + tag + ".bin");
        const Outcome server =
            RunJob("server-" + tag, apache_->Url("/ntlm/" + tag + ".bin"), [&](Job& job) {
              return called ? job.SetImplicitCredentials(AuthTarget::kServer, AuthScheme::kNtlm)
                            : Ok();
            });
        EXPECT_EQ(server.state, sent ? JobState::kTransferred : JobState::kError)
            << what << ": " << server.description;
        if (sent) {
          EXPECT_TRUE(ServerSawAlice("/ntlm/" + tag + ".bin")) << what;
        } else {
          EXPECT_EQ(server.code, kHttp401) << what;
        }
        // The proxy (squid's ntlm_auth).
        const Outcome proxy =
            RunJob("proxy-" + tag, server_->Url("/file.bin?" + tag), [&](Job& job) -> Status {
              OPENBITS_RETURN_IF_ERROR(
                  job.SetProxySettings(ProxyUsage::kOverride, squid_->Address()));
              return called ? job.SetImplicitCredentials(AuthTarget::kProxy, AuthScheme::kNtlm)
                            : Ok();
            });
        EXPECT_EQ(proxy.state, sent ? JobState::kTransferred : JobState::kError)
            << what << ": " << proxy.description;
        if (sent) {
          EXPECT_TRUE(harness::WaitUntil([&] {
            return squid_->UserOf("?" + tag) == "TESTDOM\\\\alice";
          })) << what
              << ": " << squid_->UserOf("?" + tag);
        } else {
          EXPECT_EQ(proxy.code, kHttp407) << what;
        }
      }
    }
  }
}

// The identity's own file is held to the NTLM_USER_FILE rules: readable by others, it is not
// used, and the error names the file; a missing one says so.
TEST_F(ImplicitNtlmTest, TheIdentitysOwnFileIsUsedOnlyWhenPrivate) {
  Restart(0, 3);
  fs::permissions(dir_ / "ntlm-0", fs::perms::group_read, fs::perm_options::add);
  const Outcome exposed =
      RunJob("exposed", apache_->Url("/ntlm/file.bin"), [](Job&) { return Ok(); });
  EXPECT_EQ(exposed.state, JobState::kError);
  EXPECT_EQ(exposed.code, kHttp401);
  EXPECT_NE(exposed.description.find(std::string(dir_ / "ntlm-0")), std::string::npos)
      << exposed.description;
  EXPECT_NE(exposed.description.find("readable by it alone"), std::string::npos)
      << exposed.description;
  fs::remove(dir_ / "ntlm-0");
  const Outcome missing =
      RunJob("missing", apache_->Url("/ntlm/file.bin"), [](Job&) { return Ok(); });
  EXPECT_EQ(missing.state, JobState::kError);
  EXPECT_NE(missing.description.find("No such file"), std::string::npos) << missing.description;
}

// With BG_TOKEN_NETWORK the helper's own account file answers, read as the helper: a system
// account's job (no file of its own: 401) reaches the NTLM server as the account in alice's file.
TEST_F(ImplicitNtlmTest, AHelperIdentityAnswersWithItsOwnAccountFile) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run clients as other uids";
  const passwd* alice = getpwnam("openbits-alice");
  ASSERT_NE(alice, nullptr);
  const harness::RunAs alices{alice->pw_uid, alice->pw_gid};
  const std::string file = dir_ / ("ntlm-" + std::to_string(alices.uid));
  harness::WriteFile(file, "TESTDOM:bob:bobpw\n");
  ASSERT_EQ(chown(file.c_str(), alices.uid, alices.gid), 0);
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
  Restart(0, 3);
  const harness::RunAs system{1, 1};
  const std::string system_dir = out() + "/system";
  fs::create_directories(system_dir);
  ASSERT_EQ(chown(system_dir.c_str(), system.uid, system.gid), 0);
  const auto token = harness::Run(MintWithDefaultCache(), alices);
  ASSERT_EQ(token.exit_code, 0) << token.err;
  const auto created = harness::Run(Bitsadmin({"/create", "helped"}), system);
  const auto id = Guid::Parse(created.out.substr(created.out.find('{'), 38));
  ASSERT_TRUE(id) << created.out;
  fs::copy_file(www() + "/file.bin", www() + "/helped.bin");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"/addfile", "helped", apache_->Url("/ntlm/helped.bin"),
                                 system_dir + "/helped"},
        {"/setminretrydelay", "helped", "60"},
        {"/sethelpertoken", "helped", token.out.substr(0, 64)},
        {"/resume", "helped"}}) {
    const auto done = harness::Run(Bitsadmin(args), system);
    ASSERT_EQ(done.exit_code, 0) << args[0] << ": " << done.out << done.err;
  }
  Job job = client_->OpenJob(*id);
  ASSERT_EQ(WaitForState(job, {JobState::kTransferred, JobState::kError}), JobState::kError);
  auto error = job.GetError();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, kHttp401) << error->description;
  EXPECT_NE(error->description.find("ntlm-1'"), std::string::npos) << error->description;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"/sethelpertokenflags", "helped", "NETWORK"},
        {"/resume", "helped"}}) {
    ASSERT_EQ(harness::Run(Bitsadmin(args), system).exit_code, 0) << args[0];
  }
  ASSERT_EQ(WaitForState(job, {JobState::kTransferred, JobState::kError}), JobState::kTransferred)
      << job.GetError()->description;
  bool bob = false;
  for (const std::string& line : apache_->AccessLog()) {
    if (line.ends_with(" /ntlm/helped.bin") && line.starts_with("2") &&
        line.find(" TESTDOM\\\\bob NTLM ") != std::string::npos) {
      bob = true;
    }
  }
  EXPECT_TRUE(bob);
}

}  // namespace
}  // namespace openbits::integration
