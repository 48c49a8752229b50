// Reliability tests: destination faults. The destination directory is removed, made
// unwritable or fills up while a file downloads into it: the job must stop while it transfers,
// with an error of context LOCAL_FILE that names the path and the errno, and never reach
// TRANSFERRED only for Complete to fail (docs/reliability.md).
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

namespace fs = std::filesystem;

class DestinationFaultTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    // 8 MiB at 2 MB/s: about four seconds of transfer to break into.
    harness::WriteRandomFile(www() + "/big.bin", 8 * 1024 * 1024, 90);
  }
  void TearDown() override {
    DaemonTest::TearDown();
    if (!mounted_.empty()) harness::Run({"/usr/bin/umount", "-l", mounted_});
  }

  // Waits for the end of the job and checks it ended as `state` with `code`, LOCAL_FILE, and a
  // message that names `path` and `errno_name`.
  void ExpectLocalFileError(Job& job, JobState state, HRESULT code, const std::string& path,
                            const std::string& errno_name) {
    const JobState ended =
        WaitForState(job, {JobState::kTransferred, JobState::kError, JobState::kTransientError});
    auto error = job.GetError();
    ASSERT_EQ(ended, state) << (error ? error->description : "no error");
    ASSERT_TRUE(error);
    RecordProperty("message", error->description);  // for docs/reliability.md
    EXPECT_EQ(error->code, code) << HresultName(error->code).value_or("?") << ": "
                                 << error->description;
    EXPECT_EQ(error->context, ErrorContext::kLocalFile) << error->description;
    EXPECT_NE(error->description.find(path), std::string::npos) << error->description;
    EXPECT_NE(error->description.find(errno_name), std::string::npos) << error->description;
    EXPECT_EQ(error->file_index, 0u);
  }

  std::string mounted_;
};

TEST_F(DestinationFaultTest, DirectoryRemovedWhileTransferringIsAnErrorNamingIt) {
  const std::string dir = out() + "/gone";
  fs::create_directories(dir);
  auto job = client_->CreateJob("removed");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFile(server_->Url("/big.bin?rate=2000000"), dir + "/big.bin"));
  ASSERT_TRUE(job->Resume());
  ASSERT_TRUE(harness::WaitUntil([&] { return job->GetProgress()->bytes_transferred > 500'000; }));
  fs::remove_all(dir);
  ExpectLocalFileError(*job, JobState::kError, hr::ERROR_PATH_NOT_FOUND, dir, "ENOENT");
  EXPECT_TRUE(job->Cancel());
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(DestinationFaultTest, DirectoryMadeUnwritableWhileTransferringIsAnErrorNamingIt) {
  // Root may write anywhere: the owner must be an ordinary user.
  const passwd* alice = getpwnam("openbits-alice");
  if (!alice) GTEST_SKIP() << "user openbits-alice is missing (tests/run.sh makes it)";
  const harness::RunAs as_alice{alice->pw_uid, alice->pw_gid};
  const std::string dir = out() + "/alice";
  fs::create_directories(dir);
  ASSERT_EQ(chown(dir.c_str(), alice->pw_uid, alice->pw_gid), 0);
  const auto created = harness::Run(Bitsadmin({"/rawreturn", "/create", "unwritable"}), as_alice);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const auto id = Guid::Parse(created.out.substr(0, created.out.find('\n')));
  ASSERT_TRUE(id) << created.out;
  const std::string url = server_->Url("/big.bin?rate=2000000");
  ASSERT_EQ(harness::Run(Bitsadmin({"/addfile", id->ToString(), url, dir + "/big.bin"}), as_alice)
                .exit_code,
            0);
  ASSERT_EQ(harness::Run(Bitsadmin({"/resume", id->ToString()}), as_alice).exit_code, 0);
  auto job = client_->GetJob(*id);  // an administrator watches it
  ASSERT_TRUE(job) << job.error().ToString();
  ASSERT_TRUE(harness::WaitUntil([&] { return job->GetProgress()->bytes_transferred > 500'000; }));
  ASSERT_EQ(chmod(dir.c_str(), 0555), 0);
  ExpectLocalFileError(*job, JobState::kError, hr::E_ACCESSDENIED, dir, "EACCES");
  EXPECT_TRUE(job->Cancel());
}

TEST_F(DestinationFaultTest, FullFileSystemIsATransientErrorNamingThePath) {
  const std::string dir = out() + "/small";
  fs::create_directories(dir);
  const auto mounted =
      harness::Run({"/usr/bin/mount", "-t", "tmpfs", "-o", "size=1m", "openbits-test", dir});
  if (mounted.exit_code != 0) GTEST_SKIP() << "cannot mount a tmpfs: " << mounted.err;
  mounted_ = dir;
  auto job = client_->CreateJob("full");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFile(server_->Url("/big.bin"), dir + "/big.bin"));
  ASSERT_TRUE(job->SetMinimumRetryDelay(60));
  ASSERT_TRUE(job->Resume());
  // DESIGN.md 6: a full disk is transient; BITS retries once space may have been freed.
  ExpectLocalFileError(*job, JobState::kTransientError, hr::ERROR_DISK_FULL, dir, "ENOSPC");
  EXPECT_TRUE(job->Cancel());
  // Cancel deleted the partial file: the space is free again.
  EXPECT_TRUE(fs::is_empty(dir));
}

}  // namespace
}  // namespace openbits::integration
