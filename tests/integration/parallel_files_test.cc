// [engine] parallel_files end to end: a job of many files fetched several at a time from
// Apache, every file's bytes checked by hash.
#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

class ParallelFilesTest : public DaemonTest {
 protected:
  void SetUp() override {
    if (!harness::Apache::Installed()) GTEST_SKIP() << "Apache httpd is not installed";
    pki_ = harness::MakeTestPki(dir_, "parallel");
    DaemonTest::SetUp();
    apache_ = std::make_unique<harness::Apache>(dir_, www(), pki_);
  }
  std::string Config() override {
    return DaemonTest::Config() +
           "[limits]\nmax_files_per_job = 300\n[engine]\nparallel_files = 8\n[tls]\n"
           "extra_ca_file = " +
           pki_.ca_cert + "\n";
  }

  harness::TestPki pki_;
  std::unique_ptr<harness::Apache> apache_;
};

TEST_F(ParallelFilesTest, TwoHundredFilesEightAtATimeArriveWhole) {
  constexpr int kFiles = 200;
  std::vector<std::pair<std::string, std::string>> files;
  std::uint64_t total = 0;
  for (int i = 0; i < kFiles; ++i) {
    const std::string name = "f" + std::to_string(i) + ".bin";
    // Sizes from 0 to ~100 KiB, so that files finish out of order.
    const std::uint64_t size = (static_cast<std::uint64_t>(i) * 7919) % (100 * 1024);
    harness::WriteRandomFile(www() + "/" + name, size, static_cast<std::uint32_t>(i + 1));
    files.emplace_back(apache_->OptionalUrl("/" + name), out() + "/" + name);
    total += size;
  }
  auto job = client_->CreateJob("parallel");
  ASSERT_TRUE(job) << job.error().ToString();
  ASSERT_TRUE(job->AddFileSet(files));
  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}, 120s),
            JobState::kTransferred)
      << (job->GetError() ? job->GetError()->description : "");
  auto progress = job->GetProgress();
  ASSERT_TRUE(progress);
  EXPECT_EQ(progress->files_transferred, static_cast<std::uint32_t>(kFiles));
  EXPECT_EQ(progress->bytes_transferred, total);
  EXPECT_EQ(progress->bytes_total, total);
  auto completed = job->Complete();
  ASSERT_TRUE(completed) << completed.error().ToString();
  EXPECT_EQ(*completed, hr::S_OK);
  for (int i = 0; i < kFiles; ++i) {
    const std::string name = "f" + std::to_string(i) + ".bin";
    EXPECT_EQ(harness::Sha256OfFile(out() + "/" + name), harness::Sha256OfFile(www() + "/" + name))
        << name;
  }
}

}  // namespace
}  // namespace openbits::integration
