// AddFileWithRanges against the range server: one multi-range request, or one range at a
// time from a server that answers only the first range of each request.
#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

class RangesTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    harness::WriteRandomFile(www() + "/source.bin", 1024 * 1024, 60);
    source_ = harness::ReadFile(www() + "/source.bin");
  }
  // What the local file must hold: the ranges of the source, concatenated.
  std::string Expected(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges) {
    std::string expected;
    for (const auto& [offset, length] : ranges) {
      expected += source_.substr(offset, length == kLengthToEof ? std::string::npos : length);
    }
    return expected;
  }
  std::size_t GetsFor(const std::string& query) {
    std::size_t count = 0;
    for (const std::string& line : server_->LogLines()) {
      if (line.find("/source.bin" + query) != std::string::npos) ++count;
    }
    return count;
  }

  std::string source_;
};

TEST_F(RangesTest, SeveralRangesComeInOneMultipartResponse) {
  // Given out of order; the last one runs to the end of the file.
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges = {
      {900000, kLengthToEof}, {100, 1000}, {5000, 20}};
  auto job = client_->CreateJob("ranges");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFileWithRanges(server_->Url("/source.bin"), out() + "/parts.bin", ranges));
  auto stored = job->GetFileRanges(0);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->front(), (std::pair<std::uint64_t, std::uint64_t>{100, 1000}));
  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}), JobState::kTransferred);
  const std::uint64_t size = 1000 + 20 + (1024 * 1024 - 900000);
  EXPECT_EQ(job->GetProgress()->bytes_total, size);
  ASSERT_TRUE(job->Complete());
  const std::string sorted_expected = Expected({{100, 1000}, {5000, 20}, {900000, kLengthToEof}});
  EXPECT_EQ(harness::ReadFile(out() + "/parts.bin"), sorted_expected);
  EXPECT_EQ(GetsFor(""), 1u);
}

TEST_F(RangesTest, AServerThatAnswersOneRangeAtATimeIsAskedAgainForTheRest) {
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges = {
      {0, 10}, {10, 10}, {70000, 300}, {500000, 4096}};
  auto job = client_->CreateJob("single");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFileWithRanges(server_->Url("/source.bin?singlerange=1"),
                                     out() + "/single.bin", ranges));
  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}), JobState::kTransferred);
  ASSERT_TRUE(job->Complete());
  EXPECT_EQ(harness::ReadFile(out() + "/single.bin"), Expected(ranges));
  // The first two ranges are adjacent, so the first answer may carry both; at least the other
  // two needed requests of their own.
  EXPECT_GE(GetsFor("?singlerange=1"), 3u);
}

TEST_F(RangesTest, ARangedDownloadResumesAfterACrash) {
  harness::WriteRandomFile(www() + "/large.bin", 12 * 1024 * 1024, 61);
  const std::string large = harness::ReadFile(www() + "/large.bin");
  auto job = client_->CreateJob("ranged crash");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->AddFileWithRanges(server_->Url("/large.bin?rate=6000000"), out() + "/r.bin",
                                     {{1000, 3'000'000}, {7'000'000, 3'000'000}}));
  ASSERT_TRUE(job->Resume());
  ASSERT_TRUE(
      harness::WaitUntil([&] { return job->GetProgress()->bytes_transferred > 1'500'000; }));
  bitsd_->Kill();
  ASSERT_LT(harness::ReadFile(out() + "/.r.bin.bits-" + job->id().ToHex().substr(0, 16) + "-0.tmp")
                .size(),
            6'000'000u)
      << "the transfer finished before the crash";
  bitsd_->Start();
  client_ = Connect();
  auto again = client_->GetJob(job->id());
  ASSERT_TRUE(again);
  ASSERT_EQ(WaitForState(*again, {JobState::kTransferred, JobState::kError}),
            JobState::kTransferred);
  ASSERT_TRUE(again->Complete());
  // The restart asked only for what was missing.
  std::size_t requests = 0;
  for (const std::string& line : server_->LogLines()) {
    if (line.find("/large.bin") != std::string::npos) ++requests;
  }
  EXPECT_GE(requests, 2u);
  EXPECT_EQ(harness::ReadFile(out() + "/r.bin"),
            large.substr(1000, 3'000'000) + large.substr(7'000'000, 3'000'000));
}

TEST_F(RangesTest, BadRangesAreRefusedWhenAddedOrWhenTheFileIsSmaller) {
  auto job = client_->CreateJob("bad ranges");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->AddFileWithRanges(server_->Url("/source.bin"), out() + "/a", {{0, 10}, {5, 10}})
                .error()
                .code(),
            hr::BG_E_OVERLAPPING_RANGES);
  EXPECT_EQ(
      job->AddFileWithRanges(server_->Url("/source.bin"), out() + "/a", {{0, 0}}).error().code(),
      hr::BG_E_INVALID_RANGE);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> many;
  for (std::uint64_t i = 0; i < 501; ++i) many.emplace_back(i * 10, 5);
  EXPECT_EQ(job->AddFileWithRanges(server_->Url("/source.bin"), out() + "/a", many).error().code(),
            hr::BG_E_TOO_MANY_RANGES_IN_FILE);
  // Past the end of the remote file: found out when the size is known.
  ASSERT_TRUE(
      job->AddFileWithRanges(server_->Url("/source.bin"), out() + "/beyond", {{2'000'000, 10}}));
  ASSERT_TRUE(job->Resume());
  ASSERT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}), JobState::kError);
  EXPECT_EQ(job->GetError()->code, hr::BG_E_INVALID_RANGE);
}

}  // namespace
}  // namespace openbits::integration
