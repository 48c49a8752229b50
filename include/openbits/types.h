// The BITS enumerations and structures that cross the D-Bus boundary (bits.h equivalents).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace openbits {

// BG_JOB_STATE. The numeric values are BITS's and travel over D-Bus.
enum class JobState : std::uint32_t {
  kQueued = 0,
  kConnecting = 1,
  kTransferring = 2,
  kSuspended = 3,
  kError = 4,
  kTransientError = 5,
  kTransferred = 6,
  kAcknowledged = 7,
  kCancelled = 8,
};

// BG_JOB_PRIORITY.
enum class JobPriority : std::uint32_t {
  kForeground = 0,
  kHigh = 1,
  kNormal = 2,
  kLow = 3,
};

// BG_JOB_TYPE.
enum class JobType : std::uint32_t {
  kDownload = 0,
  kUpload = 1,
  kUploadReply = 2,
};

// BG_NOTIFY_* flags (SetNotifyFlags).
inline constexpr std::uint32_t kNotifyJobTransferred = 0x1;
inline constexpr std::uint32_t kNotifyJobError = 0x2;
inline constexpr std::uint32_t kNotifyDisable = 0x4;
inline constexpr std::uint32_t kNotifyJobModification = 0x8;
inline constexpr std::uint32_t kNotifyFileTransferred = 0x10;
inline constexpr std::uint32_t kNotifyFileRangesTransferred = 0x20;
inline constexpr std::uint32_t kNotifyAllFlags = 0x3F;
inline constexpr std::uint32_t kDefaultNotifyFlags = kNotifyJobTransferred | kNotifyJobError;

// SetSecurityFlags: BG_SSL_* and BG_HTTP_REDIRECT_POLICY_*.
inline constexpr std::uint32_t kSslEnableCrlCheck = 0x0001;
inline constexpr std::uint32_t kSslIgnoreCertCnInvalid = 0x0002;
inline constexpr std::uint32_t kSslIgnoreCertDateInvalid = 0x0004;
inline constexpr std::uint32_t kSslIgnoreUnknownCa = 0x0008;
inline constexpr std::uint32_t kSslIgnoreCertWrongUsage = 0x0010;
inline constexpr std::uint32_t kRedirectPolicyAllowSilent = 0x0000;
inline constexpr std::uint32_t kRedirectPolicyAllowReport = 0x0100;
inline constexpr std::uint32_t kRedirectPolicyDisallow = 0x0200;
inline constexpr std::uint32_t kRedirectPolicyMask = 0x0700;
inline constexpr std::uint32_t kRedirectAllowHttpsToHttp = 0x0800;
inline constexpr std::uint32_t kSecurityFlagsKnown = 0x001F | 0x0300 | 0x0800;

// BITS_JOB_PROPERTY_ID (IBackgroundCopyJob5::SetProperty).
enum class JobPropertyId : std::uint32_t {
  kCostFlags = 1,
  kNotificationClsid = 2,
  kDynamicContent = 3,
  kHighPerformance = 4,
  kMaxDownloadSize = 5,
  kUseStoredCredentials = 7,
  kMinimumNotificationIntervalMs = 9,
  kOnDemandMode = 10,
  // OpenBITS extension, outside BITS's ids (BITS numbers its own from 1 upwards, one per
  // Windows release; 0x1000 leaves room for all of them). OPENBITS_JOB_PROPERTY_PARALLEL_FILES:
  // a DWORD, how many files of the job are fetched at once (1 to kMaxParallelFiles), 0 for
  // the daemon's [engine] parallel_files. See docs/compatibility.md.
  kParallelFiles = 0x1000,
};
// The most files of one job fetched at once (the job property and [engine] parallel_files).
inline constexpr std::uint32_t kMaxParallelFiles = 64;
inline constexpr std::uint64_t kNoMaxDownloadSize = ~std::uint64_t{0};

// BG_AUTH_TARGET and BG_AUTH_SCHEME (SetCredentials). The numeric values are BITS's.
enum class AuthTarget : std::uint32_t {
  kServer = 1,
  kProxy = 2,
};
enum class AuthScheme : std::uint32_t {
  kBasic = 1,
  kDigest = 2,
  kNtlm = 3,
  kNegotiate = 4,
  kPassport = 5,
};

// BG_JOB_PROXY_USAGE (SetProxySettings).
enum class ProxyUsage : std::uint32_t {
  kPreconfig = 0,
  kNoProxy = 1,
  kOverride = 2,
  kAutodetect = 3,
};

// BITS_FILE_PROPERTY_ID.
inline constexpr std::uint32_t kFilePropertyHttpResponseHeaders = 1;

inline constexpr std::uint64_t kSizeUnknown = ~std::uint64_t{0};  // BG_SIZE_UNKNOWN

// BG_JOB_PROGRESS.
struct JobProgress {
  std::uint64_t bytes_total = 0;
  std::uint64_t bytes_transferred = 0;
  std::uint32_t files_total = 0;
  std::uint32_t files_transferred = 0;
};

// BG_JOB_TIMES, in microseconds since the Unix epoch (0 = not yet).
struct JobTimes {
  std::int64_t creation_us = 0;
  std::int64_t modification_us = 0;
  std::int64_t transfer_completion_us = 0;
};

// "QUEUED", "TRANSIENT_ERROR", ... exactly as bitsadmin prints them.
std::string_view JobStateName(JobState state);
std::string_view JobPriorityName(JobPriority priority);
std::string_view JobTypeName(JobType type);
std::optional<JobPriority> ParseJobPriority(std::string_view name);
bool IsFinalState(JobState state);
// "SERVER", "PROXY"; "BASIC", "DIGEST", "NTLM", "NEGOTIATE", "PASSPORT" (bitsadmin's words).
std::string_view AuthTargetName(AuthTarget target);
std::string_view AuthSchemeName(AuthScheme scheme);
// "PRECONFIG", "NO_PROXY", "OVERRIDE", "AUTODETECT".
std::string_view ProxyUsageName(ProxyUsage usage);
std::optional<ProxyUsage> ParseProxyUsage(std::string_view name);
// Case-insensitive; nullopt for anything else.
std::optional<AuthTarget> ParseAuthTarget(std::string_view name);
std::optional<AuthScheme> ParseAuthScheme(std::string_view name);

}  // namespace openbits
