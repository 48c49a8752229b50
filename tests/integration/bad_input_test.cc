// Bad input gets BITS's error codes and a message; the daemon survives every one of them.
#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

namespace fs = std::filesystem;

TEST_F(DaemonTest, UnknownJobIsNotFound) {
  auto job = client_->GetJob(Guid::Generate());
  ASSERT_FALSE(job);
  EXPECT_EQ(job.error().code(), hr::BG_E_NOT_FOUND);
}

TEST_F(DaemonTest, MalformedGuidAndUnknownNameAreReportedByBitsadmin) {
  const auto malformed = harness::Run(Bitsadmin({"/info", "{not-a-guid}"}));
  EXPECT_EQ(malformed.exit_code, 1);
  EXPECT_NE(malformed.err.find("E_INVALIDARG"), std::string::npos) << malformed.err;
  const auto unknown = harness::Run(Bitsadmin({"/getstate", "no such job"}));
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("0x80200001 (BG_E_NOT_FOUND)"), std::string::npos) << unknown.err;
  const auto usage = harness::Run(Bitsadmin({"/addfile", "only-one-arg"}));
  EXPECT_EQ(usage.exit_code, 2);
}

TEST_F(DaemonTest, AddFileRejectsBadUrlsAndPathsWithoutChangingTheJob) {
  auto job = client_->CreateJob("bad files");
  ASSERT_TRUE(job);
  struct Case {
    std::string url, local;
    HRESULT code;
  };
  const std::vector<Case> cases = {
      {server_->Url("/x"), "relative/path", hr::E_INVALIDARG},
      {"ftp://127.0.0.1/x", out() + "/x", hr::E_INVALIDARG},
      {"http://", out() + "/x", hr::E_INVALIDARG},
      {"http://host/with space", out() + "/x", hr::E_INVALIDARG},
      {"http://h/" + std::string(2200, 'a'), out() + "/x", hr::E_INVALIDARG},
      {server_->Url("/x"), out() + "/no-such-dir/x", hr::ERROR_PATH_NOT_FOUND},
      {server_->Url("/x"), out(), hr::E_INVALIDARG},
  };
  for (const Case& c : cases) {
    auto added = job->AddFile(c.url, c.local);
    ASSERT_FALSE(added) << c.url.substr(0, 40) << " " << c.local;
    EXPECT_EQ(added.error().code(), c.code)
        << c.url.substr(0, 40) << " " << c.local << ": " << added.error().ToString();
  }
  EXPECT_EQ(job->GetProgress()->files_total, 0u);
  // A set with one bad entry adds nothing.
  auto set = job->AddFileSet({{server_->Url("/a"), out() + "/a"}, {"gopher://x/", out() + "/b"}});
  EXPECT_FALSE(set);
  EXPECT_EQ(job->GetProgress()->files_total, 0u);
}

TEST_F(DaemonTest, StatePreconditionsFollowBits) {
  auto job = client_->CreateJob("empty");
  ASSERT_TRUE(job);
  auto resumed = job->Resume();
  ASSERT_FALSE(resumed);
  EXPECT_EQ(resumed.error().code(), hr::BG_E_EMPTY);
  auto error = job->GetError();
  ASSERT_FALSE(error);
  EXPECT_EQ(error.error().code(), hr::BG_E_ERROR_INFORMATION_UNAVAILABLE);
  auto renamed = job->SetDisplayName(std::string(257, 'n'));
  ASSERT_FALSE(renamed);
  EXPECT_EQ(renamed.error().code(), hr::BG_E_STRING_TOO_LONG);
  auto priority = job->SetPriority(static_cast<JobPriority>(7));
  ASSERT_FALSE(priority);
  EXPECT_EQ(priority.error().code(), hr::E_INVALIDARG);
  ASSERT_TRUE(job->SetMinimumRetryDelay(1));
  EXPECT_EQ(*job->GetMinimumRetryDelay(), 5u);  // BITS clamps to 5 s
  // Suspend is idempotent; Cancel ends the job, after which it is gone.
  EXPECT_TRUE(job->Suspend());
  EXPECT_TRUE(job->Suspend());
  EXPECT_EQ(*job->Cancel(), hr::S_OK);
  EXPECT_EQ(job->GetState().error().code(), hr::BG_E_NOT_FOUND);
  EXPECT_EQ(job->Resume().error().code(), hr::BG_E_NOT_FOUND);
}

TEST_F(DaemonTest, PartialCompleteAndCancelNeverTouchAPreExistingDestination) {
  harness::WriteRandomFile(www() + "/done.bin", 4096, 8);
  harness::WriteFile(out() + "/precious.txt", "old contents");
  auto job = client_->CreateJob("partial");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFile(server_->Url("/done.bin"), out() + "/done.bin"));
  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(WaitForState(*job, {JobState::kTransferred}), JobState::kTransferred);
  // A second file that never transfers, over an existing file.
  ASSERT_TRUE(job->AddFile(server_->Url("/never.bin"), out() + "/precious.txt"));
  auto completed = job->Complete();
  ASSERT_TRUE(completed) << completed.error().ToString();
  EXPECT_EQ(*completed, hr::BG_S_PARTIAL_COMPLETE);
  EXPECT_EQ(harness::ReadFile(out() + "/precious.txt"), "old contents");
  EXPECT_EQ(harness::Sha256OfFile(out() + "/done.bin"), harness::Sha256OfFile(www() + "/done.bin"));

  auto cancelled = client_->CreateJob("cancelled");
  ASSERT_TRUE(cancelled);
  ASSERT_TRUE(cancelled->AddFile(server_->Url("/done.bin"), out() + "/precious.txt"));
  ASSERT_TRUE(cancelled->Resume());
  ASSERT_EQ(WaitForState(*cancelled, {JobState::kTransferred}), JobState::kTransferred);
  EXPECT_EQ(*cancelled->Cancel(), hr::S_OK);
  EXPECT_EQ(harness::ReadFile(out() + "/precious.txt"), "old contents");
  std::size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(out())) {
    ++entries;
    EXPECT_EQ(entry.path().filename().string().find(".bits-"), std::string::npos);
  }
  EXPECT_EQ(entries, 2u);  // done.bin and precious.txt, no temp file
}

}  // namespace
}  // namespace openbits::integration
