// Security tests: the resources boundary. Each case is an attack by a local user, an
// administrator or a hostile server, asserting the secure outcome (docs/security.md).
#include <atomic>
#include <iostream>
#include <thread>

#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

using Clock = std::chrono::steady_clock;

class ResourcesTest : public DaemonTest {};

// One bus call with 100,000 files: refused by its count before any of them touches the disk,
// while the daemon keeps answering everybody else. Sanitized builds send an eighth of it (still
// 60 times max_files_per_job): under ASan, marshalling the 12 MB message takes tens of seconds
// (it grows faster than the message: 12,500 entries take 0.13 s, 100,000 took 35 s), which
// says nothing about the daemon.
TEST_F(ResourcesTest, AHugeAddFileSetIsRefusedAtOnceAndTheBusStaysResponsive) {
  auto job = client_->CreateJob("flood");
  ASSERT_TRUE(job);
  std::vector<std::pair<std::string, std::string>> files;
  const int count = 100'000 / harness::kTimeScale;
  files.reserve(count);
  for (int i = 0; i < count; ++i) {
    files.emplace_back(server_->Url("/f" + std::to_string(i)),
                       out() + "/f" + std::to_string(i) + ".bin");
  }
  auto other = Connect();  // another client, on a connection of its own

  std::atomic<bool> finished{false};
  Status added = Ok();
  Clock::duration took{};
  std::thread flood([&] {
    const auto start = Clock::now();
    added = job->AddFileSet(files);
    took = Clock::now() - start;
    finished = true;
  });
  // While the flood is on the bus, every call of the other client is answered within 2 s
  // (scaled in sanitized builds).
  Clock::duration slowest{};
  int calls = 0;
  do {
    const auto start = Clock::now();
    ASSERT_TRUE(other->EnumJobs()) << "the daemon stopped answering";
    slowest = std::max(slowest, Clock::now() - start);
    ++calls;
  } while (!finished);
  flood.join();

  std::cout << "AddFileSet of " << files.size() << " files answered in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
            << " ms; the other client's slowest call of " << calls << ": "
            << std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count() << " ms\n";
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code(), hr::BG_E_TOO_MANY_FILES_IN_JOB) << added.error().ToString();
  EXPECT_LT(took, 2s * harness::kTimeScale)
      << "AddFileSet took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
      << " ms";
  EXPECT_LT(slowest, 2s * harness::kTimeScale)
      << "another client waited "
      << std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count() << " ms (" << calls
      << " calls)";
  auto listed = job->EnumFiles();
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->empty());
}

// Strings from the bus that reach the core are bounded: a local name longer than PATH_MAX is
// refused before any file-system call.
TEST_F(ResourcesTest, ALocalNameLongerThanPathMaxIsRefused) {
  auto job = client_->CreateJob("long name");
  ASSERT_TRUE(job);
  const Status added = job->AddFile(server_->Url("/x"), out() + "/" + std::string(5000, 'n'));
  ASSERT_FALSE(added);
  EXPECT_EQ(added.error().code(), hr::E_INVALIDARG) << added.error().ToString();
  EXPECT_NE(added.error().message().find("4095"), std::string::npos) << added.error().ToString();
}

}  // namespace
}  // namespace openbits::integration
