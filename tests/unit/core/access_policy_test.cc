// The access policy as a table: for each kind of caller and each action, the one answer.
#include "core/access_policy.h"

#include <gtest/gtest.h>

namespace openbits::core {
namespace {

constexpr HRESULT kOk = hr::S_OK;
constexpr HRESULT kNotFound = hr::BG_E_NOT_FOUND;
constexpr HRESULT kDenied = hr::E_ACCESSDENIED;

HRESULT Decide(const AccessRules& rules, const Caller& caller, const Job& job, JobAction action) {
  const Status status = Authorize(rules, caller, job, action);
  return status ? kOk : status.error().code();
}

struct Row {
  JobAction action;
  HRESULT owner;          // alice, on her own job
  HRESULT admin;          // bob in the admin group, on alice's job
  HRESULT root;           // uid 0, on alice's job
  HRESULT other;          // carol, on alice's job
  HRESULT admin_on_root;  // bob in the admin group, on root's job
};

TEST(AccessPolicyTest, EveryActionHasOneAnswerPerKindOfCaller) {
  const Caller alice{1000, 1000, false};
  const Caller bob_admin{1001, 1001, true};
  const Caller root{0, 0, true};
  const Caller carol{1002, 1002, false};
  Job alices;
  alices.id = Guid::Generate();
  alices.owner_uid = 1000;
  Job roots;
  roots.id = Guid::Generate();
  roots.owner_uid = 0;
  const AccessRules rules;
  // Administrators manage; only owners choose files, origins and secrets.
  const Row table[] = {
      {JobAction::kView, kOk, kOk, kOk, kNotFound, kOk},
      {JobAction::kControl, kOk, kOk, kOk, kNotFound, kOk},
      {JobAction::kConfigure, kOk, kOk, kOk, kNotFound, kOk},
      {JobAction::kChangeDestination, kOk, kDenied, kDenied, kNotFound, kDenied},
      {JobAction::kChangeOrigin, kOk, kDenied, kDenied, kNotFound, kDenied},
      {JobAction::kSetSecrets, kOk, kDenied, kDenied, kNotFound, kDenied},
      {JobAction::kReadSecrets, kOk, kDenied, kDenied, kNotFound, kDenied},
      {JobAction::kBindMachineCertificate, kDenied, kDenied, kDenied, kNotFound, kDenied},
      {JobAction::kTakeOwnership, kDenied, kOk, kOk, kNotFound, kOk},
      {JobAction::kBindHelperToken, kOk, kOk, kOk, kNotFound, kOk},
  };
  for (const Row& row : table) {
    SCOPED_TRACE(JobActionName(row.action));
    EXPECT_EQ(Decide(rules, alice, alices, row.action), row.owner);
    EXPECT_EQ(Decide(rules, bob_admin, alices, row.action), row.admin);
    EXPECT_EQ(Decide(rules, root, alices, row.action), row.root);
    EXPECT_EQ(Decide(rules, carol, alices, row.action), row.other);
    EXPECT_EQ(Decide(rules, bob_admin, roots, row.action), row.admin_on_root);
  }
}

TEST(AccessPolicyTest, LocalMachineKeysAreForAdministratorsAndListedUids) {
  const Caller alice{1000, 1000, false};
  const Caller bob_admin{1001, 1001, true};
  Job alices;
  alices.owner_uid = 1000;
  Job bobs;
  bobs.owner_uid = 1001;
  AccessRules rules;
  EXPECT_EQ(Decide(rules, alice, alices, JobAction::kBindMachineCertificate), kDenied);
  EXPECT_EQ(Decide(rules, bob_admin, bobs, JobAction::kBindMachineCertificate), kOk);
  // Even a listed uid binds only to its own job.
  rules.local_machine_cert_uids = {1000};
  EXPECT_EQ(Decide(rules, alice, alices, JobAction::kBindMachineCertificate), kOk);
  EXPECT_EQ(Decide(rules, bob_admin, alices, JobAction::kBindMachineCertificate), kDenied);
  const Status denied = Authorize({}, alice, alices, JobAction::kBindMachineCertificate);
  ASSERT_FALSE(denied);
  EXPECT_NE(denied.error().message().find("local_machine_cert_uids"), std::string::npos);
}

TEST(AccessPolicyTest, JoblessDecisions) {
  const Caller alice{1000, 1000, false};
  const Caller admin{1001, 1001, true};
  EXPECT_EQ(AuthorizeListAllUsers(alice).error().code(), kDenied);
  EXPECT_TRUE(AuthorizeListAllUsers(admin));
  EXPECT_TRUE(AuthorizeCreateJob(alice, 0));
  EXPECT_EQ(AuthorizeCreateJob(alice, 1001).error().code(), kDenied);
  EXPECT_TRUE(AuthorizeCreateJob(admin, 1001));
  EXPECT_FALSE(ExemptFromPerUserJobLimit(alice));
  EXPECT_TRUE(ExemptFromPerUserJobLimit(admin));
}

TEST(AccessPolicyTest, AnAdministratorMayTakeAnAccountsProxiesAwayButNotRouteThem) {
  const Caller alice{1000, 1000, false};
  const Caller admin{1001, 1001, true};
  EXPECT_TRUE(AuthorizeSetAccountProxy(alice, 1000, true));
  EXPECT_EQ(AuthorizeSetAccountProxy(alice, 1001, false).error().code(), kDenied);
  EXPECT_TRUE(AuthorizeSetAccountProxy(admin, 1000, false));
  EXPECT_EQ(AuthorizeSetAccountProxy(admin, 1000, true).error().code(), kDenied);
  EXPECT_TRUE(AuthorizeReadAccountProxy(admin, 1000));
  EXPECT_TRUE(AuthorizeReadAccountProxy(alice, 1000));
  EXPECT_EQ(AuthorizeReadAccountProxy(alice, 1001).error().code(), kDenied);
}

}  // namespace
}  // namespace openbits::core

namespace openbits::core {
namespace {

TEST(AccessPolicyTest, AnAdministratorsHelperIdentityIsBoundOnlyByAnAdministrator) {
  const Caller alice{1000, 1000, false};
  const Caller bob_admin{1001, 1001, true};
  const HelperIdentity carol{1002, 1002, false, ""};
  const HelperIdentity root{0, 0, true, ""};
  EXPECT_TRUE(AuthorizeHelperIdentity(alice, carol));
  EXPECT_TRUE(AuthorizeHelperIdentity(bob_admin, carol));
  EXPECT_TRUE(AuthorizeHelperIdentity(bob_admin, root));
  const Status denied = AuthorizeHelperIdentity(alice, root);
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code(), kDenied);
  EXPECT_NE(denied.error().message().find("administrator"), std::string::npos);
}

}  // namespace
}  // namespace openbits::core
