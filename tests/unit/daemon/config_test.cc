#include "daemon/config.h"

#include <gtest/gtest.h>

#include <pwd.h>

#include <fstream>
#include <set>
#include <sstream>

namespace openbits::daemon {
namespace {

TEST(ConfigTest, DefaultsAreBitsDefaults) {
  auto config = ParseConfig("", "empty");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->manager.max_jobs_per_user, 60u);
  EXPECT_EQ(config->manager.max_jobs_per_machine, 300u);
  EXPECT_EQ(config->manager.max_files_per_job, 200u);
  EXPECT_EQ(config->manager.max_ranges_per_file, 500u);
  EXPECT_EQ(config->admin_group, "bitsadmin");
}

TEST(ConfigTest, ParsesSectionsCommentsAndValues) {
  auto config = ParseConfig(
      "# comment\n[limits]\nmax_jobs_per_user = 5  # trailing\n\n[transfer]\n"
      "checkpoint_interval_ms=250\nmax_background_jobs = 2\n[identity]\nadmin_group = wheel\n",
      "test");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->manager.max_jobs_per_user, 5u);
  EXPECT_EQ(config->manager.checkpoint_interval.count(), 250);
  EXPECT_EQ(config->manager.max_background_jobs, 2u);
  EXPECT_EQ(config->admin_group, "wheel");
}

TEST(ConfigTest, UnknownKeysAndBadValuesAreErrorsWithTheirLine) {
  auto unknown = ParseConfig("[limits]\nmax_jobs = 5\n", "bitsd.conf");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("bitsd.conf:2"), std::string::npos);
  EXPECT_FALSE(ParseConfig("[limits]\nmax_jobs_per_user = many\n", "c"));
  EXPECT_FALSE(ParseConfig("[limits]\nmax_jobs_per_user = -1\n", "c"));
  EXPECT_FALSE(ParseConfig("[limits\n", "c"));
  EXPECT_FALSE(ParseConfig("max_jobs_per_user\n", "c"));
}

TEST(ConfigTest, SystemAccountsAreNamesOrUidsResolvedAtStart) {
  auto defaults = ParseConfig("", "empty");
  ASSERT_TRUE(defaults);
  EXPECT_TRUE(defaults->manager.system_accounts.empty());
  const passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  const std::uint32_t nobody_uid = nobody->pw_uid;
  auto config = ParseConfig("[identity]\nsystem_accounts = nobody, 4321  5000,root\n", "test");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->manager.system_accounts, (std::set<std::uint32_t>{nobody_uid, 4321, 5000, 0}));
  EXPECT_TRUE(config->manager.IsSystemAccount(4321));
  EXPECT_TRUE(config->manager.IsSystemAccount(999));  // system_accounts_below still counts
  EXPECT_FALSE(config->manager.IsSystemAccount(4322));

  auto unknown =
      ParseConfig("[identity]\nsystem_accounts = nobody, openbits-no-such-user\n", "bitsd.conf");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), hr::E_INVALIDARG);
  EXPECT_NE(unknown.error().message().find("bitsd.conf:2"), std::string::npos)
      << unknown.error().message();
  EXPECT_NE(unknown.error().message().find("no user is named 'openbits-no-such-user'"),
            std::string::npos)
      << unknown.error().message();
}

TEST(ConfigTest, TheShippedConfigFileParses) {
  std::ifstream file(OPENBITS_SOURCE_DIR "/service/bitsd.conf");
  ASSERT_TRUE(file);
  std::stringstream content;
  content << file.rdbuf();
  auto config = ParseConfig(content.str(), "service/bitsd.conf");
  EXPECT_TRUE(config) << config.error().ToString();
}

TEST(ConfigTest, EngineParallelFilesAndThreads) {
  auto defaults = ParseConfig("", "empty");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->manager.parallel_files, 1u);  // BITS: one file after the other
  EXPECT_EQ(defaults->engine_threads, 0u);          // chosen from the other limits
  auto config = ParseConfig("[engine]\nparallel_files = 8\nthreads = 32\n", "test");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->manager.parallel_files, 8u);
  EXPECT_EQ(config->engine_threads, 32u);
  EXPECT_FALSE(ParseConfig("[engine]\nparallel_files = 0\n", "c"));
  EXPECT_FALSE(ParseConfig("[engine]\nparallel_files = 65\n", "c"));
}

TEST(ConfigTest, ListsLocalMachineCertUids) {
  auto config = ParseConfig("[tls]\nlocal_machine_cert_uids = 1001, 1002 7\n", "c");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->manager.access.local_machine_cert_uids,
            (std::vector<std::uint32_t>{1001, 1002, 7}));
  EXPECT_TRUE(ParseConfig("", "c")->manager.access.local_machine_cert_uids.empty());
  EXPECT_FALSE(ParseConfig("[tls]\nlocal_machine_cert_uids = alice\n", "c"));
}

TEST(ConfigTest, LogonGatingIsOnByDefaultAndLogindCanBeAnotherBus) {
  auto defaults = ParseConfig("", "empty");
  ASSERT_TRUE(defaults);
  EXPECT_TRUE(defaults->logon_gating);
  EXPECT_EQ(defaults->login1_bus, "system");
  auto set = ParseConfig("[logon]\ngating = false\nlogin1_bus = unix:path=/tmp/bus\n", "c");
  ASSERT_TRUE(set) << set.error().ToString();
  EXPECT_FALSE(set->logon_gating);
  EXPECT_EQ(set->login1_bus, "unix:path=/tmp/bus");
  EXPECT_FALSE(ParseConfig("[logon]\ngating = maybe\n", "c"));
  EXPECT_FALSE(ParseConfig("[logon]\nlogin1_bus = session\n", "c"));  // not an address
}

}  // namespace
}  // namespace openbits::daemon
