// Job and JobFile: the BITS job as data, with the rules that need nothing but the job itself.
// JobManager owns the live jobs; everything else works on copies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/credentials.h"
#include "core/helper_binding.h"
#include "core/proxy_settings.h"
#include "core/state_machine.h"
#include "openbits/guid.h"
#include "openbits/result.h"
#include "openbits/secret.h"
#include "openbits/types.h"

namespace openbits::core {

// What the server said about the file's identity; a change restarts the file from zero.
struct RemoteValidators {
  std::string etag;           // strong ETag only (a weak one cannot validate a range)
  std::string last_modified;  // the Last-Modified header, verbatim
  bool operator==(const RemoteValidators&) const = default;
  bool empty() const { return etag.empty() && last_modified.empty(); }
};

// BG_FILE_RANGE: `length` may be kLengthToEof (BG_LENGTH_TO_EOF).
inline constexpr std::uint64_t kLengthToEof = ~std::uint64_t{0};
// The mode of a downloaded file whose caller's umask is unknown: 0666 & ~022.
inline constexpr std::uint32_t kDefaultFileMode = 0644;
struct FileRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  bool operator==(const FileRange&) const = default;
};

// Complete's progress on one file (stored: 0, 1, 2).
enum class Delivery : std::uint8_t {
  kNone = 0,      // still the job's: the temp file holds it
  kRenaming = 1,  // the rename was about to happen when Complete stopped: either the temp
                  // file is still there (not renamed) or gone (renamed into place)
  kDone = 2,      // renamed into place: the user's file now
};

struct JobFile {
  std::string remote_url;
  std::string local_path;  // absolute; untouched until Complete
  std::string temp_path;   // hidden temp file beside local_path
  std::uint64_t bytes_total = kSizeUnknown;
  // Bytes in the temp file, live while transferring (what GetProgress shows).
  std::uint64_t bytes_transferred = 0;
  // Bytes known to be durable (fdatasync'ed before this was set); the only offset persisted
  // and the one a restart resumes from.
  std::uint64_t bytes_committed = 0;
  bool completed = false;
  // How far Complete got with this file. Stored before and after its rename, so that a
  // Complete interrupted by a failed rename or a crash renames, when called again, only the
  // files not delivered yet, and Cancel leaves delivered ones alone.
  Delivery delivery = Delivery::kNone;
  RemoteValidators validators;
  std::int64_t remote_mtime_us = 0;  // from Last-Modified; becomes the file's mtime
  // BITS_FILE_PROPERTY_ID_HTTP_RESPONSE_HEADERS: the last response's header block.
  std::string response_headers;
  // SetValidationState: the application's verdict on the content (unset until it says).
  std::optional<bool> validation_state;
  // AddFileWithRanges: only these byte ranges of the remote file, concatenated, sorted by
  // offset. Empty: the whole file.
  std::vector<FileRange> ranges;
  // The permission bits the file gets at Complete: 0666 & ~umask of the process that called
  // AddFile, as if it had created the file itself. A default ACL of the destination
  // directory overrides it at Complete, as it overrides the umask in open(2).
  std::uint32_t mode = kDefaultFileMode;
};

struct JobError {
  HRESULT code = hr::S_OK;
  ErrorContext context = ErrorContext::kNone;
  std::optional<std::uint32_t> file_index;
  std::string message;  // human detail beyond DescribeHresult(code); never holds secrets
};

// BITS defaults (bits-reference.md 2.12).
inline constexpr std::uint32_t kDefaultMinimumRetryDelaySeconds = 600;
inline constexpr std::uint32_t kMinimumRetryDelayFloorSeconds = 5;
inline constexpr std::uint32_t kDefaultNoProgressTimeoutSeconds = 1'209'600;  // 14 days
inline constexpr std::size_t kMaxDisplayNameLength = 256;
inline constexpr std::size_t kMaxDescriptionLength = 1024;
inline constexpr std::size_t kMaxUrlLength = 2200;
inline constexpr std::uint32_t kDefaultMaximumDownloadTimeSeconds = 7'776'000;  // 90 days

// SetNotifyCmdLine: run on TRANSFERRED and ERROR as the user who set it.
struct NotifyCommand {
  std::string program;     // absolute path; no PATH search, no shell
  std::string parameters;  // the whole command line, program name first ("" = just program)
  std::uint32_t uid = 0;   // who set it, and so who it runs as
  std::uint32_t gid = 0;
  bool operator==(const NotifyCommand&) const = default;
};

inline constexpr std::size_t kMaxNotifyProgramLength = 260;  // MAX_PATH
inline constexpr std::size_t kMaxNotifyParametersLength = 4000;
inline constexpr std::uint32_t kDefaultNotificationIntervalMs = 500;

// SetClientCertificateByID/ByName: which certificate of which store (resolved when a
// transfer starts, with the owner's identity).
struct ClientCertificateRef {
  std::uint32_t location = 0;  // BG_CERT_STORE_LOCATION: 0 CURRENT_USER, 1 LOCAL_MACHINE
  std::string store;           // "MY", "ROOT", "CA" or "SPC"
  std::string sha1;            // 40 hex digits of the DER certificate's SHA-1, or empty
  std::string subject;         // a subject substring, or empty
  bool operator==(const ClientCertificateRef&) const = default;
};

struct Job {
  Guid id;
  std::uint32_t owner_uid = 0;
  std::uint32_t owner_gid = 0;
  std::string display_name;
  std::string description;
  JobType type = JobType::kDownload;
  JobPriority priority = JobPriority::kNormal;
  JobState state = JobState::kSuspended;
  std::vector<JobFile> files;
  std::optional<JobError> error;  // set in ERROR and TRANSIENT_ERROR only
  std::uint32_t error_count = 0;
  std::uint32_t minimum_retry_delay_s = kDefaultMinimumRetryDelaySeconds;
  std::uint32_t no_progress_timeout_s = kDefaultNoProgressTimeoutSeconds;
  JobTimes times;
  // When the job last moved a byte, or was (re)queued; the no-progress timeout counts from here.
  std::int64_t last_progress_us = 0;
  // TRANSIENT_ERROR only: when the scheduler requeues the job.
  std::int64_t retry_at_us = 0;
  std::uint32_t notify_flags = kDefaultNotifyFlags;
  std::optional<NotifyCommand> notify_command;
  // BITS_JOB_PROPERTY_MINIMUM_NOTIFICATION_INTERVAL_MS: JobModification at most this often.
  std::uint32_t minimum_notification_interval_ms = kDefaultNotificationIntervalMs;
  std::uint32_t security_flags = 0;  // BG_SSL_* | BG_HTTP_REDIRECT_POLICY_*
  // SetMaximumDownloadTime: limit on the time spent CONNECTING/TRANSFERRING (0: none).
  std::uint32_t maximum_download_time_s = kDefaultMaximumDownloadTimeSeconds;
  std::int64_t transfer_time_us = 0;  // time spent transferring in runs that have ended
  // SetCustomHeaders: "Name: value" lines sent on every request. A secret: encrypted at
  // rest, readable only by the owner, and not at all once made write-only.
  SecretString custom_headers;
  bool custom_headers_write_only = false;
  // SetHttpMethod: a verb other than GET (the job then runs FOREGROUND, fetches whole bodies
  // from the start and treats every error as fatal). Empty: GET.
  std::string http_method;
  // Job5 properties.
  bool dynamic_content = false;   // no size or ranges needed; restarts from 0
  bool high_performance = false;  // writes straight into the destination, no checkpoints
  std::uint64_t max_download_size = kNoMaxDownloadSize;
  bool resumed_once = false;  // some properties are read-only after the first Resume
  // OPENBITS_JOB_PROPERTY_PARALLEL_FILES: files fetched at once (0: ManagerOptions's default).
  std::uint32_t parallel_files = 0;
  std::optional<ClientCertificateRef> client_certificate;
  // SetCredentials: one slot per (target, scheme). Encrypted at rest, never returned.
  CredentialSet credentials;
  ProxySettings proxy;
  // PRECONFIG: the proxy variables of the creator's environment at CreateJob.
  ProxyEnvironment proxy_environment;
  // SetHelperToken: another user's identity for the job's files and/or network access.
  // Encrypted at rest; dropped on TakeOwnership.
  HelperBinding helper;

  // Whether a download fetches whole bodies from byte 0 (no Range, no resume).
  bool WholeBodies() const { return dynamic_content || !http_method.empty(); }

  // Whether a notification of `flag` is wanted (BG_NOTIFY_DISABLE silences all).
  bool Notifies(std::uint32_t flag) const {
    return (notify_flags & kNotifyDisable) == 0 && (notify_flags & flag) != 0;
  }

  JobProgress Progress() const;
  // Moves to the state that `event` leads to, stamping the modification time.
  Status Apply(JobEvent event, std::int64_t now_us);
  // The next file still to transfer, or nullopt when all are done.
  std::optional<std::uint32_t> NextIncompleteFile() const;
};

// Checks of the arguments of the BITS setters (argument checks come before state checks).
Status ValidateDisplayName(const std::string& name);
Status ValidateDescription(const std::string& description);
// http:// or https:// with a host, at most kMaxUrlLength, no control characters or spaces.
Status ValidateRemoteUrl(const std::string& url);
// Splits a notification command line into argv: blanks separate arguments, double quotes
// group (a backslash escapes a quote or a backslash inside them). E_INVALIDARG on an open quote.
Result<std::vector<std::string>> SplitCommandLine(const std::string& line);
// Checks SetNotifyCmdLine's arguments: an absolute program path of at most 260 characters,
// parameters of at most 4,000 that split cleanly.
Status ValidateNotifyCommand(const std::string& program, const std::string& parameters);

// A Job5 property value: Enable (bool), Dword (uint32), Uint64, or a string.
using PropertyValue = std::variant<bool, std::uint32_t, std::uint64_t, std::string>;

// SetHttpMethod's argument: an HTTP token (letters, digits, !#$%&'*+-.^_`|~).
Status ValidateHttpMethod(const std::string& method);

// Checks a certificate reference: a supported location (E_NOTIMPL for the other BITS
// locations), a known store name (E_INVALIDARG), and a 20-byte hash or a subject.
Status ValidateClientCertificate(ClientCertificateRef& reference);

inline constexpr std::size_t kMaxCustomHeadersLength = 16383;  // 16,384 with the NUL
// Checks SetCustomHeaders' argument: CRLF- (or LF-) separated "Name: value" lines with a
// token name, at most 16,383 characters, no Range or If-Range (they would break resuming).
Status ValidateCustomHeaders(const SecretString& headers);
// The header lines, without line ends or empty lines.
std::vector<std::string> CustomHeaderLines(const SecretString& headers);

// Checks and sorts AddFileWithRanges' ranges: at least one, at most `max_ranges`
// (BG_E_TOO_MANY_RANGES_IN_FILE), no empty one and only the last to EOF
// (BG_E_INVALID_RANGE), none overlapping (BG_E_OVERLAPPING_RANGES).
Status ValidateFileRanges(std::vector<FileRange>& ranges, std::size_t max_ranges);

// The source ranges still to fetch for a file whose first `output_offset` bytes are in hand.
// `last` is kSizeUnknown for "to the end of the file".
struct SourceRange {
  std::uint64_t first = 0;
  std::uint64_t last = kSizeUnknown;
};
std::vector<SourceRange> RemainingRanges(const std::vector<FileRange>& ranges,
                                         std::uint64_t output_offset);
// The size of the output once the remote size is known, or BG_E_INVALID_RANGE when a range
// lies beyond the end of the remote file.
Result<std::uint64_t> RangesOutputSize(const std::vector<FileRange>& ranges,
                                       std::uint64_t remote_size);

// The hidden temp name for a file of a job: "<dir>/.<name>.bits-<job hex>-<index>.tmp".
std::string TempPathFor(const std::string& local_path, const Guid& job, std::uint32_t index);

}  // namespace openbits::core
