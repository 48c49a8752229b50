// JobManager: the job queue. Owns the live jobs, applies the BITS methods with their
// preconditions and access rules, persists every transition, schedules transfers and runs
// each active job as a JobRun (core/job_run.h) on the transfer engine.
//
// Thread model: API methods are called from the bus thread (or any thread); a scheduler
// thread starts queued jobs and requeues TRANSIENT_ERROR jobs when their retry delay is over;
// runs report back from the engine's threads through RunReports (the private On* methods and
// NextFile). No thread is started per job and the manager never waits for the network.
//
// Locking contract (checked by clang -Wthread-safety through the annotations below):
// - mutex_ guards every job and every run's bookkeeping; the Entry of a job is its one owner.
//   Nothing outside JobManager sees an Entry, only copies of its Job.
// - A run is started (JobRun::Start) without mutex_, from the notifications of the call that
//   decided it; StopRun may be called with mutex_ held (lock order mutex_ -> the run's lock
//   -> the engine's lock). A run makes its reports without any lock of its own, so no report
//   waits behind a lock whose holder waits for mutex_. Its last report is OnRunFinished,
//   after every download it started is done; whoever waits for a run to stop waits for that
//   (job_released_), with mutex_ released.
// - A call that must work on a job without the lock (Cancel and Complete settling files,
//   TakeOwnership handing them over, anyone waiting for a run to stop) holds the job first
//   (Entry::holds): the scheduler starts no run of a held job, so no run can appear behind
//   its back. Holds are released by job id, not by access, and wake the scheduler.
// - Ports are called without mutex_ where they may block or call back (files, EventSink
//   notifications, JobStore::SyncDurable); the store's writes are made with it (each call is
//   short and never calls back), so the only lock order is mutex_ -> a port's internal lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "core/access_policy.h"
#include "core/helper_tokens.h"
#include "core/job.h"
#include "core/job_index.h"
#include "core/job_listing.h"
#include "core/job_run.h"
#include "core/ports.h"
#include "core/scheduler.h"
#include "core/task_pool.h"

namespace openbits::core {

// Bounds of bus inputs that no BITS rule bounds (the others are in job.h and credentials.h).
inline constexpr std::size_t kMaxLocalPathLength = 4095;  // PATH_MAX without its NUL
inline constexpr std::size_t kMaxCertificateSubjectLength = 1024;

struct FileSpec {
  FileSpec(std::string url, std::string path, std::vector<FileRange> byte_ranges = {})
      : remote_url(std::move(url)), local_path(std::move(path)), ranges(std::move(byte_ranges)) {}
  std::string remote_url;
  std::string local_path;
  std::vector<FileRange> ranges;          // AddFileWithRanges; empty: the whole file
  std::uint32_t mode = kDefaultFileMode;  // JobFile::mode: 0666 & ~the caller's umask
};

struct ManagerOptions {
  // Background (HIGH/NORMAL/LOW) jobs that transfer at once. FOREGROUND jobs always run.
  // Default: 4 (BITS runs one; more keeps a fast link busy while one server is slow).
  std::uint32_t max_background_jobs = 4;
  // How long a background job transfers before a waiting job of the same priority gets its
  // turn. Default: 60 s.
  std::chrono::milliseconds time_slice{60'000};
  std::uint32_t max_jobs_per_user = 60;      // BG_E_TOO_MANY_JOBS_PER_USER; admins exempt
  std::uint32_t max_jobs_per_machine = 300;  // BG_E_TOO_MANY_JOBS_PER_MACHINE
  // BG_E_TOO_MANY_FILES_IN_JOB; also the most files one AddFileSet call may carry (checked
  // before any of them touches the disk).
  std::uint32_t max_files_per_job = 200;
  std::uint32_t max_ranges_per_file = 500;  // BG_E_TOO_MANY_RANGES_IN_FILE
  // How often a transferring file is made durable (fdatasync, then the offset is stored).
  std::chrono::milliseconds checkpoint_interval{1000};
  // Files of one job fetched at once ([engine] parallel_files). Default 1: files one after
  // the other, in order, as BITS does. FileTransferred stays in file order either way
  // (docs/compatibility.md). A job with MAX_DOWNLOAD_SIZE fetches one file at a time.
  std::uint32_t parallel_files = 1;
  // Threads of the engine the convenience constructor builds over a Transport.
  std::uint32_t engine_threads = 16;
  // Threads that handle the end of downloads ([engine] completion_threads): each syncs a
  // finished temp file, records it and waits for the store's group commit, so as many files
  // as there are threads finish at once (their syncs overlap).
  std::uint32_t completion_threads = 8;
  // Who may do what beyond the fixed rules (core/access_policy.h).
  AccessRules access;
  // The uid bitsd runs as. A daemon that is not root can only write as itself, so it serves
  // only that uid (E_ACCESSDENIED for others).
  std::uint32_t daemon_uid = 0;
  // A job not modified (no progress, no property change) for this long is cancelled, as
  // BITS's JobInactivityTimeout does. Default: 90 days.
  std::chrono::seconds job_inactivity_timeout{7'776'000};
  // [auth] allow_url_credentials: AddFile takes "user:password@" out of a URL and keeps it
  // as the job's Basic server credentials. Default: false (such URLs are E_INVALIDARG).
  bool allow_url_credentials = false;
  // How long a helper token may wait to be bound (Manager.CreateHelperToken).
  std::chrono::seconds helper_token_lifetime{300};
  // The hash under which the daemon keeps helper tokens (SHA-256, chosen by the wiring).
  std::function<std::string(std::string_view)> helper_token_digest;
  // Whether a uid still names a user (getpwuid). A helper identity that no longer does puts
  // the job in ERROR with BG_E_TOKEN_REQUIRED. Empty: every uid does.
  std::function<bool(std::uint32_t)> user_exists;
  // Whether `owner` may lend the credential cache `name` (a KRB5CCNAME, not empty) with a
  // helper token: a cache that user owns, read as that user (auth::CheckCredentialCache,
  // chosen by the wiring). Checked at minting so that a token never carries another user's
  // cache name. Empty: not checked (the transfer still reads the cache as the helper).
  std::function<Status(const FileOwner&, const std::string&)> credential_cache_check;
  // System accounts (BITS's service accounts): uids below `system_accounts_below` and those
  // listed in `system_accounts` ([identity] system_accounts, names resolved at start). Their
  // jobs run no notification command lines and they are always "logged on" (logon gating);
  // they have no implicit network credentials of their own (docs/helper-tokens.md).
  std::uint32_t system_accounts_below = 1000;
  std::set<std::uint32_t> system_accounts;
  // The one test of "is a system account": every rule about system accounts asks this.
  bool IsSystemAccount(std::uint32_t uid) const {
    return uid < system_accounts_below || system_accounts.contains(uid);
  }
  // A notification command still running after this is killed (and retried later).
  std::chrono::milliseconds notify_command_timeout{300'000};
  // Jobs woken from dormancy (job_dormancy.cc) that stay whole while they could be outlines
  // again (SUSPENDED, no helper token, nothing under way): past this many, the least recently
  // used go back to outlines, so a client that touches every job of a large queue does not
  // bring the whole queue back into memory. At least 1.
  std::uint32_t max_woken_jobs = 1000;
};

// How the queue's jobs are held in memory (JobManager::CountJobsInMemory).
struct JobsInMemory {
  std::size_t whole = 0;    // read whole
  std::size_t dormant = 0;  // outlines only
  // Woken jobs that may go back to outlines (may count a few removed since).
  std::size_t woken = 0;
};

class JobManager : private RunReports {
 public:
  JobManager(ManagerOptions options, JobStore& store, TransferEngine& engine,
             LocalFileSystem& files, EventSink& events, CommandRunner& commands,
             const Clock& clock);
  // Over a blocking Transport: the manager owns a ThreadPoolEngine of
  // options.engine_threads threads (unit tests; bitsd chooses its engine in wiring.cc).
  JobManager(ManagerOptions options, JobStore& store, Transport& transport, LocalFileSystem& files,
             EventSink& events, CommandRunner& commands, const Clock& clock);
  ~JobManager() override;
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  // Loads the queue, moves jobs that were active when the daemon stopped back to QUEUED
  // (they resume from their committed offsets) and starts the scheduler.
  Status Start();
  // Stops every transfer (each checkpointed) and the scheduler. Jobs keep their states.
  void Stop();
  // The network went away or came back. Without it, transfers stop in TRANSIENT_ERROR with
  // BG_E_NETWORK_DISCONNECTED and nothing starts; when it returns, every TRANSIENT_ERROR job
  // is queued again at once, as in BITS.
  void SetNetworkConnected(bool connected);
  // Owner logon gating (job_logon.cc, docs/logon-gating.md). While on, a job of a human uid
  // (not a system account) runs only while that uid is logged on; `logged_on` are the uids
  // logged on now. Off (the default, and when no logind answers): every job may run.
  void SetLogonGating(bool on, const std::vector<std::uint32_t>& logged_on = {});
  // A uid logged on (its queued jobs start) or off (its runs go back to QUEUED; its jobs
  // with a helper token lose it and go to ERROR with BG_E_TOKEN_REQUIRED, as in BITS).
  void SetLoggedOn(std::uint32_t uid, bool logged_on);
  // The clock jumped (the wall clock was set, or a test moved its clock): the scheduler looks
  // at its deadlines again instead of sleeping for a delay computed from the old time.
  void OnClockChanged();

  // proxy_environment: the creator's proxy variables (PRECONFIG), filtered.
  Result<Guid> CreateJob(const Caller& caller, const std::string& display_name, JobType type,
                         const ProxyEnvironment& proxy_environment = {});
  // The caller's jobs (all users' with all_users, admins only), final states excluded.
  Result<std::vector<Guid>> EnumJobs(const Caller& caller, bool all_users) const;
  // One page of the jobs EnumJobs would return, in GUID order: those after `after` (from the
  // first with nullopt), at most min(max_count, kMaxJobListPage) of them. A snapshot taken
  // under the lock, without copying file lists.
  Result<JobListPage> ListJobs(const Caller& caller, const std::optional<Guid>& after,
                               std::size_t max_count, bool all_users) const;
  // A snapshot of a job the caller may see; BG_E_NOT_FOUND otherwise.
  Result<Job> GetJob(const Caller& caller, const Guid& id) const;
  // What the queue holds whole and as outlines (tests and diagnostics).
  JobsInMemory CountJobsInMemory() const;
  // Calls `read` with the job under the manager's lock instead of copying it: a poll of one
  // job's state must not copy its thousands of files (each copy held the lock the transfer
  // reports through). `read` must be quick and must not call the manager.
  Status ReadJob(const Caller& caller, const Guid& id,
                 const std::function<void(const Job&)>& read) const;

  // AddFile/AddFileSet/AddFileWithRanges: all files or none.
  Status AddFiles(const Caller& caller, const Guid& id, const std::vector<FileSpec>& specs);
  // Manager.SubmitJob: CreateJob, SetPriority (when not NORMAL), AddFiles and, with `resume`,
  // Resume, with the checks and errors of each, all or nothing. The job is stored once, whole
  // (one transaction instead of one per step), and exists for nobody until then.
  Result<Guid> SubmitJob(const Caller& caller, const std::string& display_name, JobType type,
                         const ProxyEnvironment& proxy_environment,
                         const std::vector<FileSpec>& specs, std::uint32_t priority, bool resume);
  Status Resume(const Caller& caller, const Guid& id);
  Status Suspend(const Caller& caller, const Guid& id);
  // S_OK or BG_S_UNABLE_TO_DELETE_FILES.
  Result<HRESULT> Cancel(const Caller& caller, const Guid& id);
  // S_OK or BG_S_PARTIAL_COMPLETE.
  Result<HRESULT> Complete(const Caller& caller, const Guid& id);

  Status SetDisplayName(const Caller& caller, const Guid& id, const std::string& name);
  Status SetDescription(const Caller& caller, const Guid& id, const std::string& description);
  Status SetPriority(const Caller& caller, const Guid& id, std::uint32_t priority);
  // Clamped to at least 5 s, as BITS does.
  Status SetMinimumRetryDelay(const Caller& caller, const Guid& id, std::uint32_t seconds);
  Status SetNoProgressTimeout(const Caller& caller, const Guid& id, std::uint32_t seconds);
  // IBackgroundCopyFile2::SetRemoteName: the file's URL from now on (same rules as AddFile).
  Status SetRemoteName(const Caller& caller, const Guid& id, std::uint32_t file_index,
                       const std::string& url);
  // Rewrites every remote name that starts with old_prefix.
  Status ReplaceRemotePrefix(const Caller& caller, const Guid& id, const std::string& old_prefix,
                             const std::string& new_prefix);
  // FALSE sends the job to ERROR (BG_E_VALIDATION_FAILED) and the file is fetched again on
  // Resume. REQUIRES: the file is transferred (BG_E_INVALID_STATE otherwise).
  Status SetValidationState(const Caller& caller, const Guid& id, std::uint32_t file_index,
                            bool valid);
  // BG_SSL_* and BG_HTTP_REDIRECT_POLICY_* bits; unknown ones are E_NOTIMPL.
  Status SetSecurityFlags(const Caller& caller, const Guid& id, std::uint32_t flags);
  // 0: no limit. Exceeded: ERROR with BG_E_MAXDOWNLOAD_TIMEOUT.
  Status SetMaximumDownloadTime(const Caller& caller, const Guid& id, std::uint32_t seconds);
  // Administrators only: the caller becomes the owner; the notification command line,
  // credentials, client certificate and custom headers are dropped, temp files change hands.
  Status TakeOwnership(const Caller& caller, const Guid& id);
  // SetClientCertificateByID/ByName; nullopt is RemoveClientCertificate.
  Status SetClientCertificate(const Caller& caller, const Guid& id,
                              std::optional<ClientCertificateRef> reference);
  // SetCredentials: fills the (target, scheme) slot; never readable afterwards.
  Status SetCredentials(const Caller& caller, const Guid& id, const Credential& credential);
  // RemoveCredentials: S_OK, or S_FALSE when the slot was empty.
  Result<HRESULT> RemoveCredentials(const Caller& caller, const Guid& id, std::uint32_t target,
                                    std::uint32_t scheme);
  // SetProxySettings, checked as BITS does (lists only with OVERRIDE).
  Status SetProxySettings(const Caller& caller, const Guid& id, std::uint32_t usage,
                          const std::string& list, const std::string& bypass);
  // SetCustomHeaders: an empty value clears them.
  Status SetCustomHeaders(const Caller& caller, const Guid& id, const SecretString& headers);
  // The owner only, and not once write-only (E_ACCESSDENIED).
  Result<SecretString> GetCustomHeaders(const Caller& caller, const Guid& id) const;
  Status MakeCustomHeadersWriteOnly(const Caller& caller, const Guid& id);
  // SetHttpMethod: before the first Resume; "GET" (any case) restores the default. The job
  // becomes FOREGROUND and its priority can no longer change.
  Status SetHttpMethod(const Caller& caller, const Guid& id, const std::string& method);
  // IBackgroundCopyJob5: DYNAMIC_CONTENT, HIGH_PERFORMANCE, MAX_DOWNLOAD_SIZE and
  // MINIMUM_NOTIFICATION_INTERVAL_MS, with BITS's read-only rules; E_NOTIMPL for the other
  // known ids, BG_E_UNKNOWN_PROPERTY_ID for the rest.
  Status SetProperty(const Caller& caller, const Guid& id, JobPropertyId property,
                     const PropertyValue& value);
  Result<PropertyValue> GetProperty(const Caller& caller, const Guid& id,
                                    JobPropertyId property) const;
  // BG_NOTIFY_* flags; unknown bits are E_NOTIMPL, as in BITS.
  Status SetNotifyFlags(const Caller& caller, const Guid& id, std::uint32_t flags);
  // Empty program and parameters clear it. Only the owner sets it, and it runs as the owner.
  Status SetNotifyCmdLine(const Caller& caller, const Guid& id, const std::string& program,
                          const std::string& parameters);

  // Helper tokens (core/helper_tokens.h). CreateHelperToken: a token lending the caller's
  // identity, with `credential_cache` (its KRB5CCNAME, "" = default) as its Kerberos cache.
  Result<SecretString> CreateHelperToken(const Caller& caller, const std::string& credential_cache);
  // The same lending `lender`'s identity: only an administrator may name another user
  // (E_ACCESSDENIED); a uid that names no user is E_INVALIDARG.
  Result<SecretString> CreateHelperTokenFor(const Caller& caller, const Caller& lender,
                                            const std::string& credential_cache);
  // SetHelperToken: the job's owner or an administrator; the token is used up.
  Status SetHelperToken(const Caller& caller, const Guid& id, const SecretString& token);
  Status ClearHelperToken(const Caller& caller, const Guid& id);
  // BG_TOKEN_LOCAL_FILE | BG_TOKEN_NETWORK; other bits are E_INVALIDARG.
  Status SetHelperTokenFlags(const Caller& caller, const Guid& id, std::uint32_t flags);
  Result<HelperBinding> GetHelperBinding(const Caller& caller, const Guid& id) const;

 private:
  struct Entry {
    Job job;
    std::uint64_t run_id = 0;  // 0 = no run started yet
    // The current run's stop flag and the run, from StartRun until its OnRunFinished.
    std::shared_ptr<RunControl> control;
    std::shared_ptr<JobRun> run;
    bool worker_running = false;  // a run is under way (until its OnRunFinished)
    // Files complete but not yet announced: FileTransferred goes out in file order, so a
    // file finished before a lower one (parallel files) waits for it. In memory only.
    std::set<std::uint32_t> unsignalled;
    // Every file below this index is complete, for the current run: NextFile and the
    // FileTransferred order start their scan here instead of at file 0 (a scan from 0 per
    // file is O(N^2) for a job of many files). Reset when a run starts; within a run files
    // only ever become complete (a rejected file stops the run first).
    std::uint32_t complete_below = 0;
    // Calls working on the job without the lock (see the contract above). While non-zero
    // the scheduler starts no run: Cancel/Complete settling files, TakeOwnership changing
    // the files' owner (a run would open them as the old one), a wait for a run to stop.
    std::uint32_t holds = 0;
    // Cancel or Complete under way: a second one waits for its outcome.
    bool ending = false;
    std::int64_t queued_since_us = 0;  // when the job last entered QUEUED
    std::int64_t run_started_us = 0;   // when the current run started
    // The current run's time up to here is in job.transfer_time_us (MaxDownloadTime): counted
    // with the state change that ends the run's transfer, or when the run finishes.
    std::int64_t run_counted_until_us = 0;
    // Notification command line: when to run it next (0: not due), and whether it runs.
    std::int64_t notify_due_us = 0;
    bool notify_running = false;
    // JobModification throttling (MINIMUM_NOTIFICATION_INTERVAL_MS).
    std::int64_t last_modification_sent_us = 0;
    bool modification_pending = false;
    // The store could not record the job's last state change: it waits in TRANSIENT_ERROR
    // until retry_at_us (WaitForStore), whatever else is due.
    bool waiting_for_store = false;
    // Woken from dormancy (job_dormancy.cc): it goes back to an outline when it waits for
    // nothing again and others were used since. woken_at: its place in woken_, if there.
    bool woken = false;
    std::optional<std::list<Guid>::iterator> woken_at;
  };
  using Notifications = std::vector<std::function<void()>>;

  // What AddFiles and SubmitJob check of their files before they look at the job.
  struct CheckedFiles {
    std::vector<FileSpec> specs;  // with URL credentials taken out
    std::set<std::string> local_paths;
    std::optional<Credential> url_credential;  // [auth] allow_url_credentials
  };
  Result<CheckedFiles> CheckFileSpecs(const std::vector<FileSpec>& specs) const;
  Error TooManyFiles(std::size_t total) const;  // BG_E_TOO_MANY_FILES_IN_JOB
  // The job a CreateJob call makes (not stored, not in the queue yet).
  Result<Job> NewJob(const Caller& caller, const std::string& display_name, JobType type,
                     const ProxyEnvironment& proxy_environment) const;
  // CreateJob's limits (machine, user) and logon check. REQUIRES: the caller creates a job.
  Status CheckMayCreateJob(const Caller& caller) const REQUIRES(mutex_);
  // Adds checked files to `job` (AddFiles' change, applied again under the lock: files may
  // have been added meanwhile).
  Status AppendFiles(Job& job, const CheckedFiles& files) const;

  // Dormant jobs (job_dormancy.cc): kept as outlines until something needs them whole.
  // Whether a job may stay an outline after the start: it waits for nothing but a call.
  static bool MayStayDormant(const JobOutline& outline);
  void AddDormant(JobOutline outline) REQUIRES(mutex_);
  // Makes a job read whole from the store a live entry (its live progress from the committed
  // offsets, its notification command due again, its index facts).
  Entry& Adopt(Job job, std::int64_t now_us) REQUIRES(mutex_);
  // The dormant job `id` read from the store and made live; nullptr when `id` is not dormant;
  // the store's error when it cannot be read (a job the store no longer holds is forgotten).
  Result<Entry*> Wake(const Guid& id) REQUIRES(mutex_);
  // The live entry of `id`, woken when dormant; nullptr when there is none (or it cannot be read).
  Entry* Live(const Guid& id) REQUIRES(mutex_);
  // A call uses the whole job `entry`: a woken job that waits for nothing becomes the most
  // recently used of woken_.
  void NoteUse(Entry& entry) REQUIRES(mutex_);
  // Whether `entry`, which waits for nothing, is idle too: no run, no call working on it, no
  // notification or store write pending, nothing in memory that its outline and the store
  // do not hold. Only then may it be an outline again.
  bool Idle(const Entry& entry) const REQUIRES(mutex_);
  // While more than options_.max_woken_jobs woken jobs are whole, the least recently used
  // that are idle go back to outlines (never `keep`, the job a call is about to use). A
  // woken job that no longer waits for nothing (resumed) leaves woken_ and stays whole, like
  // any job, until a call uses it suspended again.
  void SleepLeastRecentlyUsed(const Guid& keep) REQUIRES(mutex_);
  // Calls visit(id, job, outline) for every job not in a final state after `after`, in GUID
  // order: live jobs with `job`, dormant ones with `outline`. Stops when visit returns false.
  template <typename Visit>
  void ForEachJobFrom(const std::optional<Guid>& after, Visit&& visit) const REQUIRES(mutex_);

  // The job `id` if `caller` may do `action` to it (Authorize in access_policy.h decides);
  // BG_E_NOT_FOUND or E_ACCESSDENIED otherwise. Jobs in a final state are gone for everybody.
  Result<Entry*> FindFor(const Caller& caller, const Guid& id, JobAction action) REQUIRES(mutex_);
  Result<const Entry*> FindFor(const Caller& caller, const Guid& id, JobAction action) const
      REQUIRES(mutex_);
  // FindFor(kControl), nullptr when refused (which for kControl is always BG_E_NOT_FOUND).
  Entry* FindAccessible(const Caller& caller, const Guid& id) REQUIRES(mutex_);
  // Looks up the job for `action`, applies `change`, persists it and reports the modification.
  Status Mutate(const Caller& caller, const Guid& id, JobAction action,
                const std::function<Status(Job&)>& change) EXCLUDES(mutex_);
  // Applies `event` and records the new state (a run's own steps excepted: IsRunStep).
  Status Transition(Entry& entry, JobEvent event, Notifications& out) REQUIRES(mutex_);
  static bool IsRunStep(JobState from, JobState to);
  static bool IsActiveState(JobState state);  // CONNECTING or TRANSFERRING
  // The job's lowest incomplete file (files.size() when all are complete), advancing
  // entry.complete_below: amortised O(1) per file over a run.
  std::uint32_t FirstIncompleteFile(Entry& entry) REQUIRES(mutex_);
  // For the transitions bitsd makes by itself (runs, retries, the schedule): when the store
  // cannot record the new state, the job waits for the store instead of staying where it was
  // with nothing left to move it on.
  void TransitionOrWait(Entry& entry, JobEvent event, Notifications& out) REQUIRES(mutex_);
  void WaitForStore(Entry& entry, const Error& error, Notifications& out) REQUIRES(mutex_);
  // Cancel and Complete: holds the job, stops its run, runs `settle` on the files without
  // the lock, then applies `event` (a final state) and removes the job. settle's error
  // leaves the job (unheld) where it was, an active one queued again: the caller may retry.
  Result<HRESULT> EndJob(const Caller& caller, const Guid& id, JobEvent event,
                         const std::function<Result<HRESULT>(const Job&)>& settle) EXCLUDES(mutex_);
  // Complete's progress on the files `indices`, recorded (in one store write) before it
  // goes on; with `record` false only noted, for the job's removal to record (or EndJob when
  // the job stays).
  Status SetDelivery(const Guid& id, const std::vector<std::uint32_t>& indices, Delivery delivery,
                     bool record = true) EXCLUDES(mutex_);
  // Sets the run's stop flag and asks its downloads in flight to stop; OnRunFinished follows.
  void StopRun(Entry& entry) REQUIRES(mutex_);
  // Holds the job, asks its run to stop and waits (releasing mutex_ meanwhile) until the run
  // made its last report. Entries may have changed or gone when it returns: look them up.
  void StopWorkerAndWait(const Guid& id) REQUIRES(mutex_);
  void Hold(Entry& entry) REQUIRES(mutex_);
  // Releases a hold taken on `id`, if the job still exists, and wakes the scheduler.
  void Release(const Guid& id) REQUIRES(mutex_);
  // REQUIRES: no run of the job.
  void RemoveJob(const Guid& id, Notifications& out) REQUIRES(mutex_);
  void Dispatch(Notifications& notifications) EXCLUDES(mutex_);

  // Logon gating (job_logon.cc). OwnerMayRun: the scheduler's predicate (the owner is
  // logged on, a system account, or gating is off).
  bool OwnerMayRun(const Job& job) const REQUIRES(mutex_);
  // CreateJob of a human uid with no logon while gating is on: ERROR_NOT_LOGGED_ON.
  Status CheckCallerMayLogOn(const Caller& caller) const REQUIRES(mutex_);
  // The owner's runs go back to QUEUED; its jobs lose their helper tokens (`what` happened:
  // "logged off"), unfinished ones go to ERROR with BG_E_TOKEN_REQUIRED.
  void OnOwnerLoggedOff(std::uint32_t uid, const std::string& what, Notifications& out)
      REQUIRES(mutex_);
  // At Start: the helper tokens of jobs whose owners are not logged on now.
  void DiscardTokensOfLoggedOffOwners(Notifications& out) REQUIRES(mutex_);

  void SchedulerLoop() EXCLUDES(mutex_);
  // Tells the index (job_index.h) what the job looks like now: its place in the run queue, its
  // next deadline, its owner. Called wherever that may have changed: Transition, Mutate,
  // WaitForStore, Release, StartRun, NoteModification, the notification command's exit.
  void Reindex(Entry& entry) REQUIRES(mutex_);
  // Whether the job may start at all when QUEUED (a job that may not stays out of the run
  // queue; ReexamineJobsOf puts it back). Logon gating adds its "owner logged on" check here.
  bool Runnable(const Entry& entry) const REQUIRES(mutex_);
  // What Runnable says changed for every job of `uid` (e.g. the owner logged on or off).
  void ReexamineJobsOf(std::uint32_t uid) REQUIRES(mutex_);
  // The job's earliest deadline of any kind (0: none): what its timer in the index is set to.
  std::int64_t NextDeadlineUs(const Entry& entry) const REQUIRES(mutex_);
  // The jobs whose timer is due: each is checked for everything that may be due for it.
  void HandleDueTimers(std::int64_t now_us, Notifications& out) REQUIRES(mutex_);
  void RequeueIfDue(Entry& entry, std::int64_t now_us, Notifications& out) REQUIRES(mutex_);
  // Starts and pre-empts transfers as the scheduling policy says; returns when the decision
  // may change by itself (0: only on events).
  std::int64_t ApplySchedule(std::int64_t now_us, Notifications& out) REQUIRES(mutex_);
  // REQUIRES: the job is QUEUED, not held, and has no run. The run starts from `out`, once
  // the caller released mutex_.
  void StartRun(Entry& entry, std::int64_t now_us, Notifications& out) REQUIRES(mutex_);
  // Sends JobModification now, or marks it pending when the interval has not passed yet.
  void NoteModification(Entry& entry, bool immediately, Notifications& out) REQUIRES(mutex_);
  void FlushPendingModification(Entry& entry, std::int64_t now_us, Notifications& out)
      REQUIRES(mutex_);
  // CommandRunner::Start is called with mutex_ held: it must not call on_exit itself.
  void RunNotifyCommandIfDue(Entry& entry, std::int64_t now_us) REQUIRES(mutex_);
  void OnNotifyCommandExited(const Guid& id, JobState launched_in, const CommandOutcome& outcome)
      EXCLUDES(mutex_);
  bool MayRunNotifyCommand(const Job& job) const;

  // RunReports: what runs report. Each report is ignored unless run_id is still current.
  NextFileAnswer NextFile(const Guid& id, std::uint64_t run_id,
                          const std::vector<std::uint32_t>& busy,
                          std::optional<std::uint32_t> again, FileWork& work) override
      EXCLUDES(mutex_);
  Entry* FindRun(const Guid& id, std::uint64_t run_id) REQUIRES(mutex_);
  Status OnResponse(const Guid& id, std::uint64_t run_id, std::uint32_t index,
                    const DownloadResponse& response, std::uint64_t bytes_in_temp) override
      EXCLUDES(mutex_);
  void OnProgress(const Guid& id, std::uint64_t run_id, std::uint32_t index,
                  std::uint64_t bytes) override EXCLUDES(mutex_);
  Status OnCheckpoint(const Guid& id, std::uint64_t run_id, std::uint32_t index,
                      std::uint64_t durable_bytes) override EXCLUDES(mutex_);
  // BG_E_TOKEN_REQUIRED when the run acts as a helper identity whose user no longer exists
  // (job_helper_token.cc); checked when a file starts and at every checkpoint.
  Status CheckHelperIdentity(const Guid& id, std::uint64_t run_id) override EXCLUDES(mutex_);
  // Records the files as complete in one store write (an error: none is complete); then
  // PromiseFiles makes the store durable (SyncDurable, without mutex_) and signals
  // FileTransferred in ticket order.
  Status RecordFilesCompleted(const Guid& id, std::uint64_t run_id,
                              const std::vector<CompletedFile>& files,
                              CompletionPromise& promise) override EXCLUDES(mutex_);
  Status PromiseFiles(const Guid& id, const CompletionPromise& promise) override
      EXCLUDES(mutex_);
  void OnRunFailed(const Guid& id, std::uint64_t run_id, const Error& error,
                   std::optional<std::uint32_t> file_index,
                   std::chrono::seconds retry_after) override EXCLUDES(mutex_);
  void OnRemoteNameChanged(const Guid& id, std::uint64_t run_id, std::uint32_t index,
                           const std::string& url) override EXCLUDES(mutex_);
  void OnFileRestart(const Guid& id, std::uint64_t run_id, std::uint32_t index) override
      EXCLUDES(mutex_);
  // The completed files of `entry` whose FileTransferred waits and may go now (no incomplete
  // file before them), in order; they no longer wait.
  std::vector<std::uint32_t> TakeSignallableFiles(Entry& entry) REQUIRES(mutex_);
  // Stops the current run and sends the job to ERROR with `error` (e.g. timeouts).
  void FailRunningJob(Entry& entry, const Error& error, std::optional<std::uint32_t> file_index,
                      Notifications& out) REQUIRES(mutex_);
  void EnforceMaximumDownloadTime(Entry& entry, std::int64_t now_us, Notifications& out)
      REQUIRES(mutex_);
  // Whether the job is idle for longer than the inactivity timeout (and may be cancelled).
  bool Inactive(const Entry& entry, std::int64_t now_us) const REQUIRES(mutex_);
  // Cancels the idle jobs (held by the caller). Runs on the scheduler thread; releases mutex_
  // while it deletes files and notifies.
  void ScavengeInactiveJobs(const std::vector<Guid>& idle, std::int64_t now_us) REQUIRES(mutex_);
  std::int64_t LastActivityUs(const Job& job) const;
  std::int64_t InactivityTimeoutUs() const;
  std::int64_t DownloadTimeDeadlineUs(const Entry& entry) const;
  void OnRunFinished(const Guid& id, std::uint64_t run_id) override EXCLUDES(mutex_);
  // The run's time not counted yet, added to job.transfer_time_us (`job`: the entry's job or
  // its next version).
  void CountRunTime(Entry& entry, Job& job) REQUIRES(mutex_);
  // At the run's end: its time not counted yet, recorded when the job is still CONNECTING or
  // TRANSFERRING (a run stopped with no state change, e.g. at shutdown); otherwise the state
  // change that ended its transfer recorded the time, and the little since goes in memory.
  void CountFinishedRunTime(Entry& entry) REQUIRES(mutex_);

  const ManagerOptions options_;
  JobStore& store_;
  // Set by the Transport constructor only; declared before engine_, which may refer to it.
  std::unique_ptr<TransferEngine> owned_engine_;
  TransferEngine& engine_;
  LocalFileSystem& files_;
  EventSink& events_;
  CommandRunner& commands_;
  const Clock& clock_;
  HelperTokenRegistry helper_tokens_;

  mutable Mutex mutex_;
  CondVar scheduler_wakeup_;
  // A run made its last report, a hold was released or an EndJob finished.
  CondVar job_released_;
  std::map<Guid, Entry> jobs_ GUARDED_BY(mutex_);
  // The dormant jobs, none of them in jobs_ (job_dormancy.cc). The index knows them too.
  std::map<Guid, JobOutline> dormant_ GUARDED_BY(mutex_);
  // The woken jobs that may go back to outlines, least recently used first (job_dormancy.cc).
  // May still name jobs removed since: they are dropped when they come first.
  std::list<Guid> woken_ GUARDED_BY(mutex_);
  JobIndex index_ GUARDED_BY(mutex_);
  std::uint64_t next_run_id_ GUARDED_BY(mutex_) = 1;
  // FileTransferred signals leave in the order their completions were recorded, although
  // each waits for a durable sync without mutex_: a ticket each, sent in ticket order.
  std::uint64_t next_signal_ticket_ GUARDED_BY(mutex_) = 0;
  std::uint64_t signal_turn_ GUARDED_BY(mutex_) = 0;
  CondVar signal_turn_changed_;
  bool stopping_ GUARDED_BY(mutex_) = false;
  bool network_connected_ GUARDED_BY(mutex_) = true;
  bool logon_gating_ GUARDED_BY(mutex_) = false;
  std::set<std::uint32_t> logged_on_ GUARDED_BY(mutex_);  // human uids with a logon now
  std::thread scheduler_;
  // The ends of the runs' downloads (RunOptions::completions). Last, so destroyed first: a
  // task finishing a run's last report still uses the members above.
  TaskPool completions_{options_.completion_threads};
};

}  // namespace openbits::core
