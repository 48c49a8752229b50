// Security tests: the admin rights boundary. Each case is an attack by a local user, an
// administrator or a hostile server, asserting the secure outcome (docs/security.md).
//
// The administrator here is openbits-bob as a member of `[identity] admin_group`, not root:
// an administrator may manage every user's jobs, but never gains root's (or another user's)
// file access, nor another user's secrets. Needs root, to act as other uids.
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

namespace fs = std::filesystem;

constexpr char kAdminGroup[] = "openbits-admins";

// Makes `user` a member of kAdminGroup (created when missing).
void MakeAdmin(const char* user) {
  if (!getgrnam(kAdminGroup)) harness::MustRun({"/usr/sbin/groupadd", "-f", kAdminGroup});
  harness::MustRun({"/usr/sbin/usermod", "-aG", kAdminGroup, user});
}

class AdminRightsTest : public DaemonTest {
 protected:
  void SetUp() override {
    std::string why_not;
    auto users = harness::FindTestUsers(&why_not);
    if (!users) GTEST_SKIP() << why_not;
    kAlice = users->alice;
    kBob = users->bob;
    MakeAdmin("openbits-bob");
    DaemonTest::SetUp();
    alice_dir_ = out() + "/alice";
    fs::create_directories(alice_dir_);
    ASSERT_EQ(chown(alice_dir_.c_str(), kAlice.uid, kAlice.gid), 0);
    ASSERT_EQ(chmod(alice_dir_.c_str(), 0700), 0);
  }
  std::string Config() override {
    return DaemonTest::Config() + "[identity]\nadmin_group = " + kAdminGroup +
           "\n[auth]\nallow_basic_over_http = true\n";
  }

  // Creates a job as `who`; returns its id.
  std::string CreateAs(const harness::RunAs& who, const std::string& name) {
    const auto created = harness::Run(Bitsadmin({"/rawreturn", "/create", name}), who);
    EXPECT_EQ(created.exit_code, 0) << created.err;
    return created.out.substr(0, created.out.find('\n'));
  }
  std::string StateAs(const harness::RunAs& who, const std::string& id) {
    return harness::Run(Bitsadmin({"/rawreturn", "/getstate", id}), who).out;
  }
  static void ExpectDenied(const harness::CommandResult& result, const std::string& what) {
    EXPECT_EQ(result.exit_code, 1) << what << ": " << result.out;
    EXPECT_NE(result.err.find("E_ACCESSDENIED"), std::string::npos) << what << ": " << result.err;
  }

  std::string alice_dir_;
  harness::RunAs kAlice{0, 0};
  harness::RunAs kBob{0, 0};
};

// An administrator acting on root's job must not choose where root writes, nor what.
TEST_F(AdminRightsTest, AnAdministratorCannotMakeRootWriteWhereOnlyRootMay) {
  harness::WriteRandomFile(www() + "/legit.bin", 64 * 1024, 31);
  harness::WriteFile(www() + "/evil.bin", "* * * * * root /tmp/owned\n");
  const std::string root_only = out() + "/root-only";
  fs::create_directories(root_only);
  ASSERT_EQ(chmod(root_only.c_str(), 0700), 0);

  auto job = client_->CreateJob("root's job");  // the test runs as root
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFile(server_->Url("/legit.bin"), root_only + "/legit.bin"));
  const std::string id = job->id().ToString();

  // Bob is an administrator: he sees root's job...
  ASSERT_EQ(StateAs(kBob, id), "SUSPENDED\n");
  // ...but may not add a destination (it would be written as root)...
  ExpectDenied(
      harness::Run(Bitsadmin({"/addfile", id, server_->Url("/evil.bin"), root_only + "/planted"}),
                   kBob),
      "/addfile");
  // ...nor change what root's file will hold.
  ExpectDenied(harness::Run(Bitsadmin({"/replaceremoteprefix", id, server_->Url("/legit"),
                                       server_->Url("/evil")}),
                            kBob),
               "/replaceremoteprefix");

  // Managing the job stays his right: he resumes and completes it.
  ASSERT_EQ(harness::Run(Bitsadmin({"/resume", id}), kBob).exit_code, 0);
  ASSERT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}), JobState::kTransferred);
  const auto completed = harness::Run(Bitsadmin({"/complete", id}), kBob);
  ASSERT_EQ(completed.exit_code, 0) << completed.err;

  EXPECT_FALSE(fs::exists(root_only + "/planted"));
  EXPECT_EQ(harness::Sha256OfFile(root_only + "/legit.bin"),
            harness::Sha256OfFile(www() + "/legit.bin"));
}

// A server on another port that asks for Basic credentials and records every header it is
// sent: the origin an administrator would like the user's secrets to go to.
class RecordingServer {
 public:
  RecordingServer(const harness::TempDir& dir, const std::string& name)
      : log_(dir / (name + ".headers")), port_(harness::UnusedPort()) {
    const std::string script = dir / (name + ".py");
    harness::WriteFile(script, R"(import http.server, sys
log = open(sys.argv[2], "a")
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def do_GET(self):
        log.write("".join("%s: %s\n" % (k, v) for k, v in self.headers.items()) + "\n")
        log.flush()
        if "Authorization" not in self.headers:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="loot"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"looted"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
)");
    process_ = harness::Process::Start({"/usr/bin/python3", script, std::to_string(port_), log_},
                                       dir / (name + ".log"));
    if (!harness::WaitUntil([&] { return harness::IsListening(port_); })) {
      throw std::runtime_error("the recording server did not start");
    }
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string HostPort() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string Received() const { return fs::exists(log_) ? harness::ReadFile(log_) : ""; }

 private:
  std::string log_;
  int port_;
  harness::Process process_;
};

// Secrets bound to a job go only to the origin its owner chose.
TEST_F(AdminRightsTest, AnAdministratorCannotRedirectAUsersSecretsToAnotherOrigin) {
  harness::WriteRandomFile(www() + "/secret.bin", 16 * 1024, 32);
  RecordingServer loot(dir_, "loot");
  const std::string id = CreateAs(kAlice, "alice's secrets");
  ASSERT_EQ(harness::Run(Bitsadmin({"/addfile", id, server_->Url("/secret.bin"),
                                    alice_dir_ + "/secret.bin"}),
                         kAlice)
                .exit_code,
            0);
  ASSERT_EQ(
      harness::Run(Bitsadmin({"/setcredentials", id, "SERVER", "BASIC", "alice", "alice-password"}),
                   kAlice)
          .exit_code,
      0);
  ASSERT_EQ(harness::Run(Bitsadmin({"/setcustomheaders", id, "X-Api-Key: alice-api-key"}), kAlice)
                .exit_code,
            0);
  ASSERT_EQ(harness::Run(Bitsadmin({"/makecustomheaderswriteonly", id}), kAlice).exit_code, 0);

  // Every way to move the job's requests elsewhere is refused to the administrator.
  const std::string origin = server_->Url("/");
  ExpectDenied(harness::Run(Bitsadmin({"/replaceremoteprefix", id, origin, loot.Url("/")}), kBob),
               "/replaceremoteprefix");
  ExpectDenied(
      harness::Run(Bitsadmin({"/setproxysettings", id, "OVERRIDE", loot.HostPort(), "NULL"}), kBob),
      "/setproxysettings");
  // Nor through the proxy settings of her account (PRECONFIG jobs use them).
  ExpectDenied(harness::Run(Bitsadmin({"/util", "/setieproxy", "openbits-alice", "MANUAL_PROXY",
                                       loot.HostPort(), "<local>"}),
                            kBob),
               "/util /setieproxy");
  // Taking proxies away is allowed: the jobs then go straight to the origins their owners chose.
  const auto reset =
      harness::Run(Bitsadmin({"/util", "/setieproxy", "openbits-alice", "RESET"}), kBob);
  EXPECT_EQ(reset.exit_code, 0) << reset.err;
  // bitsadmin has no /setremotename: root (an administrator too, and not the owner) tries it
  // through the client library.
  auto as_root = client_->GetJob(*Guid::Parse(id));
  ASSERT_TRUE(as_root);
  const Status renamed = as_root->SetRemoteName(0, loot.Url("/secret.bin"));
  ASSERT_FALSE(renamed);
  EXPECT_EQ(renamed.error().code(), hr::E_ACCESSDENIED) << renamed.error().ToString();

  // The administrator may still run the job: it goes where Alice said.
  ASSERT_EQ(harness::Run(Bitsadmin({"/resume", id}), kBob).exit_code, 0);
  ASSERT_TRUE(harness::WaitUntil([&] {
    const std::string state = StateAs(kAlice, id);
    return state == "TRANSFERRED\n" || state == "ERROR\n" || state == "TRANSIENT_ERROR\n";
  }));
  EXPECT_EQ(StateAs(kAlice, id), "TRANSFERRED\n");
  const std::string received = loot.Received();
  EXPECT_EQ(received.find("Authorization"), std::string::npos) << received;
  EXPECT_EQ(received.find("alice-api-key"), std::string::npos) << received;
  EXPECT_EQ(received, "") << "the other origin was contacted at all";
}

// BITS's TakeOwnership with a notification command line whose retry is pending: the command
// was Alice's; after the takeover it must never run again as Alice (nor run freed memory).
TEST_F(AdminRightsTest, APendingNotificationRetryNeverRunsAsTheOldOwnerAfterATakeover) {
  harness::WriteFile(www() + "/small.txt", "small");
  const std::string log = out() + "/notified.log";
  harness::WriteFile(log, "");
  ASSERT_EQ(chmod(log.c_str(), 0666), 0);
  // Always fails, so BITS would retry it after the minimum retry delay (5 s).
  const std::string script = "id -u >> " + log + "; exit 3";
  const std::string taken = CreateAs(kAlice, "taken");
  ASSERT_EQ(
      harness::Run(Bitsadmin({"/addfile", taken, server_->Url("/small.txt"), out() + "/taken.txt"}),
                   kAlice)
          .exit_code,
      1);  // out() is root's: Alice may not write there
  const std::string shared = out() + "/shared";
  fs::create_directories(shared);
  fs::permissions(shared, fs::perms::all);
  ASSERT_EQ(
      harness::Run(
          Bitsadmin({"/addfile", taken, server_->Url("/small.txt"), shared + "/taken.txt"}), kAlice)
          .exit_code,
      0);
  ASSERT_EQ(harness::Run(Bitsadmin({"/setminretrydelay", taken, "5"}), kAlice).exit_code, 0);
  ASSERT_EQ(
      harness::Run(Bitsadmin({"/setnotifycmdline", taken, "/bin/sh", "sh -c \"" + script + "\""}),
                   kAlice)
          .exit_code,
      0);
  ASSERT_EQ(harness::Run(Bitsadmin({"/resume", taken}), kAlice).exit_code, 0);
  const std::string alice_line = std::to_string(kAlice.uid) + "\n";
  ASSERT_TRUE(harness::WaitUntil([&] { return harness::ReadFile(log) == alice_line; }));
  ASSERT_TRUE(harness::WaitUntil([&] {
    return bitsd_->Log().find("Notification command of job=" + taken) != std::string::npos;
  }));  // failed: a retry is pending

  const auto takeover = harness::Run(Bitsadmin({"/takeownership", taken}), kBob);
  ASSERT_EQ(takeover.exit_code, 0) << takeover.err;

  // A barrier: another of Alice's jobs whose command fails once and then succeeds, its retry
  // due after the taken job's would have been. Once it has succeeded, the taken job's retry
  // time has passed too.
  const std::string barrier = CreateAs(kAlice, "barrier");
  ASSERT_EQ(harness::Run(Bitsadmin({"/addfile", barrier, server_->Url("/small.txt"),
                                    alice_dir_ + "/barrier.txt"}),
                         kAlice)
                .exit_code,
            0);
  ASSERT_EQ(harness::Run(Bitsadmin({"/setminretrydelay", barrier, "5"}), kAlice).exit_code, 0);
  const std::string mark = alice_dir_ + "/barrier-first";
  const std::string done = alice_dir_ + "/barrier-done";
  ASSERT_EQ(harness::Run(Bitsadmin({"/setnotifycmdline", barrier, "/bin/sh",
                                    "sh -c \"if test -e " + mark + "; then touch " + done +
                                        "; else touch " + mark + "; exit 3; fi\""}),
                         kAlice)
                .exit_code,
            0);
  ASSERT_EQ(harness::Run(Bitsadmin({"/resume", barrier}), kAlice).exit_code, 0);
  ASSERT_TRUE(harness::WaitUntil([&] { return fs::exists(done); }, 30s)) << bitsd_->Log();

  // The taken job's command ran once, as Alice, before the takeover; never since.
  EXPECT_EQ(harness::ReadFile(log), alice_line);
  const std::string daemon_log = bitsd_->Log();
  const std::string run = "Running notification command job=" + taken;
  int runs = 0;
  for (auto at = daemon_log.find(run); at != std::string::npos; at = daemon_log.find(run, at + 1)) {
    ++runs;
  }
  EXPECT_EQ(runs, 1) << daemon_log;
}

// LOCAL_MACHINE keys belong to the machine: only administrators bind them to a job.
TEST_F(AdminRightsTest, OnlyAdministratorsBindALocalMachineCertificate) {
  const std::string id = CreateAs(kAlice, "mtls");
  ExpectDenied(
      harness::Run(Bitsadmin({"/setclientcertificatebyname", id, "LOCAL_MACHINE", "MY", "machine"}),
                   kAlice),
      "LOCAL_MACHINE by its owner");
  // Her own store stays hers to use.
  EXPECT_EQ(
      harness::Run(Bitsadmin({"/setclientcertificatebyname", id, "CURRENT_USER", "MY", "alice"}),
                   kAlice)
          .exit_code,
      0);
  // An administrator binds machine keys to his own jobs.
  const std::string bobs = CreateAs(kBob, "bob's mtls");
  const auto bound = harness::Run(
      Bitsadmin({"/setclientcertificatebyname", bobs, "LOCAL_MACHINE", "MY", "machine"}), kBob);
  EXPECT_EQ(bound.exit_code, 0) << bound.err;
}

// `[tls] local_machine_cert_uids` lets listed users (not administrators) bind machine keys.
class LocalMachineCertUidsTest : public AdminRightsTest {
 protected:
  std::string Config() override {
    const passwd* alice = getpwnam("openbits-alice");
    return AdminRightsTest::Config() + "[tls]\nlocal_machine_cert_uids = 1 " +
           std::to_string(alice ? alice->pw_uid : 0) + "\n";
  }
};

TEST_F(LocalMachineCertUidsTest, AListedUidMayBindALocalMachineCertificate) {
  const std::string id = CreateAs(kAlice, "listed");
  const auto bound = harness::Run(
      Bitsadmin({"/setclientcertificatebyname", id, "LOCAL_MACHINE", "MY", "machine"}), kAlice);
  EXPECT_EQ(bound.exit_code, 0) << bound.err;
  EXPECT_EQ(harness::Run(Bitsadmin({"/getclientcertificate", id}), kAlice).out.substr(0, 13),
            "LOCAL_MACHINE");
}

}  // namespace
}  // namespace openbits::integration
