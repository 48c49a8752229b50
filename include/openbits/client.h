// The OpenBITS C++ client: IBackgroundCopyManager and IBackgroundCopyJob over D-Bus.
//
//   auto client = openbits::Client::Connect(openbits::BusChoice::Auto());
//   auto job = (*client)->CreateJob("nightly", openbits::JobType::kDownload);
//   job->AddFile("https://example.org/a.iso", "/srv/a.iso");
//   job->Resume();
//
// Every call returns a Result whose Error carries the daemon's HRESULT, so callers can react
// to BG_E_NOT_FOUND, BG_E_INVALID_STATE and the rest exactly as on Windows.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "openbits/guid.h"
#include "openbits/result.h"
#include "openbits/secret.h"
#include "openbits/types.h"

namespace openbits {

// Which bus to find bitsd on.
struct BusChoice {
  enum class Kind { kAuto, kSystem, kSession, kAddress };
  Kind kind = Kind::kAuto;
  std::string address;  // kAddress only

  // kAuto: the system bus if bitsd is there, else the session bus.
  static BusChoice Auto() { return {}; }
  // "system", "session" or a D-Bus address ("unix:path=/run/...").
  static BusChoice Parse(const std::string& text);
};

struct FileInfo {
  std::string remote_url;
  std::string local_name;
  std::uint64_t bytes_total = kSizeUnknown;
  std::uint64_t bytes_transferred = 0;
  bool completed = false;
};

// IBackgroundCopyError.
struct JobErrorInfo {
  ErrorContext context = ErrorContext::kNone;
  HRESULT code = hr::S_OK;
  std::optional<std::uint32_t> file_index;
  std::string protocol;     // "http", "https"; empty when no file is involved
  std::string description;  // human text, with the details of this failure
};

struct JobOwner {
  std::uint32_t uid = 0;
  std::string name;
};

struct NotifyCmdLine {
  std::string program;  // empty when none is set
  std::string parameters;
};

// BG_CERT_STORE_LOCATION values that exist on Linux.
inline constexpr std::uint32_t kCertStoreCurrentUser = 0;
inline constexpr std::uint32_t kCertStoreLocalMachine = 1;

struct ClientCertificate {
  std::uint32_t location = kCertStoreCurrentUser;
  std::string store;    // MY, ROOT, CA, SPC
  std::string sha1;     // 40 hex digits, or empty when chosen by subject
  std::string subject;  // or empty when chosen by thumbprint
};

struct StoreCertificate {
  std::string sha1;
  std::string subject;
  std::int64_t not_after = 0;  // seconds since the epoch
};

inline constexpr std::uint64_t kLengthToEof = ~std::uint64_t{0};  // BG_LENGTH_TO_EOF

// What `bitsadmin /list` shows of a job: one entry of Client::ListJobs.
struct JobSummary {
  Guid id;
  std::string display_name;
  JobType type = JobType::kDownload;
  JobState state = JobState::kSuspended;
  JobPriority priority = JobPriority::kNormal;
  JobOwner owner;
  JobProgress progress;
  std::int64_t creation_us = 0;  // microseconds since the epoch
};

// One page of a listing. next_cursor continues it; empty after the last page.
struct JobListPage {
  std::vector<JobSummary> jobs;
  std::string next_cursor;
};

class Connection;

// A handle on a job: each call is one D-Bus call. A Job subscribes to none of the job's
// signals, so a client may hold or touch any number of jobs (a bus admits only so many
// signal subscriptions per connection).
class Job {
 public:
  const Guid& id() const { return id_; }

  Status AddFile(const std::string& remote_url, const std::string& local_name);
  Status AddFileSet(const std::vector<std::pair<std::string, std::string>>& files);
  // (offset, length) pairs; length kLengthToEof for "to the end of the file".
  Status AddFileWithRanges(const std::string& remote_url, const std::string& local_name,
                           const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges);
  Result<std::vector<std::pair<std::uint64_t, std::uint64_t>>> GetFileRanges(
      std::uint32_t file_index);
  Result<std::vector<FileInfo>> EnumFiles();
  Status Resume();
  Status Suspend();
  Result<HRESULT> Cancel();    // S_OK or BG_S_UNABLE_TO_DELETE_FILES
  Result<HRESULT> Complete();  // S_OK or BG_S_PARTIAL_COMPLETE
  Result<JobProgress> GetProgress();
  Result<JobState> GetState();
  Result<JobErrorInfo> GetError();
  Result<std::uint32_t> GetErrorCount();
  Result<JobTimes> GetTimes();
  Result<JobOwner> GetOwner();
  Result<JobType> GetType();
  Status SetDisplayName(const std::string& name);
  Result<std::string> GetDisplayName();
  Status SetDescription(const std::string& description);
  Result<std::string> GetDescription();
  Status SetPriority(JobPriority priority);
  Result<JobPriority> GetPriority();
  Status SetMinimumRetryDelay(std::uint32_t seconds);
  Result<std::uint32_t> GetMinimumRetryDelay();
  Status SetNoProgressTimeout(std::uint32_t seconds);
  Result<std::uint32_t> GetNoProgressTimeout();
  Status SetRemoteName(std::uint32_t file_index, const std::string& remote_url);
  Status ReplaceRemotePrefix(const std::string& old_prefix, const std::string& new_prefix);
  Result<std::string> GetTemporaryName(std::uint32_t file_index);
  Status SetValidationState(std::uint32_t file_index, bool valid);
  Result<bool> GetValidationState(std::uint32_t file_index);
  // BITS_FILE_PROPERTY_ID_HTTP_RESPONSE_HEADERS.
  Result<std::string> GetHttpResponseHeaders(std::uint32_t file_index);
  Status SetSecurityFlags(std::uint32_t flags);  // BG_SSL_* | BG_HTTP_REDIRECT_POLICY_*
  Result<std::uint32_t> GetSecurityFlags();
  Status SetMaximumDownloadTime(std::uint32_t seconds);
  Result<std::uint32_t> GetMaximumDownloadTime();
  Status TakeOwnership();
  // sha1_hex: the thumbprint as 40 hex digits.
  Status SetClientCertificateByID(std::uint32_t location, const std::string& store,
                                  const std::string& sha1_hex);
  Status SetClientCertificateByName(std::uint32_t location, const std::string& store,
                                    const std::string& subject);
  Status RemoveClientCertificate();
  Result<ClientCertificate> GetClientCertificate();
  Status SetHttpMethod(const std::string& method);
  Result<std::string> GetHttpMethod();
  // IBackgroundCopyJob5 properties, typed as BITS types them.
  Status SetDynamicContent(bool enable);
  Status SetHighPerformance(bool enable);
  Status SetMaxDownloadSize(std::uint64_t bytes);
  // USE_STORED_CREDENTIALS: BG_AUTH_TARGET_PROXY (2) uses the identity's stored proxy
  // credentials (~/.netrc); 0 turns it off; anything else is
  // BG_E_USE_STORED_CREDENTIALS_NOT_SUPPORTED.
  Status SetUseStoredCredentials(std::uint32_t targets);
  Result<std::uint32_t> GetUseStoredCredentials();
  Status SetMinimumNotificationInterval(std::uint32_t milliseconds);
  Result<bool> GetDynamicContent();
  Result<bool> GetHighPerformance();
  Result<std::uint64_t> GetMaxDownloadSize();
  Result<std::uint32_t> GetMinimumNotificationInterval();
  // OpenBITS extension (JobPropertyId::kParallelFiles, not in BITS): how many files of the
  // job are fetched at once, 1 to kMaxParallelFiles, or 0 for bitsd's [engine]
  // parallel_files. A running job applies a change as its files in flight finish.
  Status SetParallelFiles(std::uint32_t files);
  Result<std::uint32_t> GetParallelFiles();
  // SetProxySettings: list and bypass only with OVERRIDE.
  Status SetProxySettings(ProxyUsage usage, const std::string& list = "",
                          const std::string& bypass = "");
  struct ProxySettings {
    ProxyUsage usage = ProxyUsage::kPreconfig;
    std::string list;
    std::string bypass;
  };
  Result<ProxySettings> GetProxySettings();
  // SetCredentials with a user name and password for the (target, scheme) slot.
  Status SetCredentials(AuthTarget target, AuthScheme scheme, const SecretString& user,
                        const SecretString& password);
  // SetCredentials with NULL user name and password: the owner's own logon credentials
  // (NTLM, NEGOTIATE). This process's KRB5CCNAME and NTLM_USER_FILE go along, so that bitsd
  // can use the caller's Kerberos tickets and NTLM account (it accepts them only if they
  // belong to the job's owner).
  Status SetImplicitCredentials(AuthTarget target, AuthScheme scheme);
  // S_OK, or S_FALSE when the slot was empty.
  Result<HRESULT> RemoveCredentials(AuthTarget target, AuthScheme scheme);
  // "Name: value" lines separated by CRLF; "" clears them.
  Status SetCustomHeaders(const std::string& headers);
  Result<std::string> GetCustomHeaders();
  Status MakeCustomHeadersWriteOnly();
  // IBitsTokenOptions (org.openbits.bits1.TokenOptions): a token from the lending user's
  // Client::CreateHelperToken; flags BG_TOKEN_LOCAL_FILE 0x1 | BG_TOKEN_NETWORK 0x2.
  Status SetHelperToken(const SecretString& token);
  Status ClearHelperToken();
  Status SetHelperTokenFlags(std::uint32_t flags);
  Result<std::uint32_t> GetHelperTokenFlags();
  // "uid:N (name)", or "" when no helper token is bound.
  Result<std::string> GetHelperTokenSid();
  Status SetNotifyFlags(std::uint32_t flags);  // BG_NOTIFY_* (types.h)
  Result<std::uint32_t> GetNotifyFlags();
  // Empty program and parameters clear it.
  Status SetNotifyCmdLine(const std::string& program, const std::string& parameters);
  Result<NotifyCmdLine> GetNotifyCmdLine();

 private:
  friend class Client;
  Job(std::shared_ptr<Connection> connection, Guid id);

  std::shared_ptr<Connection> connection_;
  Guid id_;
};

// /util /setieproxy: 0 NO_PROXY, 1 AUTODETECT, 2 MANUAL_PROXY (list, bypass),
// 3 AUTOSCRIPT (autoscript_url).
struct AccountProxySettings {
  std::uint32_t mode = 0;
  std::string list;
  std::string bypass;
  std::string autoscript_url;
};

class Client {
 public:
  static Result<std::unique_ptr<Client>> Connect(const BusChoice& bus);

  Result<Job> CreateJob(const std::string& display_name, JobType type = JobType::kDownload);
  // A download job with `files` ((remote_url, local_name) pairs) and `priority`, resumed when
  // `resume`, in one call (bitsd's Manager.SubmitJob: CreateJob, SetPriority, AddFileSet and
  // Resume with their checks; all or nothing: on a failure no job is left). E_NOTIMPL from a
  // bitsd that predates SubmitJob: take the steps one by one.
  Result<Job> SubmitJob(const std::string& display_name,
                        const std::vector<std::pair<std::string, std::string>>& files,
                        JobPriority priority = JobPriority::kNormal, bool resume = true);
  Result<Job> GetJob(const Guid& id);
  // A handle on the job `id` without asking bitsd; its calls fail with BG_E_NOT_FOUND if
  // there is no such job the caller may see.
  Job OpenJob(const Guid& id);
  // The caller's jobs; all users' with all_users (administrators only).
  Result<std::vector<Job>> EnumJobs(bool all_users = false);
  // The jobs EnumJobs returns, with what /list shows of each, a page per call (bitsd
  // Manager.ListJobs): every job after the page `cursor` ended (from the first with ""), at
  // most max_count (bitsd caps pages at 1000; 0 asks for its maximum), in bitsd's listing
  // order (by GUID). A job that exists from the first call to the last is listed exactly once.
  Result<JobListPage> ListJobsPage(const std::string& cursor, std::uint32_t max_count,
                                   bool all_users = false);
  // Every page of ListJobsPage, sorted as BITS lists jobs: by creation time (then GUID).
  Result<std::vector<JobSummary>> ListJobs(bool all_users = false);
  Result<std::string> GetErrorDescription(HRESULT code);
  // The certificates of a store (CURRENT_USER: the caller's own).
  Result<std::vector<StoreCertificate>> ListCertificates(std::uint32_t location,
                                                         const std::string& store);
  // An account's own proxy settings (bitsadmin /util /setieproxy), which its PRECONFIG
  // jobs use first. Your own, or any account's as an administrator.
  Status SetAccountProxy(std::uint32_t uid, const AccountProxySettings& settings);
  Status ResetAccountProxy(std::uint32_t uid);
  // nullopt when the account has no settings of its own.
  Result<std::optional<AccountProxySettings>> GetAccountProxy(std::uint32_t uid);
  // A helper token lending this process's identity (and its KRB5CCNAME) to one job, valid
  // once and for a few minutes: give it to the job's owner for Job::SetHelperToken.
  Result<SecretString> CreateHelperToken();
  // An administrator's token lending user `uid`'s identity, with `credential_cache` (that
  // user's KRB5CCNAME, "" = its default cache). E_ACCESSDENIED for a non-administrator.
  Result<SecretString> CreateHelperTokenFor(std::uint32_t uid,
                                            const std::string& credential_cache = "");

 private:
  explicit Client(std::shared_ptr<Connection> connection) : connection_(std::move(connection)) {}
  std::shared_ptr<Connection> connection_;
};

}  // namespace openbits
