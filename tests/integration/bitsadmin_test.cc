// bitsadmin as a script or an administrator uses it.
#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

TEST_F(DaemonTest, TransferCreatesRunsAndCompletesAJob) {
  harness::WriteRandomFile(www() + "/one.bin", 2 * 1024 * 1024, 10);
  harness::WriteRandomFile(www() + "/two.bin", 1024, 11);
  // Relative local names are made absolute against the caller's working directory.
  std::filesystem::create_directories(out() + "/sub");
  const auto result = harness::Run(
      Bitsadmin({"/transfer", "both", "/priority", "foreground", server_->Url("/one.bin"),
                 "one.bin", server_->Url("/two.bin"), "sub/../two.bin"}),
      std::nullopt, 60s, out());
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("TRANSFERRED"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("Transfer complete."), std::string::npos) << result.out;
  EXPECT_EQ(harness::Sha256OfFile(out() + "/one.bin"), harness::Sha256OfFile(www() + "/one.bin"));
  EXPECT_EQ(harness::Sha256OfFile(out() + "/two.bin"), harness::Sha256OfFile(www() + "/two.bin"));
  // The job is completed, so nothing is left in the queue.
  EXPECT_NE(harness::Run(Bitsadmin({"/list"})).out.find("Listed 0 job(s)."), std::string::npos);
}

TEST_F(DaemonTest, TransferOfAMissingFileFailsCancelsAndExitsNonZero) {
  const auto result =
      harness::Run(Bitsadmin({"/transfer", "broken", server_->Url("/gone"), out() + "/gone"}));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.out.find("0x80190194"), std::string::npos) << result.out;
  EXPECT_NE(harness::Run(Bitsadmin({"/list"})).out.find("Listed 0 job(s)."), std::string::npos);
}

TEST_F(DaemonTest, StepByStepVerbsWorkByNameAndByGuid) {
  harness::WriteRandomFile(www() + "/step.bin", 300 * 1000, 12);
  const auto created = harness::Run(Bitsadmin({"/rawreturn", "/create", "/download", "stepper"}));
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = created.out.substr(0, created.out.find('\n'));
  ASSERT_TRUE(Guid::Parse(id)) << created.out;

  EXPECT_EQ(harness::Run(Bitsadmin({"/getstate", "stepper"})).out, "SUSPENDED\n");
  ASSERT_EQ(harness::Run(
                Bitsadmin({"/addfile", "stepper", server_->Url("/step.bin"), out() + "/step.bin"}))
                .exit_code,
            0);
  EXPECT_EQ(harness::Run(Bitsadmin({"/setpriority", id, "HIGH"})).exit_code, 0);
  EXPECT_EQ(harness::Run(Bitsadmin({"/getpriority", id})).out, "HIGH\n");
  ASSERT_EQ(harness::Run(Bitsadmin({"/resume", id})).exit_code, 0);
  ASSERT_TRUE(harness::WaitUntil([&] {
    return harness::Run(Bitsadmin({"/getstate", id})).out == "TRANSFERRED\n";
  }));
  EXPECT_EQ(harness::Run(Bitsadmin({"/getbytestransferred", id})).out, "300000\n");
  EXPECT_EQ(harness::Run(Bitsadmin({"/getbytestotal", id})).out, "300000\n");

  const auto info = harness::Run(Bitsadmin({"/info", id}));
  EXPECT_EQ(info.out, id + " 'stepper' TRANSFERRED 1 / 1 300000 / 300000\n");
  const auto verbose = harness::Run(Bitsadmin({"/info", "stepper", "/verbose"}));
  EXPECT_NE(verbose.out.find("PRIORITY: HIGH"), std::string::npos) << verbose.out;
  EXPECT_NE(verbose.out.find("COMPLETED " + server_->Url("/step.bin")), std::string::npos)
      << verbose.out;
  const auto listed = harness::Run(Bitsadmin({"/list"}));
  EXPECT_NE(listed.out.find(id + " 'stepper' TRANSFERRED"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("Listed 1 job(s)."), std::string::npos) << listed.out;

  ASSERT_EQ(harness::Run(Bitsadmin({"/complete", "stepper"})).exit_code, 0);
  EXPECT_EQ(harness::Sha256OfFile(out() + "/step.bin"), harness::Sha256OfFile(www() + "/step.bin"));
  EXPECT_EQ(harness::Run(Bitsadmin({"/getstate", id})).exit_code, 1);
}

}  // namespace
}  // namespace openbits::integration
