// Helper tokens (IBitsTokenOptions): the authenticated-proxy scenario of the BITS
// authentication documentation. A job owned by a system account (uid 1, "daemon": no Kerberos
// credentials of its own) reaches a server through squid demanding Negotiate with the identity
// alice lends it by a helper token. Real peers: an MIT KDC, squid with Negotiate, Apache with
// Negotiate; every client is bitsadmin run as its real uid. What is observed: who squid's and
// Apache's logs say authenticated, the job's state and error, the log and the database.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "harness/auth_peers.h"
#include "harness/proxy_peers.h"
#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

namespace fs = std::filesystem;

constexpr HRESULT kHttp407 = 0x80190197;        // BG_E_HTTP_ERROR_407
constexpr harness::RunAs kSystemAccount{1, 1};  // "daemon": a system account (uid < 1000)

class HelperTokenTest : public DaemonTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to run clients as other uids";
    // getpwnam's answer lives in a static buffer: copied before the next call.
    const passwd* alice = getpwnam("openbits-alice");
    ASSERT_NE(alice, nullptr) << "openbits-alice is missing (tests/run.sh makes it)";
    alice_ = {alice->pw_uid, alice->pw_gid};
    const passwd* bob = getpwnam("openbits-bob");
    ASSERT_NE(bob, nullptr) << "openbits-bob is missing (tests/run.sh makes it)";
    bob_ = {bob->pw_uid, bob->pw_gid};
    kdc_ = std::make_unique<harness::Kdc>(dir_);
    DaemonTest::SetUp();
    harness::WriteRandomFile(www() + "/file.bin", 200'000, 31);
    apache_ = std::make_unique<harness::AuthApache>(dir_, www(), *kdc_);
    squid_ = std::make_unique<harness::Squid>(dir_, "negotiate", "negotiate", kdc_.get());
    alice_cache_ = kdc_->Kinit("alice", "alice.ccache", alice_);
    bob_cache_ = kdc_->Kinit("bob", "bob.ccache", bob_);
    // The system account's destination directory.
    fs::create_directories(system_dir());
    ASSERT_EQ(chown(system_dir().c_str(), kSystemAccount.uid, kSystemAccount.gid), 0);
  }

  std::string system_dir() const { return out() + "/system"; }

  // bitsadmin as `who`, with KRB5CCNAME=`cache` (none when empty).
  harness::CommandResult As(harness::RunAs who, const std::string& cache,
                            std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/env", "-u", "KRB5CCNAME"};
    if (!cache.empty()) argv.push_back("KRB5CCNAME=" + cache);
    for (std::string& arg : Bitsadmin(std::move(args))) argv.push_back(std::move(arg));
    return harness::Run(argv, who);
  }
  // The served file of a job tagged `tag` (Apache logs paths without queries).
  std::string FileOf(const std::string& tag) const { return "/negotiate/" + tag + ".bin"; }
  harness::CommandResult AsSystem(std::vector<std::string> args) {
    return As(kSystemAccount, "", std::move(args));
  }
  // Alice mints a token of her identity (with her ticket cache).
  std::string AliceToken() {
    const auto minted = As(alice_, alice_cache_, {"/util", "/createhelpertoken"});
    EXPECT_EQ(minted.exit_code, 0) << minted.err;
    std::string token = minted.out;
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    EXPECT_EQ(token.size(), 64u) << token;
    return token;
  }

  // The system account's job `name` for /negotiate/file.bin with implicit Negotiate
  // credentials for the proxy and the server (SetCredentials(..., NULL, NULL)).
  Guid CreateSystemJob(const std::string& name, const std::string& tag) {
    fs::copy_file(www() + "/file.bin", www() + "/" + tag + ".bin",
                  fs::copy_options::overwrite_existing);
    const auto created = AsSystem({"/create", name});
    EXPECT_EQ(created.exit_code, 0) << created.err;
    const auto at = created.out.find('{');
    const auto id = Guid::Parse(created.out.substr(at, 38));
    EXPECT_TRUE(id) << created.out;
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"/addfile", name, apache_->Url(FileOf(tag)),
                                   system_dir() + "/" + name},
          {"/setcredentials", name, "PROXY", "NEGOTIATE", "NULL", "NULL"},
          {"/setcredentials", name, "SERVER", "NEGOTIATE", "NULL", "NULL"},
          {"/setminretrydelay", name, "60"}}) {
      const auto done = AsSystem(args);
      EXPECT_EQ(done.exit_code, 0) << args[0] << ": " << done.out << done.err;
    }
    return id.value_or(Guid());
  }

  // Resumes the job as the system account; waits for TRANSFERRED or ERROR (as root, an
  // administrator, who sees it).
  JobState ResumeAndWait(const std::string& name, const Guid& id) {
    const auto resumed = AsSystem({"/resume", name});
    EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
    Job job = client_->OpenJob(id);
    return WaitForState(job, {JobState::kTransferred, JobState::kError, JobState::kTransientError});
  }

  // Who Apache authenticated for the last successful request of the job tagged `tag`.
  std::string ServerUserOf(const std::string& tag) const {
    std::string user;
    for (const std::string& line : apache_->AccessLog()) {
      if (!line.ends_with(" " + FileOf(tag)) || !line.starts_with("2")) continue;
      std::istringstream fields(line);
      std::string status;
      fields >> status >> user;
    }
    return user;
  }
  // The proxy list alice's account settings name.
  void AliceUsesTheSquid() {
    const auto set =
        As(alice_, "",
           {"/util", "/setieproxy", "openbits-alice", "MANUAL_PROXY", squid_->Address(), "NULL"});
    ASSERT_EQ(set.exit_code, 0) << set.out << set.err;
  }

  harness::RunAs alice_{0, 0};
  harness::RunAs bob_{0, 0};
  std::string alice_cache_;
  std::string bob_cache_;
  std::unique_ptr<harness::Kdc> kdc_;
  std::unique_ptr<harness::AuthApache> apache_;
  std::unique_ptr<harness::Squid> squid_;
};

// Procedure 1 of the documentation ("simplified"): PRECONFIG plus a helper token with
// BG_TOKEN_NETWORK; the helper account's proxy settings name the authenticating proxy.
TEST_F(HelperTokenTest, SimplifiedProcedureReachesProxyAndServerAsTheHelper) {
  AliceUsesTheSquid();
  const Guid id = CreateSystemJob("simplified", "simplified");
  ASSERT_EQ(AsSystem({"/setproxysettings", "simplified", "PRECONFIG"}).exit_code, 0);
  const auto bound = AsSystem({"/sethelpertoken", "simplified", AliceToken()});
  ASSERT_EQ(bound.exit_code, 0) << bound.out << bound.err;
  ASSERT_EQ(AsSystem({"/sethelpertokenflags", "simplified", "NETWORK"}).exit_code, 0);
  const auto flags = AsSystem({"/gethelpertokenflags", "simplified"});
  EXPECT_EQ(flags.out, "BG_TOKEN_NETWORK\n");
  const auto sid = AsSystem({"/gethelpertokensid", "simplified"});
  EXPECT_EQ(sid.out, "uid:" + std::to_string(alice_.uid) + " (openbits-alice)\n");

  ASSERT_EQ(ResumeAndWait("simplified", id), JobState::kTransferred)
      << client_->OpenJob(id).GetError()->description;
  EXPECT_TRUE(harness::WaitUntil([&] {
    return squid_->UserOf("simplified") == "alice@TEST.LOCAL";
  })) << squid_->UserOf("simplified");
  EXPECT_EQ(ServerUserOf("simplified"), "alice@TEST.LOCAL");
  ASSERT_EQ(AsSystem({"/complete", "simplified"}).exit_code, 0);
  EXPECT_EQ(harness::Sha256OfFile(system_dir() + "/simplified"),
            harness::Sha256OfFile(www() + "/file.bin"));
}

// Procedure 2 ("workaround"): the helper account's settings are read and set on the job with
// OVERRIDE; the helper token (NETWORK) supplies the credentials.
TEST_F(HelperTokenTest, WorkaroundProcedureWithOverrideReachesProxyAndServerAsTheHelper) {
  AliceUsesTheSquid();
  auto settings = client_->GetAccountProxy(alice_.uid);  // an administrator reads them
  ASSERT_TRUE(settings && *settings);
  const Guid id = CreateSystemJob("workaround", "workaround");
  ASSERT_EQ(AsSystem({"/setproxysettings", "workaround", "OVERRIDE", (*settings)->list, "NULL"})
                .exit_code,
            0);
  ASSERT_EQ(AsSystem({"/sethelpertoken", "workaround", AliceToken()}).exit_code, 0);
  ASSERT_EQ(AsSystem({"/sethelpertokenflags", "workaround", "NETWORK"}).exit_code, 0);
  ASSERT_EQ(ResumeAndWait("workaround", id), JobState::kTransferred)
      << client_->OpenJob(id).GetError()->description;
  EXPECT_TRUE(
      harness::WaitUntil([&] { return squid_->UserOf("workaround") == "alice@TEST.LOCAL"; }));
  EXPECT_EQ(ServerUserOf("workaround"), "alice@TEST.LOCAL");
}

// Without a helper token (or with the token but flags 0) the system account has no network
// credentials of its own: squid answers 407 and the job fails.
TEST_F(HelperTokenTest, WithoutTheNetworkFlagTheSystemAccountGets407) {
  const Guid bare = CreateSystemJob("bare", "bare");
  ASSERT_EQ(
      AsSystem({"/setproxysettings", "bare", "OVERRIDE", squid_->Address(), "NULL"}).exit_code, 0);
  ASSERT_EQ(ResumeAndWait("bare", bare), JobState::kError);
  auto error = client_->OpenJob(bare).GetError();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, kHttp407) << error->description;

  const Guid unflagged = CreateSystemJob("unflagged", "unflagged");
  ASSERT_EQ(
      AsSystem({"/setproxysettings", "unflagged", "OVERRIDE", squid_->Address(), "NULL"}).exit_code,
      0);
  ASSERT_EQ(AsSystem({"/sethelpertoken", "unflagged", AliceToken()}).exit_code, 0);
  ASSERT_EQ(AsSystem({"/sethelpertokenflags", "unflagged", "NETWORK"}).exit_code, 0);
  ASSERT_EQ(AsSystem({"/sethelpertokenflags", "unflagged", "NONE"}).exit_code, 0);  // the owner
  ASSERT_EQ(ResumeAndWait("unflagged", unflagged), JobState::kError);
  error = client_->OpenJob(unflagged).GetError();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, kHttp407) << error->description;
  EXPECT_EQ(squid_->UserOf("unflagged"), "");
}

// A token is bound once, by whoever holds it; forged, used and administrators' tokens are
// refused; the token never reaches the log or the database.
TEST_F(HelperTokenTest, UsedForgedAndAdministratorTokensAreRefusedAndNoTokenIsKept) {
  CreateSystemJob("refusals", "refusals");
  // Bob's token, bound by its holder: the system account gets bob's identity only with it.
  const auto minted = As(bob_, bob_cache_, {"/util", "/createhelpertoken"});
  ASSERT_EQ(minted.exit_code, 0) << minted.err;
  const std::string bobs = minted.out.substr(0, 64);
  std::string forged = bobs;
  forged[10] = forged[10] == 'a' ? 'b' : 'a';
  auto refused = AsSystem({"/sethelpertoken", "refusals", forged});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE((refused.out + refused.err).find("not valid"), std::string::npos)
      << refused.out << refused.err;
  EXPECT_EQ(AsSystem({"/gethelpertokensid", "refusals"}).out, "(none)\n");
  ASSERT_EQ(AsSystem({"/sethelpertoken", "refusals", bobs}).exit_code, 0);
  EXPECT_EQ(AsSystem({"/gethelpertokensid", "refusals"}).out,
            "uid:" + std::to_string(bob_.uid) + " (openbits-bob)\n");
  // Used: refused on another job, even by its owner.
  const Guid again = CreateSystemJob("again", "again");
  refused = AsSystem({"/sethelpertoken", "again", bobs});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE((refused.out + refused.err).find("not valid"), std::string::npos);
  // Alice cannot bind a token to the system account's job: she does not see it.
  const std::string alices = AliceToken();
  refused = As(alice_, "", {"/sethelpertoken", again.ToString(), alices});
  EXPECT_NE(refused.exit_code, 0);
  // An administrator's (root's) token: not for a non-administrator's binding.
  // Root's default cache (the test process's KRB5CCNAME need not exist).
  auto roots = client_->CreateHelperTokenFor(0, "");
  ASSERT_TRUE(roots);
  refused = AsSystem({"/sethelpertoken", "again", std::string(roots->reveal())});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE((refused.out + refused.err).find("administrator"), std::string::npos)
      << refused.out << refused.err;
  // ClearHelperToken.
  ASSERT_EQ(AsSystem({"/clearhelpertoken", "refusals"}).exit_code, 0);
  EXPECT_EQ(AsSystem({"/gethelpertokensid", "refusals"}).out, "(none)\n");

  ASSERT_EQ(bitsd_->Stop(), 0);
  for (const std::string& token : {bobs, alices, std::string(roots->reveal())}) {
    EXPECT_EQ(bitsd_->Log().find(token), std::string::npos);
    for (const auto& entry : fs::directory_iterator(bitsd_->state_dir())) {
      if (!entry.is_regular_file()) continue;
      EXPECT_EQ(harness::ReadFile(entry.path()).find(token), std::string::npos) << entry.path();
    }
  }
  bitsd_->Start();
}

// BG_TOKEN_LOCAL_FILE: the job's files are created, written and renamed as the helper, so the
// system account's job delivers into alice's private directory a file that alice owns.
// Without the flag the system account cannot write there.
TEST_F(HelperTokenTest, WithLocalFileTheFilesAreTheHelpersAndWithoutItTheOwnerCannotWrite) {
  const std::string alices_dir = out() + "/alice";
  fs::create_directories(alices_dir);
  ASSERT_EQ(chown(alices_dir.c_str(), alice_.uid, alice_.gid), 0);
  fs::permissions(alices_dir, fs::perms::owner_all);
  const std::string url = server_->Url("/file.bin");
  ASSERT_EQ(AsSystem({"/create", "nofile"}).exit_code, 0);
  const auto refused = AsSystem({"/addfile", "nofile", url, alices_dir + "/nofile"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE((refused.out + refused.err).find("E_ACCESSDENIED"), std::string::npos)
      << refused.out << refused.err;

  const auto created = AsSystem({"/create", "localfile"});
  ASSERT_EQ(created.exit_code, 0);
  const auto id = Guid::Parse(created.out.substr(created.out.find('{'), 38));
  ASSERT_TRUE(id);
  ASSERT_EQ(AsSystem({"/sethelpertoken", "localfile", AliceToken()}).exit_code, 0);
  ASSERT_EQ(AsSystem({"/sethelpertokenflags", "localfile", "LOCAL_FILE"}).exit_code, 0);
  const auto added = AsSystem({"/addfile", "localfile", url, alices_dir + "/localfile"});
  ASSERT_EQ(added.exit_code, 0) << added.out << added.err;
  ASSERT_EQ(ResumeAndWait("localfile", *id), JobState::kTransferred)
      << client_->OpenJob(*id).GetError()->description;
  ASSERT_EQ(AsSystem({"/complete", "localfile"}).exit_code, 0);
  struct stat delivered {};
  ASSERT_EQ(stat((alices_dir + "/localfile").c_str(), &delivered), 0);
  EXPECT_EQ(delivered.st_uid, alice_.uid);
  EXPECT_EQ(harness::Sha256OfFile(alices_dir + "/localfile"),
            harness::Sha256OfFile(www() + "/file.bin"));

  // Flags 0 revert to the owner: the same job shape now fails on the local file.
  const auto second = AsSystem({"/create", "reverted"});
  const auto reverted = Guid::Parse(second.out.substr(second.out.find('{'), 38));
  ASSERT_TRUE(reverted);
  ASSERT_EQ(AsSystem({"/sethelpertoken", "reverted", AliceToken()}).exit_code, 0);
  ASSERT_EQ(AsSystem({"/sethelpertokenflags", "reverted", "LOCAL_FILE"}).exit_code, 0);
  ASSERT_EQ(AsSystem({"/addfile", "reverted", url, alices_dir + "/reverted"}).exit_code, 0);
  ASSERT_EQ(AsSystem({"/sethelpertokenflags", "reverted", "NONE"}).exit_code, 0);
  ASSERT_EQ(ResumeAndWait("reverted", *reverted), JobState::kError);
  const auto error = client_->OpenJob(*reverted).GetError();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, hr::E_ACCESSDENIED) << error->description;
  EXPECT_EQ(error->context, ErrorContext::kLocalFile);
  EXPECT_FALSE(fs::exists(alices_dir + "/reverted"));
}

// "Minting records the caller's KRB5CCNAME (accepted only if that cache belongs to the
// caller)": alice naming bob's cache is refused at minting, with the same answer as a missing
// file (no probing of others' paths), and no token exists to bind; her own cache is accepted.
TEST_F(HelperTokenTest, MintingWithAnotherUsersCacheIsRefusedLikeAMissingFile) {
  const auto with_bobs = As(alice_, bob_cache_, {"/util", "/createhelpertoken"});
  ASSERT_NE(with_bobs.exit_code, 0) << with_bobs.out;
  const std::string missing_cache = "FILE:" + out() + "/no-such.ccache";
  const auto with_missing = As(alice_, missing_cache, {"/util", "/createhelpertoken"});
  ASSERT_NE(with_missing.exit_code, 0) << with_missing.out;
  const std::string refusal = "is not a Kerberos credential cache that uid " +
                              std::to_string(alice_.uid) + " owns and may read";
  EXPECT_NE(
      with_bobs.err.find("cannot create a helper token with the credential cache '" + bob_cache_ +
                         "': the credential cache '" + bob_cache_ + "' " + refusal),
      std::string::npos)
      << with_bobs.err;
  EXPECT_NE(with_bobs.err.find("0x80070005"), std::string::npos) << with_bobs.err;  // ACCESSDENIED
  // The same text, but for the name alice gave.
  const auto unnamed = [](std::string text, const std::string& name) {
    for (auto at = text.find(name); at != std::string::npos; at = text.find(name, at)) {
      text.replace(at, name.size(), "CACHE");
    }
    return text;
  };
  const std::string bobs_text = unnamed(with_bobs.err, bob_cache_);
  const std::string missing_text = unnamed(with_missing.err, missing_cache);
  EXPECT_EQ(bobs_text, missing_text);
  EXPECT_EQ(with_bobs.out, "");  // no token

  // Her own cache, and her default one (no KRB5CCNAME), are accepted.
  EXPECT_EQ(AliceToken().size(), 64u);
  const auto with_default = As(alice_, "", {"/util", "/createhelpertoken"});
  EXPECT_EQ(with_default.exit_code, 0) << with_default.err;
}

// The helper identity disappears (the user is deleted) before the job runs: ERROR with
// BG_E_TOKEN_REQUIRED, saying which uid is gone.
TEST_F(HelperTokenTest, AHelperUserDeletedBeforeTheTransferFailsTheJobWithTokenRequired) {
  const std::string name = "openbits-gone";
  harness::Run({"/usr/sbin/userdel", name});  // left over from an interrupted run
  ASSERT_EQ(
      harness::Run({"/usr/sbin/useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name})
          .exit_code,
      0);
  struct Remove {
    std::string name;
    ~Remove() { harness::Run({"/usr/sbin/userdel", name}); }
  } remove{name};
  const passwd* entry = getpwnam(name.c_str());
  ASSERT_NE(entry, nullptr);
  const harness::RunAs gone{entry->pw_uid, entry->pw_gid};
  const auto minted = As(gone, "", {"/util", "/createhelpertoken"});
  ASSERT_EQ(minted.exit_code, 0) << minted.err;
  const Guid id = CreateSystemJob("orphaned", "orphaned");
  ASSERT_EQ(AsSystem({"/sethelpertoken", "orphaned", minted.out.substr(0, 64)}).exit_code, 0);
  ASSERT_EQ(AsSystem({"/sethelpertokenflags", "orphaned", "NETWORK"}).exit_code, 0);
  ASSERT_EQ(harness::Run({"/usr/sbin/userdel", name}).exit_code, 0);
  ASSERT_EQ(ResumeAndWait("orphaned", id), JobState::kError);
  const auto error = client_->OpenJob(id).GetError();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, hr::BG_E_TOKEN_REQUIRED) << error->description;
  EXPECT_NE(error->description.find("uid " + std::to_string(gone.uid) + ") no longer exists"),
            std::string::npos)
      << error->description;
}

// "An administrator may mint [a token] for any user": root mints one lending alice's identity
// and her ticket cache; the system account binds it (alice is no administrator, so a
// non-administrator may) and squid sees alice. Bob may not mint one of alice's.
TEST_F(HelperTokenTest, AnAdministratorMintsATokenForAnotherUserAndOthersMayNot) {
  const auto refused =
      As(bob_, bob_cache_, {"/util", "/createhelpertoken", "/user", "openbits-alice"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE((refused.out + refused.err).find("E_ACCESSDENIED"), std::string::npos)
      << refused.out << refused.err;
  EXPECT_NE((refused.out + refused.err).find("only an administrator"), std::string::npos)
      << refused.out << refused.err;
  const auto unknown = harness::Run(Bitsadmin({"/util", "/createhelpertoken", "/user", "4000123"}));
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE((unknown.out + unknown.err).find("no user has uid 4000123"), std::string::npos)
      << unknown.out << unknown.err;

  const Guid id = CreateSystemJob("minted", "minted");
  ASSERT_EQ(
      AsSystem({"/setproxysettings", "minted", "OVERRIDE", squid_->Address(), "NULL"}).exit_code,
      0);
  const auto minted = harness::Run(
      Bitsadmin({"/util", "/createhelpertoken", "/user", "openbits-alice", alice_cache_}));
  ASSERT_EQ(minted.exit_code, 0) << minted.err;
  ASSERT_EQ(minted.out.size(), 65u) << minted.out;
  const auto bound = AsSystem({"/sethelpertoken", "minted", minted.out.substr(0, 64)});
  ASSERT_EQ(bound.exit_code, 0) << bound.out << bound.err;
  EXPECT_EQ(AsSystem({"/gethelpertokensid", "minted"}).out,
            "uid:" + std::to_string(alice_.uid) + " (openbits-alice)\n");
  ASSERT_EQ(AsSystem({"/sethelpertokenflags", "minted", "NETWORK"}).exit_code, 0);
  ASSERT_EQ(ResumeAndWait("minted", id), JobState::kTransferred)
      << client_->OpenJob(id).GetError()->description;
  EXPECT_TRUE(harness::WaitUntil([&] { return squid_->UserOf("minted") == "alice@TEST.LOCAL"; }))
      << squid_->UserOf("minted");
  EXPECT_EQ(ServerUserOf("minted"), "alice@TEST.LOCAL");
}

// A throwaway user that lends its identity and is deleted during the test (userdel).
struct DisposableUser {
  explicit DisposableUser(std::string user) : name(std::move(user)) {
    harness::Run({"/usr/sbin/userdel", name});  // left over from an interrupted run
    EXPECT_EQ(harness::Run(
                  {"/usr/sbin/useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name})
                  .exit_code,
              0);
    if (const passwd* entry = getpwnam(name.c_str())) as = {entry->pw_uid, entry->pw_gid};
  }
  ~DisposableUser() { harness::Run({"/usr/sbin/userdel", name}); }
  std::string name;
  harness::RunAs as{0, 0};
};

// The helper user is deleted while a file is transferring with its identity: the job notices
// at the next checkpoint, not only when the next file starts, and fails with
// BG_E_TOKEN_REQUIRED naming the uid, before the file is complete.
TEST_F(HelperTokenTest, AHelperUserDeletedMidFileFailsTheJobAtTheNextCheckpoint) {
  DisposableUser gone("openbits-gone2");
  ASSERT_NE(gone.as.uid, 0u);
  const auto minted = As(gone.as, "", {"/util", "/createhelpertoken"});
  ASSERT_EQ(minted.exit_code, 0) << minted.err;
  const auto created = AsSystem({"/create", "midfile"});
  const auto id = Guid::Parse(created.out.substr(created.out.find('{'), 38));
  ASSERT_TRUE(id) << created.out;
  // 200,000 bytes at 40,000 bytes/s: about five seconds, checkpoints every 100 ms.
  ASSERT_EQ(AsSystem({"/addfile", "midfile", server_->Url("/file.bin?rate=40000"),
                      system_dir() + "/midfile"})
                .exit_code,
            0);
  ASSERT_EQ(AsSystem({"/sethelpertoken", "midfile", minted.out.substr(0, 64)}).exit_code, 0);
  ASSERT_EQ(AsSystem({"/sethelpertokenflags", "midfile", "NETWORK"}).exit_code, 0);
  ASSERT_EQ(AsSystem({"/resume", "midfile"}).exit_code, 0);
  Job job = client_->OpenJob(*id);
  ASSERT_TRUE(harness::WaitUntil([&] {
    auto progress = job.GetProgress();
    return progress && progress->bytes_transferred > 0;
  }));
  ASSERT_EQ(harness::Run({"/usr/sbin/userdel", gone.name}).exit_code, 0);
  ASSERT_EQ(WaitForState(job, {JobState::kTransferred, JobState::kError}), JobState::kError);
  const auto error = job.GetError();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, hr::BG_E_TOKEN_REQUIRED) << error->description;
  EXPECT_NE(error->description.find("uid " + std::to_string(gone.as.uid) + ") no longer exists"),
            std::string::npos)
      << error->description;
  const auto progress = job.GetProgress();
  ASSERT_TRUE(progress);
  EXPECT_LT(progress->bytes_transferred, 200'000u);
}

// ClearHelperToken while a LOCAL_FILE transfer writes as the helper: the job fails with
// BG_E_TOKEN_REQUIRED, and the temp file the helper created is given to the job's owner, so
// that the owner can resume (where it may write the directory) instead of being locked out
// of a file of the helper's. Here the directory is sticky and writable by all, like /tmp.
TEST_F(HelperTokenTest, ClearingALocalFileTokenMidFileGivesTheTempFileToTheOwner) {
  const std::string shared = out() + "/shared";
  fs::create_directories(shared);
  ASSERT_EQ(chown(shared.c_str(), alice_.uid, alice_.gid), 0);
  ASSERT_EQ(chmod(shared.c_str(), 01777), 0);
  const auto created = AsSystem({"/create", "cleared"});
  const auto id = Guid::Parse(created.out.substr(created.out.find('{'), 38));
  ASSERT_TRUE(id) << created.out;
  ASSERT_EQ(AsSystem({"/sethelpertoken", "cleared", AliceToken()}).exit_code, 0);
  ASSERT_EQ(AsSystem({"/sethelpertokenflags", "cleared", "LOCAL_FILE"}).exit_code, 0);
  ASSERT_EQ(
      AsSystem({"/addfile", "cleared", server_->Url("/file.bin?rate=100000"), shared + "/cleared"})
          .exit_code,
      0);
  ASSERT_EQ(AsSystem({"/setminretrydelay", "cleared", "60"}).exit_code, 0);
  ASSERT_EQ(AsSystem({"/resume", "cleared"}).exit_code, 0);
  Job job = client_->OpenJob(*id);
  ASSERT_TRUE(harness::WaitUntil([&] {
    auto progress = job.GetProgress();
    return progress && progress->bytes_transferred > 0;
  }));
  ASSERT_EQ(AsSystem({"/clearhelpertoken", "cleared"}).exit_code, 0);
  ASSERT_EQ(WaitForState(job, {JobState::kTransferred, JobState::kError}), JobState::kError);
  const auto error = job.GetError();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, hr::BG_E_TOKEN_REQUIRED) << error->description;
  EXPECT_NE(error->description.find("cleared"), std::string::npos) << error->description;
  // The temp file (the only other entry of the directory) is now the owner's.
  std::vector<fs::path> temps;
  for (const auto& entry : fs::directory_iterator(shared)) temps.push_back(entry.path());
  ASSERT_EQ(temps.size(), 1u);
  struct stat temp {};
  ASSERT_EQ(stat(temps[0].c_str(), &temp), 0);
  EXPECT_EQ(temp.st_uid, kSystemAccount.uid) << temps[0];
  // The owner resumes as itself and completes the file.
  ASSERT_EQ(AsSystem({"/resume", "cleared"}).exit_code, 0);
  ASSERT_EQ(WaitForState(job, {JobState::kTransferred, JobState::kError}), JobState::kTransferred)
      << job.GetError()->description;
  ASSERT_EQ(AsSystem({"/complete", "cleared"}).exit_code, 0);
  struct stat delivered {};
  ASSERT_EQ(stat((shared + "/cleared").c_str(), &delivered), 0);
  EXPECT_EQ(delivered.st_uid, kSystemAccount.uid);
  EXPECT_EQ(harness::Sha256OfFile(shared + "/cleared"), harness::Sha256OfFile(www() + "/file.bin"));
}

// The binding persists with the job (encrypted): a restart between SetHelperToken and the
// transfer changes nothing.
TEST_F(HelperTokenTest, TheBindingSurvivesARestart) {
  AliceUsesTheSquid();
  const Guid id = CreateSystemJob("restart", "restart");
  ASSERT_EQ(AsSystem({"/setproxysettings", "restart", "PRECONFIG"}).exit_code, 0);
  // The token through standard input ("-"), never on a command line.
  const std::string token_file = system_dir() + "/token";
  harness::WriteFile(token_file, AliceToken() + "\n");
  ASSERT_EQ(chown(token_file.c_str(), kSystemAccount.uid, kSystemAccount.gid), 0);
  std::string command = "exec";
  for (const std::string& arg : Bitsadmin({"/sethelpertoken", "restart", "-"})) {
    command += " '" + arg + "'";
  }
  const auto bound =
      harness::Run({"/bin/sh", "-c", command + " < '" + token_file + "'"}, kSystemAccount);
  ASSERT_EQ(bound.exit_code, 0) << bound.out << bound.err;
  ASSERT_EQ(AsSystem({"/sethelpertokenflags", "restart", "NETWORK"}).exit_code, 0);
  ASSERT_EQ(bitsd_->Stop(), 0);
  bitsd_->Start();
  client_ = Connect();
  EXPECT_EQ(AsSystem({"/gethelpertokensid", "restart"}).out,
            "uid:" + std::to_string(alice_.uid) + " (openbits-alice)\n");
  EXPECT_EQ(AsSystem({"/gethelpertokenflags", "restart"}).out, "BG_TOKEN_NETWORK\n");
  ASSERT_EQ(ResumeAndWait("restart", id), JobState::kTransferred)
      << client_->OpenJob(id).GetError()->description;
  EXPECT_TRUE(harness::WaitUntil([&] { return squid_->UserOf("restart") == "alice@TEST.LOCAL"; }));
  EXPECT_EQ(ServerUserOf("restart"), "alice@TEST.LOCAL");
}

}  // namespace
}  // namespace openbits::integration
