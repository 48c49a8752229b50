// Reliability tests: local faults. Each fault ends in the expected state with an error that
// names its cause (docs/reliability.md).
//
// The state directory: a corrupt or emptied job database, a second bitsd on the same
// directory, a read-only directory at start and a full one during a transfer.
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "integration/daemon_fixture.h"

namespace openbits::reliability {
namespace {

namespace fs = std::filesystem;
using integration::DaemonTest;
using namespace std::chrono_literals;

// Runs bitsd to its end (it is expected to refuse to start); a bitsd still running after
// `timeout` is killed, which shows as 128 + SIGKILL.
harness::CommandResult RunBitsd(const std::string& bus, const std::string& state_dir,
                                std::chrono::milliseconds timeout = 20s) {
  return harness::Run({harness::BitsdPath(), "--bus=" + bus, "--state-dir=" + state_dir,
                       "--config=/dev/null", "--log-level=debug"},
                      std::nullopt, timeout);
}

// A result's value, or `fallback` when the call failed.
template <typename T>
T Or(Result<T> result, T fallback) {
  return result ? std::move(*result) : std::move(fallback);
}

std::string Output(const harness::CommandResult& result) { return result.out + result.err; }

std::size_t CountOccurrences(const std::string& haystack, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

std::string CorruptCopyIn(const std::string& state_dir) {
  for (const auto& entry : fs::directory_iterator(state_dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("jobs.db.corrupt-") && !name.ends_with("-wal") &&
        !name.ends_with("-shm")) {
      return entry.path().string();
    }
  }
  return "";
}

// ---- Corrupt and emptied databases ------------------------------------------------------

class CorruptDatabaseTest : public DaemonTest {
 protected:
  static std::string Description(int i) {
    // Long enough that the jobs table spans several pages (about three rows per page).
    const std::string tag = "job-" + std::to_string(100 + i) + "-";
    return tag + std::string(1000 - tag.size(), 'd');
  }
};

TEST_F(CorruptDatabaseTest, ACorruptPageIsMovedAsideAndTheReadableJobsComeBack) {
  constexpr int kJobs = 24;
  std::map<std::string, std::string> description_of;  // job id -> description
  for (int i = 0; i < kJobs; ++i) {
    auto job = client_->CreateJob("corrupt-" + std::to_string(i));
    ASSERT_TRUE(job) << job.error().ToString();
    ASSERT_TRUE(
        job->AddFile(server_->Url("/f" + std::to_string(i)), out() + "/f" + std::to_string(i)));
    // Set last, so that the description is written to the database exactly once.
    ASSERT_TRUE(job->SetDescription(Description(i)));
    description_of[job->id().ToString()] = Description(i);
  }
  client_.reset();
  ASSERT_EQ(bitsd_->Stop(), 0);

  // Overwrite the page that holds job 12's row, with bitsd stopped.
  const std::string db = bitsd_->state_dir() + "/jobs.db";
  ASSERT_FALSE(fs::exists(db + "-wal")) << "a clean stop checkpoints the WAL";
  std::string bytes = harness::ReadFile(db);
  const std::string victim = "job-112-";
  ASSERT_EQ(CountOccurrences(bytes, victim), 1u);
  const std::size_t page_size =
      (static_cast<unsigned char>(bytes[16]) << 8) | static_cast<unsigned char>(bytes[17]);
  const std::size_t page_start = bytes.find(victim) / page_size * page_size;
  ASSERT_GT(page_start, 0u) << "not the header page";
  {
    std::fstream file(db, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(page_start));
    const std::string garbage(page_size, '\xA5');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }

  // bitsd starts, keeps the corrupt file beside the new one and says where.
  bitsd_->Start();
  const std::string kept = CorruptCopyIn(bitsd_->state_dir());
  ASSERT_FALSE(kept.empty()) << bitsd_->Log();
  EXPECT_NE(bitsd_->Log().find(kept), std::string::npos) << "the log names the kept copy";
  EXPECT_EQ(harness::ReadFile(kept).substr(page_start, 16), std::string(16, '\xA5'))
      << "the kept copy is the corrupt file, unchanged";

  // The readable jobs are back, whole; the jobs on the corrupt page are not.
  client_ = Connect();
  auto jobs = client_->EnumJobs();
  ASSERT_TRUE(jobs) << jobs.error().ToString();
  EXPECT_GT(jobs->size(), kJobs / 2u);
  EXPECT_LT(jobs->size(), static_cast<std::size_t>(kJobs));
  std::set<std::string> back;
  for (Job& job : *jobs) {
    const std::string id = job.id().ToString();
    ASSERT_TRUE(description_of.contains(id));
    EXPECT_EQ(Or(job.GetDescription(), std::string()), description_of[id]);
    auto files = job.EnumFiles();
    ASSERT_TRUE(files);
    EXPECT_EQ(files->size(), 1u);
    EXPECT_EQ(Or(job.GetState(), JobState::kError), JobState::kSuspended);
    back.insert(Or(job.GetDescription(), std::string()).substr(0, 8));
  }
  EXPECT_TRUE(back.contains("job-100-")) << "the first job, before the corrupt page";
  EXPECT_TRUE(back.contains("job-123-")) << "the last job, after the corrupt page";
  EXPECT_FALSE(back.contains(victim));

  // The recovered queue works: a recovered job transfers.
  harness::WriteRandomFile(www() + "/f0", 1 << 16, 7);
  for (Job& job : *jobs) {
    if (Or(job.GetDescription(), std::string()).starts_with("job-100-")) {
      ASSERT_TRUE(job.Resume());
      EXPECT_EQ(WaitForState(job, {JobState::kTransferred, JobState::kError}),
                JobState::kTransferred);
      EXPECT_TRUE(job.Complete());
      EXPECT_EQ(harness::Sha256OfFile(out() + "/f0"), harness::Sha256OfFile(www() + "/f0"));
    }
  }
}

TEST_F(CorruptDatabaseTest, AnEmptiedDatabaseOfAQueueThatHeldJobsIsNotTakenAsEmpty) {
  auto job = client_->CreateJob("held");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFile(server_->Url("/f"), out() + "/f"));
  client_.reset();
  ASSERT_EQ(bitsd_->Stop(), 0);
  const std::string db = bitsd_->state_dir() + "/jobs.db";
  fs::resize_file(db, 0);  // what a truncating restore or a broken copy leaves

  const auto refused = RunBitsd(bus_->address(), bitsd_->state_dir());
  EXPECT_EQ(refused.exit_code, 1) << Output(refused);
  EXPECT_NE(Output(refused).find(db), std::string::npos) << Output(refused);
  EXPECT_NE(Output(refused).find("held jobs"), std::string::npos) << Output(refused);
  // The evidence is kept as it was: nothing replaced the emptied file.
  EXPECT_EQ(fs::file_size(db), 0u);
  EXPECT_FALSE(fs::exists(db + "-wal"));

  // Starting with an empty queue is the operator's decision: remove the marker.
  fs::remove(bitsd_->state_dir() + "/jobs.db.held-jobs");
  bitsd_->Start();
  client_ = Connect();
  EXPECT_TRUE(client_->EnumJobs()->empty());
}

TEST_F(CorruptDatabaseTest, AQueueThatNeverHeldJobsStartsFromAnEmptyDatabase) {
  client_.reset();
  ASSERT_EQ(bitsd_->Stop(), 0);
  fs::resize_file(bitsd_->state_dir() + "/jobs.db", 0);
  bitsd_->Start();
  client_ = Connect();
  EXPECT_TRUE(client_->EnumJobs()->empty());
}

// ---- One bitsd per state directory ------------------------------------------------------

TEST_F(DaemonTest, ASecondBitsdOnTheSameStateDirectoryRefusesAndNamesTheFirst) {
  harness::TempDir other;
  harness::PrivateBus other_bus(other);  // another bus: only the directory is shared
  const auto second = RunBitsd(other_bus.address(), bitsd_->state_dir());
  EXPECT_EQ(second.exit_code, 1) << Output(second);
  EXPECT_NE(Output(second).find("pid " + std::to_string(bitsd_->pid())), std::string::npos)
      << Output(second);
  EXPECT_NE(Output(second).find(bitsd_->state_dir()), std::string::npos) << Output(second);

  // The first keeps working.
  harness::WriteRandomFile(www() + "/after", 1 << 20, 11);
  const Outcome outcome = RunJob("after", server_->Url("/after"), [](Job&) { return Ok(); });
  EXPECT_EQ(outcome.state, JobState::kTransferred);
  EXPECT_EQ(outcome.sha256, harness::Sha256OfFile(www() + "/after"));
}

// ---- The state directory's file system --------------------------------------------------

bool MountTmpfs(const std::string& dir, const std::string& options) {
  fs::create_directories(dir);
  return mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0;
}

TEST(StateDirectory, ReadOnlyAtStartIsRefusedNamingThePathAndErrno) {
  harness::TempDir dir;
  const std::string state = dir / "state";
  if (!MountTmpfs(state, "size=1m,mode=0700")) GTEST_SKIP() << "needs root to mount a tmpfs";
  // A state directory that held a queue, then mounted read-only.
  harness::WriteFile(state + "/jobs.db", "");
  ASSERT_EQ(mount("tmpfs", state.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=1m"), 0)
      << std::strerror(errno);
  harness::PrivateBus bus(dir);
  const auto refused = RunBitsd(bus.address(), state);
  umount2(state.c_str(), MNT_DETACH);
  EXPECT_EQ(refused.exit_code, 1) << Output(refused);
  EXPECT_NE(Output(refused).find(state), std::string::npos) << Output(refused);
  EXPECT_NE(Output(refused).find("EROFS"), std::string::npos) << Output(refused);
}

// The state directory on a small tmpfs that the test fills during a transfer.
class FullStateDirectoryTest : public DaemonTest {
 protected:
  void SetUp() override {
    state_ = dir_ / "state";
    if (!MountTmpfs(state_, "size=4m,mode=0700")) GTEST_SKIP() << "needs root to mount a tmpfs";
    mounted_ = true;
    DaemonTest::SetUp();
  }
  void TearDown() override {
    DaemonTest::TearDown();
    if (mounted_) umount2(state_.c_str(), MNT_DETACH);
  }
  // Writes a file until the file system has no space left.
  void Fill() {
    const int fd = open((state_ + "/filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    const std::string block(64 * 1024, 'f');
    ssize_t written;
    while ((written = write(fd, block.data(), block.size())) > 0) {
    }
    const int error = errno;
    close(fd);
    ASSERT_EQ(written, -1);
    ASSERT_EQ(error, ENOSPC);
  }
  std::string state_;
  bool mounted_ = false;
};

TEST_F(FullStateDirectoryTest, ATransferWaitsInTransientErrorAndCompletesWhenSpaceReturns) {
  constexpr std::uint64_t kSize = 6 << 20;
  harness::WriteRandomFile(www() + "/big", kSize, 5);
  auto job = client_->CreateJob("full");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFile(server_->Url("/big?rate=1000000"), out() + "/big"));
  ASSERT_TRUE(job->SetMinimumRetryDelay(5));
  ASSERT_TRUE(job->Resume());
  ASSERT_TRUE(harness::WaitUntil([&] {
    auto progress = job->GetProgress();
    return progress && progress->bytes_transferred > 0;
  }));

  Fill();
  // The next checkpoint cannot be recorded: the job waits, with an error naming the disk.
  ASSERT_EQ(WaitForState(*job, {JobState::kTransientError, JobState::kTransferred}),
            JobState::kTransientError);
  auto error = job->GetError();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, hr::ERROR_DISK_FULL);
  EXPECT_EQ(error->context, ErrorContext::kGeneralQueueManager);
  EXPECT_NE(error->description.find(state_), std::string::npos) << error->description;
  EXPECT_NE(error->description.find("ENOSPC"), std::string::npos) << error->description;
  // Its retries fail the same way while the disk stays full; nothing reaches TRANSFERRED.
  ASSERT_TRUE(harness::WaitUntil([&] { return Or(job->GetErrorCount(), 0u) >= 2; }, 20s))
      << "the job retries after its retry delay";
  EXPECT_EQ(Or(job->GetState(), JobState::kError), JobState::kTransientError);

  // Space returns: the job resumes and finishes.
  fs::remove(state_ + "/filler");
  ASSERT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}, 60s),
            JobState::kTransferred);

  // What was reported is what the database holds: after a crash the job is still TRANSFERRED,
  // with every byte recorded.
  client_.reset();
  bitsd_->Kill();
  bitsd_->Start();
  client_ = Connect();
  auto again = client_->GetJob(job->id());
  ASSERT_TRUE(again);
  EXPECT_EQ(Or(again->GetState(), JobState::kError), JobState::kTransferred);
  auto progress = again->GetProgress();
  ASSERT_TRUE(progress);
  EXPECT_EQ(progress->bytes_transferred, kSize);
  ASSERT_TRUE(again->Complete());
  EXPECT_EQ(harness::Sha256OfFile(out() + "/big"), harness::Sha256OfFile(www() + "/big"));
}

TEST_F(FullStateDirectoryTest, AQueueOnAFullDiskStartsAndResumesWhenSpaceReturns) {
  constexpr std::uint64_t kSize = 4 << 20;
  harness::WriteRandomFile(www() + "/big", kSize, 9);
  Guid id;
  {
    auto job = client_->CreateJob("full-at-start");
    ASSERT_TRUE(job);
    id = job->id();
    ASSERT_TRUE(job->AddFile(server_->Url("/big?rate=1000000"), out() + "/big"));
    ASSERT_TRUE(job->SetMinimumRetryDelay(5));
    ASSERT_TRUE(job->Resume());
    ASSERT_TRUE(harness::WaitUntil([&] {
      auto progress = job->GetProgress();
      return progress && progress->bytes_transferred > 0;
    }));
  }
  // A crash mid-transfer, then the disk fills before bitsd comes back.
  client_.reset();
  bitsd_->Kill();
  Fill();
  bitsd_->Start();
  client_ = Connect();
  auto job = client_->GetJob(id);
  ASSERT_TRUE(job);
  ASSERT_EQ(WaitForState(*job, {JobState::kTransientError, JobState::kTransferred}),
            JobState::kTransientError);
  auto error = job->GetError();
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, hr::ERROR_DISK_FULL);
  EXPECT_NE(error->description.find(state_), std::string::npos) << error->description;

  fs::remove(state_ + "/filler");
  ASSERT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}, 60s),
            JobState::kTransferred);
  ASSERT_TRUE(job->Complete());
  EXPECT_EQ(harness::Sha256OfFile(out() + "/big"), harness::Sha256OfFile(www() + "/big"));
}

}  // namespace
}  // namespace openbits::reliability
