// [engine] parallel_files and the job property OPENBITS_JOB_PROPERTY_PARALLEL_FILES end to
// end: a job of many files fetched several at a time from Apache, every file's bytes checked
// by hash.
#include <algorithm>
#include <sstream>

#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

// bitsd and Apache (TLS with the test PKI); `engine_config_`: what bitsd.conf adds.
class ApacheDaemonTest : public DaemonTest {
 protected:
  explicit ApacheDaemonTest(std::string engine_config) : engine_config_(std::move(engine_config)) {}
  void SetUp() override {
    if (!harness::Apache::Installed()) GTEST_SKIP() << "Apache httpd is not installed";
    pki_ = harness::MakeTestPki(dir_, "parallel");
    DaemonTest::SetUp();
    apache_ = std::make_unique<harness::Apache>(dir_, www(), pki_);
  }
  std::string Config() override {
    return DaemonTest::Config() + engine_config_ + "[tls]\nextra_ca_file = " + pki_.ca_cert + "\n";
  }

  // `count` files <prefix><i>.bin of size_of(i) random bytes in Apache's root: their
  // (URL, destination) pairs, and their total size in `total`.
  template <typename SizeOf>
  std::vector<std::pair<std::string, std::string>> ServeFiles(const std::string& prefix, int count,
                                                              SizeOf size_of,
                                                              std::uint64_t& total) {
    std::vector<std::pair<std::string, std::string>> files;
    total = 0;
    for (int i = 0; i < count; ++i) {
      const std::string name = prefix + std::to_string(i) + ".bin";
      const std::uint64_t size = size_of(i);
      harness::WriteRandomFile(www() + "/" + name, size, static_cast<std::uint32_t>(i + 1));
      files.emplace_back(apache_->OptionalUrl("/" + name), out() + "/" + name);
      total += size;
    }
    return files;
  }
  // Resumes the job, waits for TRANSFERRED and checks the job's progress.
  void TransferAll(openbits::Job& job, int count, std::uint64_t total) {
    ASSERT_TRUE(job.Resume());
    ASSERT_EQ(WaitForState(job, {JobState::kTransferred, JobState::kError}, 120s),
              JobState::kTransferred)
        << (job.GetError() ? job.GetError()->description : "");
    auto progress = job.GetProgress();
    ASSERT_TRUE(progress);
    EXPECT_EQ(progress->files_transferred, static_cast<std::uint32_t>(count));
    EXPECT_EQ(progress->bytes_transferred, total);
    EXPECT_EQ(progress->bytes_total, total);
  }
  // Completes the job and compares every delivered file with the server's by hash.
  void CompleteAndCheck(openbits::Job& job,
                        const std::vector<std::pair<std::string, std::string>>& files) {
    auto completed = job.Complete();
    ASSERT_TRUE(completed) << completed.error().ToString();
    EXPECT_EQ(*completed, hr::S_OK);
    for (const auto& [url, path] : files) {
      const std::string name = path.substr(path.rfind('/') + 1);
      EXPECT_EQ(harness::Sha256OfFile(path), harness::Sha256OfFile(www() + "/" + name)) << name;
    }
  }

  const std::string engine_config_;
  harness::TestPki pki_;
  std::unique_ptr<harness::Apache> apache_;
};

class ParallelFilesTest : public ApacheDaemonTest {
 protected:
  ParallelFilesTest()
      : ApacheDaemonTest("[limits]\nmax_files_per_job = 300\n[engine]\nparallel_files = 8\n") {}
};

TEST_F(ParallelFilesTest, TwoHundredFilesEightAtATimeArriveWhole) {
  constexpr int kFiles = 200;
  std::uint64_t total = 0;
  // Sizes from 0 to ~100 KiB, so that files finish out of order.
  const auto files = ServeFiles(
      "f", kFiles, [](int i) { return (static_cast<std::uint64_t>(i) * 7919) % (100 * 1024); },
      total);
  auto job = client_->CreateJob("parallel");
  ASSERT_TRUE(job) << job.error().ToString();
  ASSERT_TRUE(job->AddFileSet(files));
  ASSERT_NO_FATAL_FAILURE(TransferAll(*job, kFiles, total));
  ASSERT_NO_FATAL_FAILURE(CompleteAndCheck(*job, files));
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
// bitsd's default: one file at a time.
class ParallelFilesPropertyTest : public ApacheDaemonTest {
 protected:
  ParallelFilesPropertyTest() : ApacheDaemonTest("") {}
};

TEST_F(ParallelFilesPropertyTest, AJobSetToEightFetchesSeveralFilesAtOnceWhereBitsdSaysOne) {
  constexpr int kFiles = 64;
  std::uint64_t total = 0;
  const auto files = ServeFiles(
      "p", kFiles, [](int i) { return 256 * 1024 + static_cast<std::uint64_t>(i) * 1000; }, total);
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

  ASSERT_NO_FATAL_FAILURE(TransferAll(*job, kFiles, total));
  // Apache logs a request once it has answered it: every file's GET is there.
  ASSERT_TRUE(harness::WaitUntil([&] {
    const std::string log = apache_->AccessLog();
    return std::count(log.begin(), log.end(), '\n') >= kFiles;
  })) << apache_->AccessLog();
  const int most = MostRequestsAtOnce(apache_->AccessLog());
  EXPECT_GT(most, 1) << apache_->AccessLog();
  ASSERT_NO_FATAL_FAILURE(CompleteAndCheck(*job, files));
}

}  // namespace
}  // namespace openbits::integration
