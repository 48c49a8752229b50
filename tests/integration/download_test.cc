// Downloads end to end: a real bitsd on a private bus, the range server, bytes checked by hash.
#include <sqlite3.h>
#include <sys/stat.h>

#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

namespace fs = std::filesystem;

// The committed offset of a file as bitsd stored it (read from the real SQLite file).
std::uint64_t CommittedOffset(const std::string& state_dir, const Guid& job) {
  sqlite3* db = nullptr;
  std::uint64_t offset = 0;
  if (sqlite3_open_v2((state_dir + "/jobs.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
      SQLITE_OK) {
    sqlite3_stmt* statement = nullptr;
    sqlite3_prepare_v2(db, "SELECT bytes_committed FROM files WHERE job_id = ? AND idx = 0", -1,
                       &statement, nullptr);
    const std::string id = job.ToString();
    sqlite3_bind_text(statement, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(statement) == SQLITE_ROW) {
      offset = static_cast<std::uint64_t>(sqlite3_column_int64(statement, 0));
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  return offset;
}

TEST_F(DaemonTest, MultiFileJobTransfersEveryFileWithItsHash) {
  harness::WriteRandomFile(www() + "/a.bin", 3 * 1024 * 1024 + 17, 1);
  harness::WriteRandomFile(www() + "/b.bin", 100 * 1024, 2);
  harness::WriteFile(www() + "/empty.bin", "");
  auto job = client_->CreateJob("multi");
  ASSERT_TRUE(job) << job.error().ToString();
  ASSERT_TRUE(job->AddFileSet({{server_->Url("/a.bin"), out() + "/a.bin"},
                               {server_->Url("/b.bin"), out() + "/b.bin"},
                               {server_->Url("/empty.bin"), out() + "/empty.bin"}}));
  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}), JobState::kTransferred);

  auto progress = job->GetProgress();
  ASSERT_TRUE(progress);
  EXPECT_EQ(progress->files_total, 3u);
  EXPECT_EQ(progress->files_transferred, 3u);
  EXPECT_EQ(progress->bytes_total, 3u * 1024 * 1024 + 17 + 100 * 1024);
  EXPECT_EQ(progress->bytes_transferred, progress->bytes_total);
  // Nothing is visible at the destination before Complete.
  EXPECT_FALSE(fs::exists(out() + "/a.bin"));

  auto completed = job->Complete();
  ASSERT_TRUE(completed) << completed.error().ToString();
  EXPECT_EQ(*completed, hr::S_OK);
  for (const char* name : {"a.bin", "b.bin", "empty.bin"}) {
    EXPECT_EQ(harness::Sha256OfFile(out() + "/" + name), harness::Sha256OfFile(www() + "/" + name))
        << name;
  }
  // The file keeps the server's Last-Modified as its mtime.
  struct stat source {
  }, copy{};
  ASSERT_EQ(stat((www() + "/a.bin").c_str(), &source), 0);
  ASSERT_EQ(stat((out() + "/a.bin").c_str(), &copy), 0);
  EXPECT_EQ(copy.st_mtim.tv_sec, source.st_mtim.tv_sec);
  // No temp file is left behind, and the job is gone.
  for (const auto& entry : fs::directory_iterator(out())) {
    EXPECT_EQ(entry.path().filename().string().find(".bits-"), std::string::npos) << entry.path();
  }
  EXPECT_EQ(client_->GetJob(job->id()).error().code(), hr::BG_E_NOT_FOUND);
}

TEST_F(DaemonTest, KillNineMidTransferResumesFromCommittedOffsetWithRangeRequest) {
  constexpr std::uint64_t kSize = 24 * 1024 * 1024;
  harness::WriteRandomFile(www() + "/big.bin", kSize, 3);
  auto job = client_->CreateJob("crash");
  ASSERT_TRUE(job);
  // 6 MB/s: about four seconds, so the kill lands mid-transfer.
  ASSERT_TRUE(job->AddFile(server_->Url("/big.bin?rate=6000000"), out() + "/big.bin"));
  ASSERT_TRUE(job->Resume());
  ASSERT_TRUE(harness::WaitUntil(
      [&] { return CommittedOffset(bitsd_->state_dir(), job->id()) > 1024 * 1024; }));

  bitsd_->Kill();
  const std::uint64_t committed = CommittedOffset(bitsd_->state_dir(), job->id());
  ASSERT_GT(committed, 0u);
  ASSERT_LT(committed, kSize);

  bitsd_->Start();
  client_ = Connect();
  auto recovered = client_->GetJob(job->id());
  ASSERT_TRUE(recovered) << recovered.error().ToString();
  ASSERT_EQ(WaitForState(*recovered, {JobState::kTransferred, JobState::kError}),
            JobState::kTransferred);

  // The restart asked for exactly the bytes after the durable offset.
  const auto starts = server_->RangeStarts("/big.bin");
  ASSERT_GE(starts.size(), 2u);
  EXPECT_EQ(starts.front(), 0u);
  EXPECT_EQ(starts.back(), committed);
  ASSERT_TRUE(recovered->Complete());
  EXPECT_EQ(harness::Sha256OfFile(out() + "/big.bin"), harness::Sha256OfFile(www() + "/big.bin"));
}

TEST_F(DaemonTest, RemoteFileChangedWhileDaemonWasDownRestartsFromZero) {
  harness::WriteRandomFile(www() + "/moving.bin", 16 * 1024 * 1024, 4);
  auto job = client_->CreateJob("changed");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFile(server_->Url("/moving.bin?rate=6000000"), out() + "/moving.bin"));
  ASSERT_TRUE(job->Resume());
  ASSERT_TRUE(harness::WaitUntil(
      [&] { return CommittedOffset(bitsd_->state_dir(), job->id()) > 1024 * 1024; }));
  bitsd_->Kill();
  // A new version, of another size, appears on the server.
  harness::WriteRandomFile(www() + "/moving.bin", 5 * 1024 * 1024 + 3, 5);

  bitsd_->Start();
  client_ = Connect();
  auto recovered = client_->GetJob(job->id());
  ASSERT_TRUE(recovered);
  ASSERT_EQ(WaitForState(*recovered, {JobState::kTransferred, JobState::kError}),
            JobState::kTransferred);
  ASSERT_TRUE(recovered->Complete());
  EXPECT_EQ(harness::Sha256OfFile(out() + "/moving.bin"),
            harness::Sha256OfFile(www() + "/moving.bin"));
}

TEST_F(DaemonTest, GracefulRestartKeepsEveryJobAndItsState) {
  harness::WriteRandomFile(www() + "/kept.bin", 64 * 1024, 6);
  auto waiting = client_->CreateJob("waiting");
  ASSERT_TRUE(waiting);
  ASSERT_TRUE(waiting->AddFile(server_->Url("/kept.bin"), out() + "/waiting.bin"));
  ASSERT_TRUE(waiting->SetDescription("kept across restarts"));
  auto done = client_->CreateJob("done");
  ASSERT_TRUE(done);
  ASSERT_TRUE(done->AddFile(server_->Url("/kept.bin"), out() + "/done.bin"));
  ASSERT_TRUE(done->Resume());
  ASSERT_EQ(WaitForState(*done, {JobState::kTransferred}), JobState::kTransferred);

  ASSERT_EQ(bitsd_->Stop(), 0);
  bitsd_->Start();
  client_ = Connect();

  auto waiting_again = client_->GetJob(waiting->id());
  ASSERT_TRUE(waiting_again);
  EXPECT_EQ(*waiting_again->GetState(), JobState::kSuspended);
  EXPECT_EQ(*waiting_again->GetDisplayName(), "waiting");
  EXPECT_EQ(*waiting_again->GetDescription(), "kept across restarts");
  auto done_again = client_->GetJob(done->id());
  ASSERT_TRUE(done_again);
  EXPECT_EQ(*done_again->GetState(), JobState::kTransferred);
  ASSERT_TRUE(done_again->Complete());
  EXPECT_EQ(harness::Sha256OfFile(out() + "/done.bin"), harness::Sha256OfFile(www() + "/kept.bin"));
}

TEST_F(DaemonTest, NotFoundEndsInErrorWithHttp404AndRemoteFileContext) {
  auto job = client_->CreateJob("missing");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFile(server_->Url("/no-such-file"), out() + "/x"));
  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(WaitForState(*job, {JobState::kError, JobState::kTransferred}), JobState::kError);
  auto error = job->GetError();
  ASSERT_TRUE(error) << error.error().ToString();
  EXPECT_EQ(error->code, 0x80190194u);
  EXPECT_EQ(error->context, ErrorContext::kRemoteFile);
  ASSERT_TRUE(error->file_index.has_value());
  EXPECT_EQ(*error->file_index, 0u);
  EXPECT_EQ(error->protocol, "http");
  EXPECT_NE(error->description.find("404"), std::string::npos);
  EXPECT_EQ(*job->GetErrorCount(), 1u);
  EXPECT_FALSE(fs::exists(out() + "/x"));

  const auto printed = harness::Run(Bitsadmin({"/geterror", job->id().ToString()}));
  EXPECT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_NE(printed.out.find("0x80190194 (BG_E_HTTP_ERROR_404)"), std::string::npos) << printed.out;
  EXPECT_NE(printed.out.find("ERROR CONTEXT: 0x00000005"), std::string::npos) << printed.out;
}

TEST_F(DaemonTest, ConnectionRefusedIsTransientErrorAndRetried) {
  auto job = client_->CreateJob("refused");
  ASSERT_TRUE(job);
  const std::string url = "http://127.0.0.1:" + std::to_string(harness::UnusedPort()) + "/x";
  ASSERT_TRUE(job->AddFile(url, out() + "/x"));
  ASSERT_TRUE(job->SetMinimumRetryDelay(5));
  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(WaitForState(*job, {JobState::kTransientError, JobState::kError}),
            JobState::kTransientError);
  auto error = job->GetError();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, hr::WINHTTP_CANNOT_CONNECT);
  EXPECT_EQ(error->context, ErrorContext::kRemoteFile);
  // After the minimum retry delay the scheduler tries again on its own.
  EXPECT_TRUE(harness::WaitUntil([&] { return *job->GetErrorCount() >= 2; }, 20s));
  EXPECT_EQ(WaitForState(*job, {JobState::kTransientError}), JobState::kTransientError);
}

TEST_F(DaemonTest, NoProgressTimeoutTurnsRepeatedTransientErrorsIntoAnError) {
  auto job = client_->CreateJob("hopeless");
  ASSERT_TRUE(job);
  const std::string url = "http://127.0.0.1:" + std::to_string(harness::UnusedPort()) + "/x";
  ASSERT_TRUE(job->AddFile(url, out() + "/x"));
  ASSERT_TRUE(job->SetMinimumRetryDelay(5));
  ASSERT_TRUE(job->SetNoProgressTimeout(7));
  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(WaitForState(*job, {JobState::kTransientError, JobState::kError}),
            JobState::kTransientError);
  // The retry 5 s later fails too, and the next one would come after the 7 s without progress.
  ASSERT_EQ(WaitForState(*job, {JobState::kError}, 20s), JobState::kError);
  EXPECT_EQ(job->GetError()->code, hr::WINHTTP_CANNOT_CONNECT);
  EXPECT_EQ(*job->GetErrorCount(), 2u);
}

TEST_F(DaemonTest, ServerErrorIsTransientAndClientErrorIsFatal) {
  auto busy = client_->CreateJob("busy");
  ASSERT_TRUE(busy);
  ASSERT_TRUE(busy->AddFile(server_->Url("/status/503"), out() + "/busy"));
  ASSERT_TRUE(busy->Resume());
  ASSERT_EQ(WaitForState(*busy, {JobState::kTransientError, JobState::kError}),
            JobState::kTransientError);
  EXPECT_EQ(busy->GetError()->code, 0x801901F7u);

  auto forbidden = client_->CreateJob("forbidden");
  ASSERT_TRUE(forbidden);
  ASSERT_TRUE(forbidden->AddFile(server_->Url("/status/403"), out() + "/forbidden"));
  ASSERT_TRUE(forbidden->Resume());
  ASSERT_EQ(WaitForState(*forbidden, {JobState::kTransientError, JobState::kError}),
            JobState::kError);
  EXPECT_EQ(forbidden->GetError()->code, 0x80190193u);
}

TEST_F(DaemonTest, ServerIgnoringRangeOnResumeIsInsufficientRangeSupport) {
  harness::WriteRandomFile(www() + "/norange.bin", 16 * 1024 * 1024, 7);
  auto job = client_->CreateJob("norange");
  ASSERT_TRUE(job);
  ASSERT_TRUE(
      job->AddFile(server_->Url("/norange.bin?rate=6000000&norange=1"), out() + "/norange.bin"));
  ASSERT_TRUE(job->Resume());
  ASSERT_TRUE(harness::WaitUntil(
      [&] { return CommittedOffset(bitsd_->state_dir(), job->id()) > 1024 * 1024; }));
  bitsd_->Kill();
  bitsd_->Start();
  client_ = Connect();
  auto recovered = client_->GetJob(job->id());
  ASSERT_TRUE(recovered);
  ASSERT_EQ(WaitForState(*recovered, {JobState::kError, JobState::kTransferred}), JobState::kError);
  EXPECT_EQ(recovered->GetError()->code, hr::BG_E_INSUFFICIENT_RANGE_SUPPORT);
}

}  // namespace
}  // namespace openbits::integration
