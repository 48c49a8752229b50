// JobManager and helper tokens: binding, who may bind, which identity a transfer gets, and
// BG_E_TOKEN_REQUIRED when the helper identity goes away.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/job_manager.h"
#include "core/system_clock.h"
#include "fakes/fake_ports.h"
#include "fakes/wait.h"
#include "store/secret_box.h"

namespace openbits::core {
namespace {

using namespace std::chrono_literals;

using fakes::WaitUntil;

class JobHelperTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.helper_token_digest = store::Sha256;
    options_.user_exists = [this](std::uint32_t uid) { return !deleted_.contains(uid); };
    // The caches each uid owns, as the daemon's checker would find them on disk.
    options_.credential_cache_check = [this](const FileOwner& owner, const std::string& name) {
      checked_.emplace_back(owner.uid, name);
      if (caches_.contains({owner.uid, name})) return Status(Ok());
      return Status(Error(hr::E_ACCESSDENIED, ErrorContext::kNone,
                          "the Kerberos credential cache '" + name + "' cannot be opened"));
    };
    manager_ = std::make_unique<JobManager>(options_, store_, transport_, files_, events_,
                                            commands_, clock_);
    ASSERT_TRUE(manager_->Start());
  }
  void TearDown() override { manager_.reset(); }

  JobState StateOf(const Guid& id) {
    auto job = manager_->GetJob(daemon_, id);
    return job ? job->state : JobState::kCancelled;
  }
  // A job of the system account `daemon_` for a held (never ending) download.
  Guid HeldJob() {
    transport_.Serve("http://h/held", std::string(1000, 'x'));
    transport_.Hold("http://h/held");
    auto id = manager_->CreateJob(daemon_, "held", JobType::kDownload);
    EXPECT_TRUE(id);
    EXPECT_TRUE(manager_->AddFiles(daemon_, *id, {{"http://h/held", "/d/held"}}));
    return *id;
  }
  void BindAlice(const Guid& id, std::uint32_t flags) {
    auto token = manager_->CreateHelperToken(alice_, "FILE:/tmp/alice.cc");
    ASSERT_TRUE(token);
    ASSERT_TRUE(manager_->SetHelperToken(daemon_, id, *token));
    ASSERT_TRUE(manager_->SetHelperTokenFlags(daemon_, id, flags));
  }

  const Caller daemon_{1, 1, false};
  const Caller alice_{1000, 1000, false};
  const Caller bob_{1001, 1001, false};
  const Caller root_{0, 0, true};
  std::set<std::uint32_t> deleted_;
  std::set<std::pair<std::uint32_t, std::string>> caches_{{1000, "FILE:/tmp/alice.cc"},
                                                          {1001, "FILE:/tmp/bob.cc"}};
  std::vector<std::pair<std::uint32_t, std::string>> checked_;
  ManagerOptions options_;
  fakes::InMemoryJobStore store_;
  fakes::ScriptedTransport transport_;
  fakes::InMemoryFileSystem files_;
  fakes::RecordingEventSink events_;
  fakes::FakeCommandRunner commands_;
  SystemClock clock_;
  std::unique_ptr<JobManager> manager_;
};

TEST_F(JobHelperTokenTest, TheOwnerBindsATokenOnceAndTheBindingIsStored) {
  auto id = manager_->CreateJob(daemon_, "j", JobType::kDownload);
  ASSERT_TRUE(id);
  auto token = manager_->CreateHelperToken(alice_, "FILE:/tmp/alice.cc");
  ASSERT_TRUE(token);
  // Bob cannot see the job: the token is not used up by his attempt.
  EXPECT_EQ(manager_->SetHelperToken(bob_, *id, *token).error().code(), hr::BG_E_NOT_FOUND);
  ASSERT_TRUE(manager_->SetHelperToken(daemon_, *id, *token));
  EXPECT_EQ(manager_->SetHelperToken(daemon_, *id, *token).error().code(), hr::E_ACCESSDENIED);
  const HelperBinding stored = store_.Get(*id).helper;
  ASSERT_TRUE(stored.identity);
  EXPECT_EQ(stored.identity->uid, alice_.uid);
  EXPECT_EQ(stored.identity->credential_cache, "FILE:/tmp/alice.cc");
  EXPECT_EQ(manager_->SetHelperTokenFlags(daemon_, *id, 4).error().code(), hr::E_INVALIDARG);
  ASSERT_TRUE(manager_->ClearHelperToken(daemon_, *id));
  EXPECT_FALSE(store_.Get(*id).helper.identity);
}

// An administrator may mint a token lending any user's identity; the administrator bit is
// the lent user's, so the system account may bind root's token for alice. Nobody else may
// name another user, and a uid without a user is refused.
TEST_F(JobHelperTokenTest, OnlyAnAdministratorMintsATokenForAnotherUser) {
  const auto by_bob = manager_->CreateHelperTokenFor(bob_, alice_, "");
  ASSERT_FALSE(by_bob);
  EXPECT_EQ(by_bob.error().code(), hr::E_ACCESSDENIED);
  EXPECT_NE(by_bob.error().message().find("only an administrator"), std::string::npos);
  deleted_.insert(4242);
  const auto nobody = manager_->CreateHelperTokenFor(root_, Caller{4242, 4242, false}, "");
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.error().code(), hr::E_INVALIDARG);

  auto id = manager_->CreateJob(daemon_, "j", JobType::kDownload);
  ASSERT_TRUE(id);
  auto for_alice = manager_->CreateHelperTokenFor(root_, alice_, "FILE:/tmp/alice.cc");
  ASSERT_TRUE(for_alice);
  ASSERT_TRUE(manager_->SetHelperToken(daemon_, *id, *for_alice));
  const auto bound = store_.Get(*id).helper.identity;
  ASSERT_TRUE(bound);
  EXPECT_EQ(*bound, (HelperIdentity{alice_.uid, alice_.gid, false, "FILE:/tmp/alice.cc"}));
}

TEST_F(JobHelperTokenTest, MintingChecksTheCacheAsTheLentUser) {
  // Alice names bob's cache: refused at minting, with the checker's reason, and no token.
  const auto with_bobs = manager_->CreateHelperToken(alice_, "FILE:/tmp/bob.cc");
  ASSERT_FALSE(with_bobs);
  EXPECT_EQ(with_bobs.error().code(), hr::E_ACCESSDENIED);
  EXPECT_EQ(with_bobs.error().message(),
            "cannot create a helper token with the credential cache 'FILE:/tmp/bob.cc': the "
            "Kerberos credential cache 'FILE:/tmp/bob.cc' cannot be opened");
  // An administrator minting for alice: the cache is checked as alice, not as root.
  EXPECT_FALSE(manager_->CreateHelperTokenFor(root_, alice_, "FILE:/tmp/bob.cc"));
  ASSERT_TRUE(manager_->CreateHelperTokenFor(root_, alice_, "FILE:/tmp/alice.cc"));
  ASSERT_TRUE(manager_->CreateHelperToken(alice_, "FILE:/tmp/alice.cc"));
  // The default cache (empty KRB5CCNAME) is not a path to check.
  ASSERT_TRUE(manager_->CreateHelperToken(alice_, ""));
  EXPECT_EQ(checked_,
            (std::vector<std::pair<std::uint32_t, std::string>>{{1000, "FILE:/tmp/bob.cc"},
                                                                {1000, "FILE:/tmp/bob.cc"},
                                                                {1000, "FILE:/tmp/alice.cc"},
                                                                {1000, "FILE:/tmp/alice.cc"}}));
}

TEST_F(JobHelperTokenTest, AnAdministratorsTokenIsBoundOnlyByAnAdministrator) {
  auto id = manager_->CreateJob(daemon_, "j", JobType::kDownload);
  ASSERT_TRUE(id);
  auto roots = manager_->CreateHelperToken(root_, "");
  ASSERT_TRUE(roots);
  const Status refused = manager_->SetHelperToken(daemon_, *id, *roots);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), hr::E_ACCESSDENIED);
  EXPECT_FALSE(store_.Get(*id).helper.identity);
  auto again = manager_->CreateHelperToken(root_, "");
  ASSERT_TRUE(again);
  EXPECT_TRUE(manager_->SetHelperToken(root_, *id, *again));  // an administrator, on any job
}

TEST_F(JobHelperTokenTest, TakeOwnershipDropsTheBinding) {
  auto id = manager_->CreateJob(daemon_, "j", JobType::kDownload);
  ASSERT_TRUE(id);
  BindAlice(*id, kTokenNetwork);
  ASSERT_TRUE(manager_->TakeOwnership(root_, *id));
  EXPECT_EQ(store_.Get(*id).helper, HelperBinding{});
}

TEST_F(JobHelperTokenTest, AHelperWhoNoLongerExistsFailsTheJobWithTokenRequired) {
  const Guid id = HeldJob();
  BindAlice(id, kTokenNetwork);
  deleted_.insert(alice_.uid);
  ASSERT_TRUE(manager_->Resume(daemon_, id));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kError; }));
  const auto error = manager_->GetJob(daemon_, id)->error;
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, hr::BG_E_TOKEN_REQUIRED);
  EXPECT_NE(error->message.find("uid 1000"), std::string::npos) << error->message;
  EXPECT_NE(error->message.find("no longer exists"), std::string::npos) << error->message;
  EXPECT_EQ(transport_.Downloads("http://h/held"), 0);
}

TEST_F(JobHelperTokenTest, ClearingTheTokenOfATransferringJobFailsItWithTokenRequired) {
  const Guid id = HeldJob();
  BindAlice(id, kTokenNetwork);
  ASSERT_TRUE(manager_->Resume(daemon_, id));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kTransferring; }));
  ASSERT_TRUE(manager_->ClearHelperToken(daemon_, id));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kError; }));
  const auto error = manager_->GetJob(daemon_, id)->error;
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, hr::BG_E_TOKEN_REQUIRED);
  EXPECT_NE(error->message.find("cleared"), std::string::npos) << error->message;
}

TEST_F(JobHelperTokenTest, ClearingAnUnusedTokenLeavesATransferAlone) {
  const Guid id = HeldJob();
  BindAlice(id, 0);  // bound, but nothing uses it
  ASSERT_TRUE(manager_->Resume(daemon_, id));
  ASSERT_TRUE(WaitUntil([&] { return StateOf(id) == JobState::kTransferring; }));
  ASSERT_TRUE(manager_->ClearHelperToken(daemon_, id));
  EXPECT_EQ(StateOf(id), JobState::kTransferring);
  ASSERT_TRUE(manager_->Suspend(daemon_, id));
}

}  // namespace
}  // namespace openbits::core
