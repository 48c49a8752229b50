// [engine] parallel_files and the job property OPENBITS_JOB_PROPERTY_PARALLEL_FILES end to
// end: a job of many files fetched several at a time from Apache, every file's bytes checked
// by hash.
#include <algorithm>
#include <sstream>

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

// The most requests Apache was serving at once, from its access log ("<begin us> <end us>
// <path>" a line).
int MostRequestsAtOnce(const std::string& access_log) {
  std::vector<std::pair<long long, int>> edges;  // (time, +1 begin / -1 end)
  std::istringstream lines(access_log);
  long long begin = 0;
  long long end = 0;
  std::string path;
  while (lines >> begin >> end >> path) {
    edges.emplace_back(begin, +1);
    edges.emplace_back(end, -1);
  }
  std::sort(edges.begin(), edges.end());  // at equal times an end comes before a begin
  int now = 0;
  int most = 0;
  for (const auto& [time, step] : edges) most = std::max(most, now += step);
  return most;
}

// bitsd's own default: one file at a time; the job asks for eight through its property.
class ParallelFilesPropertyTest : public DaemonTest {
 protected:
  void SetUp() override {
    if (!harness::Apache::Installed()) GTEST_SKIP() << "Apache httpd is not installed";
    pki_ = harness::MakeTestPki(dir_, "parallel-property");
    DaemonTest::SetUp();
    apache_ = std::make_unique<harness::Apache>(dir_, www(), pki_);
  }
  std::string Config() override {
    return DaemonTest::Config() + "[tls]\nextra_ca_file = " + pki_.ca_cert + "\n";
  }

  harness::TestPki pki_;
  std::unique_ptr<harness::Apache> apache_;
};

TEST_F(ParallelFilesPropertyTest, AJobSetToEightFetchesSeveralFilesAtOnceWhereBitsdSaysOne) {
  constexpr int kFiles = 64;
  std::vector<std::pair<std::string, std::string>> files;
  std::uint64_t total = 0;
  for (int i = 0; i < kFiles; ++i) {
    const std::string name = "p" + std::to_string(i) + ".bin";
    const std::uint64_t size = 256 * 1024 + static_cast<std::uint64_t>(i) * 1000;
    harness::WriteRandomFile(www() + "/" + name, size, static_cast<std::uint32_t>(i + 100));
    files.emplace_back(apache_->OptionalUrl("/" + name), out() + "/" + name);
    total += size;
  }
  auto job = client_->CreateJob("parallel-property");
  ASSERT_TRUE(job) << job.error().ToString();
  ASSERT_TRUE(job->AddFileSet(files));
  const std::string id = job->id().ToString();
  // Through bitsadmin: the default, a value out of range, then eight.
  EXPECT_EQ(harness::Run(Bitsadmin({"/getparallelfiles", id})).out, "0\n");
  const auto too_many = harness::Run(Bitsadmin({"/setparallelfiles", id, "65"}));
  EXPECT_EQ(too_many.exit_code, 1);
  EXPECT_NE((too_many.out + too_many.err).find("0x80070057"), std::string::npos)
      << too_many.out << too_many.err;
  const auto set = harness::Run(Bitsadmin({"/setparallelfiles", id, "8"}));
  ASSERT_EQ(set.exit_code, 0) << set.out << set.err;
  EXPECT_EQ(harness::Run(Bitsadmin({"/getparallelfiles", id})).out, "8\n");
  auto value = job->GetParallelFiles();
  ASSERT_TRUE(value) << value.error().ToString();
  EXPECT_EQ(*value, 8u);

  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}, 120s),
            JobState::kTransferred)
      << (job->GetError() ? job->GetError()->description : "");
  auto progress = job->GetProgress();
  ASSERT_TRUE(progress);
  EXPECT_EQ(progress->files_transferred, static_cast<std::uint32_t>(kFiles));
  EXPECT_EQ(progress->bytes_transferred, total);
  // Apache logs a request once it has answered it: every file's GET is there.
  ASSERT_TRUE(harness::WaitUntil([&] {
    const std::string log = apache_->AccessLog();
    return std::count(log.begin(), log.end(), '\n') >= kFiles;
  })) << apache_->AccessLog();
  const int most = MostRequestsAtOnce(apache_->AccessLog());
  EXPECT_GT(most, 1) << apache_->AccessLog();
  auto completed = job->Complete();
  ASSERT_TRUE(completed) << completed.error().ToString();
  EXPECT_EQ(*completed, hr::S_OK);
  for (int i = 0; i < kFiles; ++i) {
    const std::string name = "p" + std::to_string(i) + ".bin";
    EXPECT_EQ(harness::Sha256OfFile(out() + "/" + name), harness::Sha256OfFile(www() + "/" + name))
        << name;
  }
}

}  // namespace
}  // namespace openbits::integration
