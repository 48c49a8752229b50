#include "core/job.h"
#include "core/proxy_settings.h"

#include <gtest/gtest.h>

namespace openbits::core {
namespace {

TEST(JobTest, ProgressSumsFilesAndStaysUnknownUntilEverySizeIsKnown) {
  Job job;
  job.files.resize(2);
  job.files[0].bytes_total = 100;
  job.files[0].bytes_transferred = 100;
  job.files[0].completed = true;
  job.files[1].bytes_transferred = 5;
  JobProgress progress = job.Progress();
  EXPECT_EQ(progress.bytes_total, kSizeUnknown);
  EXPECT_EQ(progress.bytes_transferred, 105u);
  EXPECT_EQ(progress.files_total, 2u);
  EXPECT_EQ(progress.files_transferred, 1u);
  job.files[1].bytes_total = 50;
  EXPECT_EQ(job.Progress().bytes_total, 150u);
}

TEST(JobTest, ApplyClearsErrorOutsideErrorStatesAndStampsTimes) {
  Job job;
  job.state = JobState::kTransientError;
  job.error = JobError{hr::WINHTTP_CANNOT_CONNECT, ErrorContext::kRemoteFile, 0, "refused"};
  job.retry_at_us = 99;
  ASSERT_TRUE(job.Apply(JobEvent::kRetryDue, 1000));
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_FALSE(job.error);
  EXPECT_EQ(job.retry_at_us, 0);
  EXPECT_EQ(job.times.modification_us, 1000);
  ASSERT_TRUE(job.Apply(JobEvent::kStartTransfer, 2000));
  ASSERT_TRUE(job.Apply(JobEvent::kAllTransferred, 3000));
  EXPECT_EQ(job.times.transfer_completion_us, 3000);
  EXPECT_FALSE(job.Apply(JobEvent::kStartTransfer, 4000));
}

TEST(JobTest, RemoteUrlValidation) {
  EXPECT_TRUE(ValidateRemoteUrl("http://example.org/a"));
  EXPECT_TRUE(ValidateRemoteUrl("HTTPS://example.org"));
  for (const char* bad : {"", "ftp://x/y", "file:///etc/passwd", "http://", "https:///x",
                          "http://a b/", "http://x/\n"}) {
    auto status = ValidateRemoteUrl(bad);
    ASSERT_FALSE(status) << bad;
    EXPECT_EQ(status.error().code(), hr::E_INVALIDARG) << bad;
  }
  EXPECT_FALSE(ValidateRemoteUrl("http://x/" + std::string(2200, 'a')));
}

TEST(JobTest, StringLimitsAreBits) {
  EXPECT_TRUE(ValidateDisplayName(std::string(256, 'a')));
  EXPECT_EQ(ValidateDisplayName(std::string(257, 'a')).error().code(), hr::BG_E_STRING_TOO_LONG);
  EXPECT_TRUE(ValidateDescription(std::string(1024, 'a')));
  EXPECT_EQ(ValidateDescription(std::string(1025, 'a')).error().code(), hr::BG_E_STRING_TOO_LONG);
}

TEST(JobTest, TempFileIsHiddenBesideTheDestinationAndBounded) {
  const Guid id = *Guid::Parse("{01234567-89AB-CDEF-0123-456789ABCDEF}");
  EXPECT_EQ(TempPathFor("/srv/data/file.iso", id, 3),
            "/srv/data/.file.iso.bits-0123456789abcdef-3.tmp");
  const std::string temp = TempPathFor("/d/" + std::string(255, 'x'), id, 0);
  EXPECT_LE(temp.size() - 3, 255u);
}

TEST(FileRangesTest, ValidationSortsAndRejectsBadRanges) {
  std::vector<FileRange> ranges = {{500, kLengthToEof}, {0, 10}, {10, 5}};
  ASSERT_TRUE(ValidateFileRanges(ranges, 500));
  EXPECT_EQ(ranges.front().offset, 0u);
  std::vector<FileRange> overlap = {{0, 10}, {9, 5}};
  EXPECT_EQ(ValidateFileRanges(overlap, 500).error().code(), hr::BG_E_OVERLAPPING_RANGES);
  std::vector<FileRange> empty_range = {{0, 0}};
  EXPECT_EQ(ValidateFileRanges(empty_range, 500).error().code(), hr::BG_E_INVALID_RANGE);
  std::vector<FileRange> eof_not_last = {{0, kLengthToEof}, {100, 1}};
  EXPECT_EQ(ValidateFileRanges(eof_not_last, 500).error().code(), hr::BG_E_INVALID_RANGE);
  std::vector<FileRange> many(3, FileRange{0, 1});
  EXPECT_EQ(ValidateFileRanges(many, 2).error().code(), hr::BG_E_TOO_MANY_RANGES_IN_FILE);
}

TEST(FileRangesTest, RemainingRangesAndOutputSize) {
  const std::vector<FileRange> ranges = {{100, 10}, {200, 5}, {300, kLengthToEof}};
  auto all = RemainingRanges(ranges, 0);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].last, kSizeUnknown);
  auto later = RemainingRanges(ranges, 12);  // all of the first, 2 bytes of the second
  ASSERT_EQ(later.size(), 2u);
  EXPECT_EQ(later[0].first, 202u);
  EXPECT_EQ(later[0].last, 204u);
  EXPECT_EQ(*RangesOutputSize(ranges, 1000), 10u + 5u + 700u);
  EXPECT_EQ(RangesOutputSize(ranges, 250).error().code(), hr::BG_E_INVALID_RANGE);
}

}  // namespace
}  // namespace openbits::core

namespace openbits::core {
namespace {

TEST(UrlCredentialsTest, UserinfoIsSplitDecodedAndRefusedByUrlValidation) {
  auto split = SplitUrlCredentials("https://al%40ice:p%3Aw@host:8443/a@b?c=d@e");
  ASSERT_TRUE(split);
  EXPECT_EQ(split->url, "https://host:8443/a@b?c=d@e");
  EXPECT_EQ(split->user.reveal(), "al@ice");
  EXPECT_EQ(split->password.reveal(), "p:w");
  EXPECT_FALSE(SplitUrlCredentials("https://host/a@b"));
  EXPECT_FALSE(SplitUrlCredentials("https://host?x=@y"));
  auto user_only = SplitUrlCredentials("http://bob@host/");
  ASSERT_TRUE(user_only);
  EXPECT_EQ(user_only->user.reveal(), "bob");
  EXPECT_TRUE(user_only->password.empty());
  const Status refused = ValidateRemoteUrl("http://bob:hunter2@host/");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message().find("hunter2"), std::string::npos);
  EXPECT_TRUE(ValidateRemoteUrl("http://host/a@b"));
}

TEST(ProxySettingsTest, TheEnvironmentsUserinfoBecomesProxyCredentials) {
  ProxyEnvironment environment = {{"http_proxy", "http://us%40er:S3cret@proxy:3128/"},
                                  {"https_proxy", "other:pw2@proxy:3129"},
                                  {"no_proxy", "localhost"}};
  const std::vector<Credential> taken = TakeProxyEnvironmentCredentials(environment);
  EXPECT_EQ(environment.at("http_proxy"), "http://proxy:3128/");
  EXPECT_EQ(environment.at("https_proxy"), "proxy:3129");  // curl's scheme-less form kept
  EXPECT_EQ(environment.at("no_proxy"), "localhost");
  ASSERT_EQ(taken.size(), 3u);  // Basic, Digest, NTLM; http_proxy's
  for (const Credential& credential : taken) {
    EXPECT_EQ(credential.target, AuthTarget::kProxy);
    EXPECT_EQ(credential.user.reveal(), "us@er");
    EXPECT_EQ(credential.password.reveal(), "S3cret");
  }
  ProxyEnvironment plain = {{"http_proxy", "http://proxy:3128"}};
  EXPECT_TRUE(TakeProxyEnvironmentCredentials(plain).empty());
}

TEST(ProxySettingsTest, ListsAndPacUrlsWithAPasswordAreRefused) {
  constexpr auto kOverride = static_cast<std::uint32_t>(ProxyUsage::kOverride);
  for (const char* list : {"u:pw@proxy:1", "http=http://u:pw@proxy:1", "ok:1; u@proxy"}) {
    const Status refused = ValidateProxySettings(kOverride, list, "");
    ASSERT_FALSE(refused) << list;
    EXPECT_EQ(refused.error().code(), hr::E_INVALIDARG);
    EXPECT_EQ(refused.error().message().find("pw"), std::string::npos);
  }
  EXPECT_TRUE(ValidateProxySettings(kOverride, "http=proxy:1 https://proxy/path@x", ""));
  EXPECT_FALSE(ValidateAccountProxy(
      {AccountProxyMode::kAutoscript, "", "", "http://u:pw@pac.example/p.pac"}));
  EXPECT_FALSE(ValidateAccountProxy({AccountProxyMode::kManualProxy, "u:pw@p:1", "", ""}));
}

TEST(ProxySettingsTest, RepliesRedactWhatOlderVersionsAccepted) {
  EXPECT_EQ(RedactProxyUserinfo("http=u:pw@p:1; https://v:pw2@q:2 plain:3"),
            "http=***@p:1; https://***@q:2 plain:3");
  EXPECT_EQ(RedactProxyUserinfo("http://u:pw@pac.example/p.pac"), "http://***@pac.example/p.pac");
  EXPECT_EQ(RedactProxyUserinfo("https://proxy/path@x"), "https://proxy/path@x");
}

}  // namespace
}  // namespace openbits::core
