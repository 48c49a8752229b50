// Job and file properties beyond the basics: remote names, redirects, validation, response
// headers, the maximum download time.
#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

namespace fs = std::filesystem;

class JobPropertiesTest : public DaemonTest {
 protected:
  // A suspended job with one file.
  Job NewJob(const std::string& name, const std::string& url) {
    auto job = client_->CreateJob(name);
    if (!job) throw std::runtime_error(job.error().ToString());
    if (auto added = job->AddFile(url, out() + "/" + name); !added) {
      throw std::runtime_error(added.error().ToString());
    }
    return *job;
  }
  std::string RemoteName(Job& job) { return job.EnumFiles()->front().remote_url; }
};

TEST_F(JobPropertiesTest, RedirectPoliciesFollowSilentlyReportOrRefuse) {
  harness::WriteRandomFile(www() + "/target.bin", 4096, 40);
  const std::string redirect = server_->Url("/redirect?to=/target.bin");

  auto silent = NewJob("silent", redirect);
  ASSERT_TRUE(silent.Resume());
  ASSERT_EQ(WaitForState(silent, {JobState::kTransferred, JobState::kError}),
            JobState::kTransferred);
  EXPECT_EQ(RemoteName(silent), redirect);

  auto report = NewJob("report", redirect);
  ASSERT_TRUE(report.SetSecurityFlags(kRedirectPolicyAllowReport));
  ASSERT_TRUE(report.Resume());
  ASSERT_EQ(WaitForState(report, {JobState::kTransferred, JobState::kError}),
            JobState::kTransferred);
  EXPECT_EQ(RemoteName(report), server_->Url("/target.bin"));

  auto refuse = NewJob("refuse", redirect);
  ASSERT_TRUE(refuse.SetSecurityFlags(kRedirectPolicyDisallow));
  EXPECT_EQ(*refuse.GetSecurityFlags(), kRedirectPolicyDisallow);
  ASSERT_TRUE(refuse.Resume());
  ASSERT_EQ(WaitForState(refuse, {JobState::kTransferred, JobState::kError}), JobState::kError);
  EXPECT_EQ(refuse.GetError()->code, HttpStatusToHresult(302));
  EXPECT_EQ(RemoteName(refuse), server_->Url("/target.bin"));

  EXPECT_EQ(refuse.SetSecurityFlags(0x300).error().code(), hr::E_NOTIMPL);
  EXPECT_EQ(refuse.SetSecurityFlags(0x1000).error().code(), hr::E_NOTIMPL);
  for (Job* job : {&silent, &report}) {
    ASSERT_TRUE(job->Complete());
  }
  EXPECT_EQ(harness::Sha256OfFile(out() + "/report"), harness::Sha256OfFile(www() + "/target.bin"));
}

TEST_F(JobPropertiesTest, FixingTheRemoteNameOfAFailedJobAndResumingFinishesIt) {
  harness::WriteRandomFile(www() + "/moved.bin", 100 * 1000, 41);
  auto job = NewJob("fixed", server_->Url("/old/moved.bin"));
  ASSERT_TRUE(job.Resume());
  ASSERT_EQ(WaitForState(job, {JobState::kError, JobState::kTransferred}), JobState::kError);
  EXPECT_EQ(job.SetRemoteName(1, server_->Url("/moved.bin")).error().code(), hr::E_INVALIDARG);
  EXPECT_EQ(job.SetRemoteName(0, "ftp://x/y").error().code(), hr::E_INVALIDARG);
  ASSERT_TRUE(job.ReplaceRemotePrefix(server_->Url("/old/"), server_->Url("/")));
  EXPECT_EQ(RemoteName(job), server_->Url("/moved.bin"));
  ASSERT_TRUE(job.Resume());
  ASSERT_EQ(WaitForState(job, {JobState::kError, JobState::kTransferred}), JobState::kTransferred);

  // Before Complete the bytes are in the temporary file, which holds the whole file.
  const std::string temp = *job.GetTemporaryName(0);
  EXPECT_EQ(fs::path(temp).parent_path(), fs::path(out()));
  EXPECT_EQ(harness::Sha256OfFile(temp), harness::Sha256OfFile(www() + "/moved.bin"));
  auto headers = job.GetHttpResponseHeaders(0);
  ASSERT_TRUE(headers);
  EXPECT_NE(headers->find("206"), std::string::npos) << *headers;
  EXPECT_NE(headers->find("Content-Range: bytes 0-99999/100000"), std::string::npos) << *headers;
  ASSERT_TRUE(job.Complete());
  EXPECT_FALSE(fs::exists(temp));
}

TEST_F(JobPropertiesTest, RejectedContentFailsTheJobAndIsFetchedAgainOnResume) {
  harness::WriteRandomFile(www() + "/checked.bin", 64 * 1024, 42);
  auto job = NewJob("checked", server_->Url("/checked.bin"));
  EXPECT_EQ(job.SetValidationState(0, true).error().code(), hr::BG_E_INVALID_STATE);
  ASSERT_TRUE(job.Resume());
  ASSERT_EQ(WaitForState(job, {JobState::kTransferred}), JobState::kTransferred);
  EXPECT_FALSE(*job.GetValidationState(0));
  ASSERT_TRUE(job.SetValidationState(0, false));
  EXPECT_EQ(*job.GetState(), JobState::kError);
  EXPECT_EQ(job.GetError()->code, hr::BG_E_VALIDATION_FAILED);
  EXPECT_EQ(job.GetProgress()->files_transferred, 0u);

  ASSERT_TRUE(job.Resume());
  ASSERT_EQ(WaitForState(job, {JobState::kTransferred}), JobState::kTransferred);
  ASSERT_TRUE(job.SetValidationState(0, true));
  EXPECT_TRUE(*job.GetValidationState(0));
  EXPECT_EQ(server_->RangeStarts("/checked.bin"), (std::vector<std::uint64_t>{0, 0}));
  ASSERT_TRUE(job.Complete());
  EXPECT_EQ(harness::Sha256OfFile(out() + "/checked"),
            harness::Sha256OfFile(www() + "/checked.bin"));
}

TEST_F(JobPropertiesTest, MaximumDownloadTimeStopsASlowJob) {
  harness::WriteRandomFile(www() + "/slow.bin", 16 * 1024 * 1024, 43);
  auto job = NewJob("slow", server_->Url("/slow.bin?rate=1000000"));
  EXPECT_EQ(*job.GetMaximumDownloadTime(), 7'776'000u);
  ASSERT_TRUE(job.SetMaximumDownloadTime(1));
  ASSERT_TRUE(job.Resume());
  ASSERT_EQ(WaitForState(job, {JobState::kError, JobState::kTransferred}, 15s), JobState::kError);
  EXPECT_EQ(job.GetError()->code, hr::BG_E_MAXDOWNLOAD_TIMEOUT);
  EXPECT_LT(job.GetProgress()->bytes_transferred, 16u * 1024 * 1024);
}

TEST_F(JobPropertiesTest, CustomHeadersGoWithEveryRequestAndStaySecret) {
  harness::WriteRandomFile(www() + "/headers.bin", 12 * 1024 * 1024, 44);
  auto job = NewJob("headers", server_->Url("/headers.bin?rate=6000000"));
  EXPECT_EQ(job.SetCustomHeaders("Range: bytes=5-").error().code(), hr::E_INVALIDARG);
  EXPECT_EQ(job.SetCustomHeaders("no colon here").error().code(), hr::E_INVALIDARG);
  EXPECT_EQ(job.SetCustomHeaders("X-Long: " + std::string(16400, 'a')).error().code(),
            hr::BG_E_STRING_TOO_LONG);
  const std::string headers = "X-Api-Token: tok-7741\r\nX-Trace: trace-1\r\n";
  ASSERT_TRUE(job.SetCustomHeaders(headers));
  EXPECT_EQ(*job.GetCustomHeaders(), headers);
  ASSERT_TRUE(job.MakeCustomHeadersWriteOnly());
  EXPECT_EQ(job.GetCustomHeaders().error().code(), hr::E_ACCESSDENIED);

  // Across a crash and a resumed request, the headers are sent each time.
  ASSERT_TRUE(job.Resume());
  ASSERT_TRUE(harness::WaitUntil([&] { return job.GetProgress()->bytes_transferred > 2'000'000; }));
  bitsd_->Kill();
  bitsd_->Start();
  client_ = Connect();
  auto again = client_->GetJob(job.id());
  ASSERT_TRUE(again);
  ASSERT_EQ(WaitForState(*again, {JobState::kTransferred, JobState::kError}),
            JobState::kTransferred);
  std::size_t requests = 0;
  for (const std::string& line : server_->LogLines()) {
    if (line.find("/headers.bin") == std::string::npos) continue;
    ++requests;
    EXPECT_NE(line.find(R"("X-Api-Token": "tok-7741")"), std::string::npos) << line;
    EXPECT_NE(line.find(R"("X-Trace": "trace-1")"), std::string::npos) << line;
  }
  EXPECT_GE(requests, 2u);
  // Never at rest in the clear, never in the log.
  for (const char* file : {"jobs.db", "jobs.db-wal"}) {
    const std::string bytes = harness::ReadFile(bitsd_->state_dir() + "/" + file);
    EXPECT_EQ(bytes.find("tok-7741"), std::string::npos) << file;
  }
  EXPECT_EQ(bitsd_->Log().find("tok-7741"), std::string::npos);
  EXPECT_EQ(again->GetCustomHeaders().error().code(), hr::E_ACCESSDENIED);
  ASSERT_TRUE(again->Complete());
}

}  // namespace
}  // namespace openbits::integration
