// The ports of the core: the narrow interfaces through which JobManager reaches storage, the
// network, the file system, the clock and the IPC layer. Concrete implementations live in
// store/, transfer/, identity/ and ipc/; daemon/wiring chooses them; tests/fakes/ fakes them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/job.h"
#include "core/job_listing.h"
#include "openbits/guid.h"
#include "openbits/result.h"

namespace openbits::core {

// What the queue keeps in memory of a job that waits for nothing (JobManager's dormant jobs):
// what listing it, the job limits and the inactivity timeout need, a hundred bytes instead of
// the whole job with its files. Progress counts the committed bytes, as after a restart.
struct JobOutline {
  JobSummary summary;
  std::int64_t modification_us = 0;
  std::int64_t last_progress_us = 0;
  bool has_helper = false;  // a helper token is bound (logon gating may take it away)
};

// What a listing shows of a job, and its outline (job_dormancy.cc).
JobSummary SummaryOf(const Job& job);
JobOutline OutlineOf(const Job& job);

// Persistent job queue. Every write survives a crash of bitsd when it returns; see SyncDurable.
class JobStore {
 public:
  virtual ~JobStore() = default;
  virtual Result<std::vector<Job>> LoadAll() = 0;
  // Every job's outline: what a start reads of the jobs it keeps dormant. The default takes
  // them from LoadAll; a store with many jobs reads only the columns they need.
  virtual Result<std::vector<JobOutline>> LoadOutlines();
  // One whole job, as LoadAll would return it (BG_E_NOT_FOUND when there is none): a dormant
  // job woken up. The default searches LoadAll.
  virtual Result<Job> Load(const Guid& id);
  // Writes the job and all its files in one transaction.
  virtual Status Save(const Job& job) = 0;
  // One file's row only (offset, size, validators, completion, response headers): the
  // per-file write, so a job of thousands of files costs no more per file than one of two.
  // REQUIRES: the temp file's bytes up to file.bytes_committed are already durable.
  virtual Status SaveFileProgress(const Guid& job, std::uint32_t index, const JobFile& file) = 0;
  // Several files' rows, all or none (Complete records a batch of deliveries at once). This
  // default writes them one by one; a store with transactions writes them in one.
  virtual Status SaveFilesProgress(const Guid& job,
                                   const std::vector<std::pair<std::uint32_t, JobFile>>& files) {
    for (const auto& [index, file] : files) {
      OPENBITS_RETURN_IF_ERROR(SaveFileProgress(job, index, file));
    }
    return Ok();
  }
  virtual Status Remove(const Guid& job) = 0;
  // Every write that returned before this call survives a power loss once it returns. Writes
  // survive a crash of bitsd (kill -9) as soon as they return; a store may batch the syncs
  // of many writes into one (group commit), so callers ask for this only where a promise
  // depends on it: before FileTransferred is signalled and before Complete moves files.
  virtual Status SyncDurable() { return Ok(); }
  // The same for the writes of one job only (Complete, before it moves the job's files): at
  // once when a sync already covered them, whatever other jobs wrote since.
  virtual Status SyncJobDurable(const Guid& job) {
    (void)job;
    return SyncDurable();
  }
};

// Who a job's local files belong to; file operations run with this identity.
struct FileOwner {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

// Whose identity a job's local files are created, written, renamed and deleted with: the
// owner's, or with BG_TOKEN_LOCAL_FILE the helper's (who lent it by giving the token away).
inline FileOwner FilesOwnerOf(const Job& job) {
  if (job.helper.Lends(kTokenLocalFile))
    return {job.helper.identity->uid, job.helper.identity->gid};
  return {job.owner_uid, job.owner_gid};
}

// Whose implicit credentials, account proxy settings and WPAD/PAC discovery a transfer
// uses: the job's owner, or the helper identity with BG_TOKEN_NETWORK.
struct NetworkIdentity {
  std::uint32_t uid = 0;
  // A Kerberos cache named for this identity ("" = its default cache); read as `uid`.
  std::string credential_cache;
};

// An open temp file, positioned at its end. Owned by one transfer thread.
class TempFile {
 public:
  virtual ~TempFile() = default;
  // Bytes in the file when it was opened (after truncation to what may be kept).
  virtual std::uint64_t size() const = 0;
  virtual Status Append(const char* data, std::size_t length) = 0;
  virtual Status Truncate(std::uint64_t length) = 0;
  // fdatasync: what was appended is durable when this returns.
  virtual Status Sync() = 0;
};

class LocalFileSystem {
 public:
  virtual ~LocalFileSystem() = default;
  // REQUIRES: path absolute. Checks that the parent directory exists and that `owner` may
  // create files in it, and that path itself is not a directory.
  virtual Status CheckDestination(const FileOwner& owner, const std::string& path) = 0;
  // Opens the temp file, creating it (O_EXCL, mode 0600) when missing, and truncates it to at
  // most `keep_bytes`: bytes past the last checkpoint were never promised to be durable.
  virtual Result<std::unique_ptr<TempFile>> OpenTemp(const FileOwner& owner,
                                                     const std::string& temp_path,
                                                     std::uint64_t keep_bytes) = 0;
  // Atomically renames temp_path over final_path and sets its mtime (0 = leave it) and its
  // permission bits: `mode`, or where final_path's directory has a default ACL, what that
  // ACL gives a file created with 0666 (as open(2) ignores the umask there).
  virtual Status CommitTemp(const FileOwner& owner, const std::string& temp_path,
                            const std::string& final_path, std::int64_t mtime_us,
                            std::uint32_t mode) = 0;
  // One file of CommitTemps.
  struct TempCommit {
    std::string temp_path;
    std::string final_path;
    std::int64_t mtime_us = 0;
    std::uint32_t mode = 0;
  };
  // CommitTemp for many files of one owner, with the syncs shared: every file's bytes and
  // attributes are durable before the first rename, and every rename is durable when it
  // returns (one sync per batch instead of two per file). One status per file, in order. The
  // first failure stops the batch: that file and the files after it are left as they were
  // (those after it fail with E_FAIL). The default commits them one by one.
  virtual std::vector<Status> CommitTemps(const FileOwner& owner,
                                          const std::vector<TempCommit>& batch) {
    std::vector<Status> results;
    results.reserve(batch.size());
    for (const TempCommit& file : batch) {
      if (!results.empty() && !results.back()) {
        results.push_back(Error(hr::E_FAIL, ErrorContext::kLocalFile,
                                "not renamed: an earlier file of the batch failed"));
        continue;
      }
      results.push_back(
          CommitTemp(owner, file.temp_path, file.final_path, file.mtime_us, file.mode));
    }
    return results;
  }
  // Deletes a file; a missing file is success.
  virtual Status Remove(const FileOwner& owner, const std::string& path) = 0;
  // TakeOwnership: gives an existing temp file to `new_owner` (a missing one is success).
  virtual Status GiveTemp(const FileOwner& new_owner, const std::string& temp_path) = 0;
};

// A client certificate and its key, in PEM, as the transfer hands them to TLS.
struct ClientCredential {
  std::string certificate_pem;
  SecretString key_pem;
};

// A certificate of a store, as /util /listcertificates shows it.
struct CertificateInfo {
  std::string sha1;            // 40 hex digits
  std::string subject;         // RFC 2253
  std::int64_t not_after = 0;  // seconds since the epoch
};

// Certificate stores (DESIGN.md 3): CURRENT_USER stores are read with the owner's identity.
class CertificateStore {
 public:
  virtual ~CertificateStore() = default;
  // The certificate `reference` names, with its private key. CRYPT_E_NOT_FOUND when there is
  // none; E_ACCESSDENIED when its key is readable by other users.
  virtual Result<ClientCredential> Resolve(const FileOwner& owner,
                                           const ClientCertificateRef& reference) = 0;
  virtual Result<std::vector<CertificateInfo>> List(const FileOwner& owner, std::uint32_t location,
                                                    const std::string& store) = 0;
};

// One HTTP(S) GET of a file from `offset`.
struct DownloadRequest {
  std::string url;
  std::uint64_t offset = 0;          // bytes already durable in the temp file
  RemoteValidators validators;       // from an earlier attempt; sent as If-Range
  std::uint32_t security_flags = 0;  // the job's BG_SSL_* and redirect policy bits
  SecretString custom_headers;       // SetCustomHeaders, sent as they are
  // Dynamic content or a custom HTTP method: no Range, the whole body from byte 0, any 2xx
  // accepted, the size may stay unknown.
  bool whole_body = false;
  std::string http_method;  // empty: GET
  // AddFileWithRanges: the source ranges still wanted, in order (`offset` is then unused).
  // Asked for in one multi-range request; the server may answer some of them only, and the
  // caller asks again for the rest. Validators are compared, not sent: a changed file fails
  // with BG_E_REMOTE_FILE_CHANGED.
  std::vector<SourceRange> ranges;
  // Mutual TLS: the job's certificate, resolved by the transport from the owner's (or the
  // machine's) store when the request starts.
  std::optional<ClientCertificateRef> client_certificate;
  // SetCredentials: what the transport may answer a server's or a proxy's challenge with.
  CredentialSet credentials;
  // SetProxySettings: how the transport finds its proxy for this URL.
  ProxySettings proxy;
  ProxyEnvironment proxy_environment;
  FileOwner owner;
  NetworkIdentity network;
  // One job run's downloads share this number; only they may share a connection with its auth,
  // custom headers, client cert, tunnel or TLS flags (anonymous ones may be pooled). 0: none.
  std::uint64_t connection_group = 0;
  // With `validators`: the size an earlier attempt was told. A resumed 206 must say the same
  // (with the validators, what tells a server that ignored If-Range).
  std::uint64_t known_total = kSizeUnknown;
};

// What the server said before the body.
struct DownloadResponse {
  std::uint64_t bytes_total = kSizeUnknown;
  RemoteValidators validators;
  std::int64_t remote_mtime_us = 0;
  // The remote file changed (or the range was refused with a full body of a changed file):
  // the body starts at byte 0 and the temp file must be truncated first.
  bool restart_from_zero = false;
  std::string raw_headers;  // the header block of the response, as received
};

// Receives one download. Called on the transfer thread.
class DownloadSink {
 public:
  virtual ~DownloadSink() = default;
  // Once per request, after the headers were accepted and before any body byte.
  virtual Status OnResponse(const DownloadResponse& response) = 0;
  virtual Status OnData(const char* data, std::size_t length) = 0;
  // The request was redirected and the policy says to report it (ALLOW_REPORT), or to refuse
  // it (DISALLOW): the file's remote name becomes `url`.
  virtual void OnRemoteNameChanged(const std::string& url) = 0;
  // The server asked to come back no sooner than this (Retry-After on a 503, 429 ...).
  virtual void OnRetryAfter(std::chrono::seconds delay) = 0;
  // Polled often; true makes the download stop promptly with E_ABORT.
  virtual bool StopRequested() const = 0;
};

inline constexpr HRESULT kAborted = 0x80004004;  // E_ABORT: the sink asked to stop

// A sequence of requests for one job run on one thread, reusing connections.
class TransferSession {
 public:
  virtual ~TransferSession() = default;
  // Fails with an Error whose code and context say what went wrong (HTTP 0x8019xxxx,
  // WinHTTP-style transport codes, BG_E_*); kAborted when the sink asked to stop.
  virtual Status Download(const DownloadRequest& request, DownloadSink& sink) = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual std::unique_ptr<TransferSession> OpenSession() = 0;
};

// The event-driven engine (docs/architecture.md, "Engine"): many downloads in flight at once on
// a few engine threads, instead of one blocking TransferSession per job thread. A JobRun
// starts one download per file it fetches (several at once with parallel files) and hears
// back through the sink and `done`; it never waits for the network.
using DownloadId = std::uint64_t;

class TransferEngine {
 public:
  virtual ~TransferEngine() = default;
  using DoneCallback = std::function<void(Status)>;
  // Starts `request` and returns at once. The sink's calls, then `done` exactly once, come
  // from an engine thread, one at a time for this download; `done` gets what
  // TransferSession::Download would return (kAborted after Stop or sink.StopRequested()).
  // The sink must stay alive until `done` has returned. Never calls `done` from inside Start.
  virtual DownloadId Start(DownloadRequest request, DownloadSink& sink, DoneCallback done) = 0;
  // Asks a download to stop promptly; its `done` still follows. Any thread, also from inside
  // the download's own callbacks; an id that finished already is ignored.
  virtual void Stop(DownloadId download) = 0;
  // The rate budget of one download in bytes per second (0: none), changeable at any moment:
  // where rate limits, schedules and yielding to foreground traffic will act.
  virtual void SetRateLimit(DownloadId download, std::uint64_t bytes_per_second) = 0;
  // Stops every download and returns once every `done` has returned; Start fails afterwards
  // (its `done` gets kAborted).
  virtual void Shutdown() = 0;
};

// Notifications towards the job owner. Called with no JobManager lock held.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void JobTransferred(const Guid& job, std::uint32_t owner_uid) = 0;
  virtual void JobError(const Guid& job, std::uint32_t owner_uid, HRESULT code,
                        ErrorContext context) = 0;
  virtual void JobModified(const Guid& job, std::uint32_t owner_uid, JobState state) = 0;
  // One file of the job is complete (IBackgroundCopyCallback2::FileTransferred).
  virtual void FileTransferred(const Guid& job, std::uint32_t owner_uid,
                               std::uint32_t file_index) = 0;
  // The job reached a final state and is gone from the queue.
  virtual void JobRemoved(const Guid& job) = 0;
};

// A program run for a job (SetNotifyCmdLine): as a given user, without a shell or PATH
// search, with a time limit.
struct CommandSpec {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string program;            // absolute path
  std::vector<std::string> argv;  // argv[0] first
  std::chrono::milliseconds timeout{0};
};

struct CommandOutcome {
  bool started = false;    // false: could not be started (see error)
  bool timed_out = false;  // killed after the time limit
  int exit_code = -1;      // 128 + signal when killed by a signal
  std::string error;
  bool succeeded() const { return started && !timed_out && exit_code == 0; }
};

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // Starts the command and returns at once; `on_exit` runs on another thread when it ends.
  virtual void Start(const CommandSpec& spec,
                     std::function<void(const CommandOutcome&)> on_exit) = 0;
  // Kills what still runs and waits until no `on_exit` is running or will run.
  virtual void StopAll() = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in microseconds since the Unix epoch.
  virtual std::int64_t NowUs() const = 0;
};

}  // namespace openbits::core
