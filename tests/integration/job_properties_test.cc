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

TEST_F(JobPropertiesTest, DynamicContentNeedsNoSizeAndRestartsFromZero) {
  auto rejected = NewJob("sized", server_->Url("/dynamic?len=300000&job=sized"));
  ASSERT_TRUE(rejected.Resume());
  ASSERT_EQ(WaitForState(rejected, {JobState::kError, JobState::kTransferred}), JobState::kError);
  EXPECT_EQ(rejected.GetError()->code, hr::BG_E_MISSING_FILE_SIZE);

  auto job = NewJob("dynamic", server_->Url("/dynamic?len=300000&job=dynamic"));
  ASSERT_TRUE(job.SetDynamicContent(true));
  EXPECT_TRUE(*job.GetDynamicContent());
  ASSERT_TRUE(job.Resume());
  EXPECT_EQ(job.SetDynamicContent(false).error().code(), hr::BG_E_READ_ONLY_PROPERTY_AFTER_RESUME);
  ASSERT_EQ(WaitForState(job, {JobState::kError, JobState::kTransferred}), JobState::kTransferred);
  EXPECT_EQ(job.GetProgress()->bytes_total, 300000u);
  ASSERT_TRUE(job.Complete());
  const std::string content = harness::ReadFile(out() + "/dynamic");
  ASSERT_EQ(content.size(), 300000u);
  for (std::size_t i = 0; i < content.size(); i += 4999) {
    ASSERT_EQ(static_cast<unsigned char>(content[i]), i % 251) << i;
  }
  // No Range header was sent for it.
  bool requested = false;
  for (const std::string& line : server_->LogLines()) {
    if (line.find("job=dynamic") == std::string::npos) continue;
    requested = true;
    EXPECT_NE(line.find(R"("range": null)"), std::string::npos) << line;
  }
  EXPECT_TRUE(requested);
}

TEST_F(JobPropertiesTest, CustomHttpMethodIsForegroundWholeBodyAndFailsFast) {
  harness::WriteRandomFile(www() + "/posted.bin", 50000, 45);
  auto job = NewJob("posted", server_->Url("/posted.bin"));
  ASSERT_TRUE(job.SetPriority(JobPriority::kLow));
  ASSERT_TRUE(job.SetHttpMethod("POST"));
  EXPECT_EQ(*job.GetHttpMethod(), "POST");
  EXPECT_EQ(*job.GetPriority(), JobPriority::kForeground);
  EXPECT_EQ(job.SetPriority(JobPriority::kLow).error().code(),
            hr::BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD);
  EXPECT_EQ(job.SetDynamicContent(true).error().code(),
            hr::BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD);
  ASSERT_TRUE(job.Resume());
  EXPECT_EQ(job.SetHttpMethod("PUT").error().code(), hr::BG_E_READ_ONLY_PROPERTY_AFTER_RESUME);
  ASSERT_EQ(WaitForState(job, {JobState::kError, JobState::kTransferred}), JobState::kTransferred);
  ASSERT_TRUE(job.Complete());
  EXPECT_EQ(harness::Sha256OfFile(out() + "/posted"), harness::Sha256OfFile(www() + "/posted.bin"));
  bool posted = false;
  for (const std::string& line : server_->LogLines()) {
    if (line.find("/posted.bin") == std::string::npos) continue;
    posted = true;
    EXPECT_NE(line.find(R"("method": "POST")"), std::string::npos) << line;
    EXPECT_NE(line.find(R"("range": null)"), std::string::npos) << line;
  }
  EXPECT_TRUE(posted);

  // What would be transient for a GET job is fatal here: it could not resume anyway.
  auto busy = NewJob("busy-post", server_->Url("/status/503"));
  ASSERT_TRUE(busy.SetHttpMethod("POST"));
  ASSERT_TRUE(busy.Resume());
  ASSERT_EQ(WaitForState(busy, {JobState::kError, JobState::kTransientError}), JobState::kError);
  EXPECT_EQ(busy.GetError()->code, HttpStatusToHresult(503));
}

TEST_F(JobPropertiesTest, MaxDownloadSizeStopsAJobThatWouldExceedIt) {
  harness::WriteRandomFile(www() + "/big.bin", 100000, 46);
  auto job = NewJob("capped", server_->Url("/big.bin"));
  EXPECT_EQ(*job.GetMaxDownloadSize(), kNoMaxDownloadSize);
  EXPECT_EQ(job.SetMaxDownloadSize(0).error().code(), hr::BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE);
  ASSERT_TRUE(job.SetMaxDownloadSize(50000));
  ASSERT_TRUE(job.Resume());
  ASSERT_EQ(WaitForState(job, {JobState::kError, JobState::kTransferred}), JobState::kError);
  EXPECT_EQ(job.GetError()->code, hr::BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED);
}

TEST_F(JobPropertiesTest, HighPerformanceWritesStraightIntoTheDestination) {
  harness::WriteRandomFile(www() + "/fast.bin", 2 * 1024 * 1024, 47);
  auto job = client_->CreateJob("fast");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->SetHighPerformance(true));
  ASSERT_TRUE(job->AddFile(server_->Url("/fast.bin"), out() + "/fast.bin"));
  EXPECT_EQ(job->SetHighPerformance(false).error().code(),
            hr::BG_E_READ_ONLY_PROPERTY_AFTER_ADDFILE);
  EXPECT_EQ(*job->GetTemporaryName(0), out() + "/fast.bin");
  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(WaitForState(*job, {JobState::kError, JobState::kTransferred}), JobState::kTransferred);
  // Already in place before Complete.
  EXPECT_EQ(harness::Sha256OfFile(out() + "/fast.bin"), harness::Sha256OfFile(www() + "/fast.bin"));
  ASSERT_TRUE(job->Complete());
  EXPECT_EQ(harness::Sha256OfFile(out() + "/fast.bin"), harness::Sha256OfFile(www() + "/fast.bin"));
  EXPECT_EQ(job->SetMinimumNotificationInterval(100).error().code(), hr::BG_E_NOT_FOUND);
}

TEST_F(JobPropertiesTest, MinimumNotificationIntervalIsAJob5Property) {
  auto job = NewJob("props", server_->Url("/x"));
  EXPECT_EQ(*job.GetMinimumNotificationInterval(), 500u);
  ASSERT_TRUE(job.SetMinimumNotificationInterval(250));
  EXPECT_EQ(*job.GetMinimumNotificationInterval(), 250u);
}

}  // namespace
}  // namespace openbits::integration
