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

TEST_F(DaemonTest, FileSetsJsonOutputMonitorAndReset) {
  harness::WriteRandomFile(www() + "/a.bin", 1000, 50);
  harness::WriteRandomFile(www() + "/b.bin", 2000, 51);
  harness::WriteFile(dir_ / "files.txt", "# remote local\n" + server_->Url("/a.bin") +
                                             " a.bin\n\n" + server_->Url("/b.bin") +
                                             "  sub/../b.bin\n");
  const auto created = harness::Run(Bitsadmin({"/rawreturn", "/create", "set"}));
  const std::string id = created.out.substr(0, created.out.find('\n'));
  const auto added =
      harness::Run(Bitsadmin({"/addfileset", id, dir_ / "files.txt"}), std::nullopt, 60s, out());
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_NE(added.out.find("Added 2 file(s)"), std::string::npos) << added.out;
  ASSERT_EQ(harness::Run(Bitsadmin({"/resume", id})).exit_code, 0);
  ASSERT_TRUE(harness::WaitUntil([&] {
    return harness::Run(Bitsadmin({"/getstate", id})).out == "TRANSFERRED\n";
  }));

  const auto json = harness::Run(Bitsadmin({"--json", "/info", id}));
  EXPECT_EQ(json.exit_code, 0);
  EXPECT_EQ(json.out.front(), '{');
  EXPECT_NE(json.out.find("\"state\":\"TRANSFERRED\""), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"bytes_total\":3000"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"local_name\":\"" + out() + "/b.bin\""), std::string::npos) << json.out;
  const auto listed = harness::Run(Bitsadmin({"--json", "/list"}));
  EXPECT_EQ(listed.out.substr(0, 2), "[{") << listed.out;

  // /monitor refreshes until interrupted: let it run briefly.
  const auto monitor = harness::Run(Bitsadmin({"/monitor", "/refresh", "1"}), std::nullopt, 1500ms);
  EXPECT_NE(monitor.out.find("MONITORING BACKGROUND COPY MANAGER"), std::string::npos);
  EXPECT_NE(monitor.out.find(id + " 'set' TRANSFERRED 2 / 2 3000 / 3000"), std::string::npos)
      << monitor.out;

  ASSERT_EQ(harness::Run(Bitsadmin({"/create", "second"})).exit_code, 0);
  const auto reset = harness::Run(Bitsadmin({"/reset"}));
  EXPECT_EQ(reset.exit_code, 0) << reset.err;
  EXPECT_NE(reset.out.find("2 out of 2 jobs canceled."), std::string::npos) << reset.out;
  EXPECT_NE(harness::Run(Bitsadmin({"/list"})).out.find("Listed 0 job(s)."), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(out() + "/a.bin"));  // cancelled, never completed
}

}  // namespace
}  // namespace openbits::integration
