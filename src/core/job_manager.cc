#include "core/job_manager.h"

#include <algorithm>
#include <limits>
#include <set>

#include "core/core_log.h"
#include "core/thread_pool_engine.h"

namespace openbits::core {
JobManager::JobManager(ManagerOptions options, JobStore& store, TransferEngine& engine,
                       LocalFileSystem& files, EventSink& events, CommandRunner& commands,
                       const Clock& clock)
    : options_(options),
      store_(store),
      engine_(engine),
      files_(files),
      events_(events),
      commands_(commands),
      clock_(clock),
      helper_tokens_(
          options_.helper_token_digest, [&clock] { return clock.NowUs(); },
          options_.helper_token_lifetime) {}

JobManager::JobManager(ManagerOptions options, JobStore& store, Transport& transport,
                       LocalFileSystem& files, EventSink& events, CommandRunner& commands,
                       const Clock& clock)
    : options_(options),
      store_(store),
      owned_engine_(std::make_unique<ThreadPoolEngine>(transport, options.engine_threads)),
      engine_(*owned_engine_),
      files_(files),
      events_(events),
      commands_(commands),
      clock_(clock),
      helper_tokens_(
          options_.helper_token_digest, [&clock] { return clock.NowUs(); },
          options_.helper_token_lifetime) {}

JobManager::~JobManager() {
  Stop();
  // Every run has made its last report; the engine's threads may still be letting go of
  // their callbacks, which hold nothing of the manager.
  if (owned_engine_) owned_engine_->Shutdown();
}

Status JobManager::Start() {
  // Jobs that wait for nothing stay outlines (job_dormancy.cc); the others are read whole: one
  // by one when they are few, all in one pass when they are most of the queue.
  auto outlines = store_.LoadOutlines();
  if (!outlines) return outlines.error();
  // In GUID order, the order of the queue and its index: each job is added at their end.
  std::sort(outlines->begin(), outlines->end(),
            [](const JobOutline& a, const JobOutline& b) { return a.summary.id < b.summary.id; });
  std::vector<Guid> wanted;
  for (const JobOutline& outline : *outlines) {
    if (!MayStayDormant(outline)) wanted.push_back(outline.summary.id);
  }
  std::vector<Job> whole;
  if (wanted.size() > outlines->size() / 2) {
    auto loaded = store_.LoadAll();
    if (!loaded) return loaded.error();
    for (Job& job : *loaded) {
      if (std::binary_search(wanted.begin(), wanted.end(), job.id)) whole.push_back(std::move(job));
    }
  } else {
    whole.reserve(wanted.size());
    for (const Guid& id : wanted) {
      auto loaded = store_.Load(id);
      if (!loaded) return loaded.error();
      whole.push_back(std::move(*loaded));
    }
  }
  const std::int64_t now = clock_.NowUs();
  {
    MutexLock lock(mutex_);
    for (JobOutline& outline : *outlines) {
      if (MayStayDormant(outline)) AddDormant(std::move(outline));
    }
    for (Job& job : whole) {
      if (job.state == JobState::kConnecting || job.state == JobState::kTransferring) {
        // The daemon stopped (or died) mid-transfer: queue again; the files resume from
        // their committed offsets.
        OPENBITS_RETURN_IF_ERROR(job.Apply(JobEvent::kRecover, now));
        if (auto saved = store_.Save(job); !saved) {
          // A full state directory is no reason not to start: the store still holds the
          // active state, which the next start recovers the same way, and the job waits for
          // the store when it runs (WaitForStore).
          Log()->warn("Failed to record the recovery of job={}: {}", job.id.ToString(),
                      saved.error().ToString());
        }
        Log()->info("Recovered job={} to QUEUED", job.id.ToString());
      }
      Adopt(std::move(job), now);
    }
    // Logon gating (job_logon.cc). Nobody can listen to the jobs before the queue is
    // published, so their notifications are not sent.
    Notifications unheard;
    DiscardTokensOfLoggedOffOwners(unheard);
    stopping_ = false;
  }
  Log()->info("Loaded {} job(s), {} of them dormant", outlines->size(),
              outlines->size() - whole.size());
  scheduler_ = std::thread(&JobManager::SchedulerLoop, this);
  return Ok();
}

void JobManager::Stop() {
  {
    MutexLock lock(mutex_);
    if (stopping_ && !scheduler_.joinable()) return;
    stopping_ = true;
    for (auto& [id, entry] : jobs_) StopRun(entry);
  }
  scheduler_wakeup_.NotifyAll();
  if (scheduler_.joinable()) scheduler_.join();
  commands_.StopAll();
  MutexLock lock(mutex_);
  // Every run checkpoints what it has and makes its last report (OnRunFinished).
  for (;;) {
    const bool running = std::any_of(jobs_.begin(), jobs_.end(),
                                     [](const auto& job) { return job.second.worker_running; });
    if (!running) break;
    job_released_.Wait(mutex_);
  }
}

void JobManager::SetNetworkConnected(bool connected) {
  Notifications notifications;
  {
    MutexLock lock(mutex_);
    if (network_connected_ == connected) return;
    network_connected_ = connected;
    const std::int64_t now = clock_.NowUs();
    for (auto& [id, entry] : jobs_) {
      const bool running = entry.worker_running && !entry.control->stop;
      const JobState state = entry.job.state;
      if (!connected &&
          (running || state == JobState::kQueued || state == JobState::kTransientError)) {
        if (running) StopRun(entry);  // the transfer checkpoints and ends
        if (running) ++entry.job.error_count;
        entry.job.error = JobError{hr::BG_E_NETWORK_DISCONNECTED, ErrorContext::kGeneralTransport,
                                   std::nullopt, "the network connection was lost"};
        // Not retried on a timer: only when the network comes back.
        entry.job.retry_at_us = std::numeric_limits<std::int64_t>::max();
        if (state == JobState::kTransientError) {
          (void)store_.Save(entry.job);  // already waiting; now for the network
        } else {
          TransitionOrWait(entry, JobEvent::kTransientError, notifications);
        }
      } else if (connected && entry.job.state == JobState::kTransientError) {
        TransitionOrWait(entry, JobEvent::kRetryDue, notifications);
        entry.job.last_progress_us = std::max(entry.job.last_progress_us, now);
      }
    }
  }
  Log()->info("Network {}: transfers {}", connected ? "back" : "lost",
              connected ? "resume" : "wait");
  scheduler_wakeup_.NotifyAll();
  Dispatch(notifications);
}

Result<const JobManager::Entry*> JobManager::FindFor(const Caller& caller, const Guid& id,
                                                     JobAction action) const {
  auto found = const_cast<JobManager*>(this)->FindFor(caller, id, action);
  if (!found) return found.error();
  return *found;
}

JobManager::Entry* JobManager::FindAccessible(const Caller& caller, const Guid& id) {
  auto found = FindFor(caller, id, JobAction::kControl);
  return found ? *found : nullptr;
}

Result<Job> JobManager::NewJob(const Caller& caller, const std::string& display_name, JobType type,
                               const ProxyEnvironment& proxy_environment) const {
  OPENBITS_RETURN_IF_ERROR(ValidateDisplayName(display_name));
  if (static_cast<std::uint32_t>(type) > static_cast<std::uint32_t>(JobType::kUploadReply)) {
    return Error::InvalidArg("unknown job type " + std::to_string(static_cast<int>(type)));
  }
  if (type != JobType::kDownload) {
    return Error(hr::E_NOTIMPL, ErrorContext::kNone, "upload jobs are not supported yet");
  }
  OPENBITS_RETURN_IF_ERROR(AuthorizeCreateJob(caller, options_.daemon_uid));
  Job job;
  job.id = Guid::Generate();
  job.owner_uid = caller.uid;
  job.owner_gid = caller.gid;
  job.display_name = display_name;
  job.type = type;
  job.proxy_environment = FilterProxyEnvironment(proxy_environment);
  // A password in the environment's proxy URLs becomes the job's (sealed) proxy credentials.
  for (Credential& credential : TakeProxyEnvironmentCredentials(job.proxy_environment)) {
    job.credentials.Set(std::move(credential));
  }
  const std::int64_t now = clock_.NowUs();
  job.times.creation_us = job.times.modification_us = now;
  job.last_progress_us = now;
  return job;
}

Status JobManager::CheckMayCreateJob(const Caller& caller) const {
  OPENBITS_RETURN_IF_ERROR(CheckCallerMayLogOn(caller));  // logon gating (job_logon.cc)
  const std::size_t active = index_.active_jobs();
  const std::size_t owned = index_.ActiveJobsOf(caller.uid).size();
  if (active >= options_.max_jobs_per_machine) {
    return Error(hr::BG_E_TOO_MANY_JOBS_PER_MACHINE, ErrorContext::kNone,
                 "the machine already has " + std::to_string(active) + " jobs");
  }
  if (!ExemptFromPerUserJobLimit(caller) && owned >= options_.max_jobs_per_user) {
    return Error(
        hr::BG_E_TOO_MANY_JOBS_PER_USER, ErrorContext::kNone,
        "uid " + std::to_string(caller.uid) + " already has " + std::to_string(owned) + " jobs");
  }
  return Ok();
}

Result<Guid> JobManager::CreateJob(const Caller& caller, const std::string& display_name,
                                   JobType type, const ProxyEnvironment& proxy_environment) {
  auto created = NewJob(caller, display_name, type, proxy_environment);
  if (!created) return created.error();
  Job& job = *created;
  MutexLock lock(mutex_);
  OPENBITS_RETURN_IF_ERROR(CheckMayCreateJob(caller));
  OPENBITS_RETURN_IF_ERROR(store_.Save(job));
  Log()->info("Created job={} owner={} name='{}'", job.id.ToString(), caller.uid, display_name);
  const Guid id = job.id;
  Entry& entry = jobs_[id];
  entry.job = std::move(job);
  Reindex(entry);
  // The scheduler may be asleep with no deadline: the new job's inactivity timeout is one.
  scheduler_wakeup_.NotifyAll();
  return id;
}

Result<Guid> JobManager::SubmitJob(const Caller& caller, const std::string& display_name,
                                   JobType type, const ProxyEnvironment& proxy_environment,
                                   const std::vector<FileSpec>& specs, std::uint32_t priority,
                                   bool resume) {
  // The checks of the calls it stands for, in their order (CreateJob, SetPriority, AddFiles),
  // then under the lock the queue's limits, which CreateJob checks first: an over-limit call
  // with a bad argument fails with the argument's error here.
  auto created = NewJob(caller, display_name, type, proxy_environment);
  if (!created) return created.error();
  Job& job = *created;
  if (priority > static_cast<std::uint32_t>(JobPriority::kLow)) {
    return Error::InvalidArg("priority must be 0 (FOREGROUND) to 3 (LOW)");
  }
  job.priority = static_cast<JobPriority>(priority);
  auto checked = CheckFileSpecs(specs);
  if (!checked) return checked.error();
  // File-system checks without the lock, as AddFiles makes them. A new job lends nobody's
  // identity: its files are its owner's.
  const FileOwner owner = FilesOwnerOf(job);
  for (const FileSpec& spec : checked->specs) {
    OPENBITS_RETURN_IF_ERROR(files_.CheckDestination(owner, spec.local_path));
  }
  OPENBITS_RETURN_IF_ERROR(AppendFiles(job, *checked));
  if (resume) {
    job.resumed_once = true;
    OPENBITS_RETURN_IF_ERROR(job.Apply(JobEvent::kResume, clock_.NowUs()));
  }
  Notifications notifications;
  const Guid id = job.id;
  {
    MutexLock lock(mutex_);
    OPENBITS_RETURN_IF_ERROR(CheckMayCreateJob(caller));
    OPENBITS_RETURN_IF_ERROR(store_.Save(job));  // one transaction: the job and its files
    Log()->info("Created job={} owner={} name='{}' with {} file(s){}", id.ToString(), caller.uid,
                display_name, job.files.size(), resume ? ", resumed" : "");
    Entry& entry = jobs_[id];
    entry.job = std::move(job);
    if (entry.job.state == JobState::kQueued) {
      entry.queued_since_us = entry.job.times.modification_us;
    }
    NoteModification(entry, /*immediately=*/resume, notifications);
    Reindex(entry);
  }
  scheduler_wakeup_.NotifyAll();
  Dispatch(notifications);
  return id;
}

Result<Job> JobManager::GetJob(const Caller& caller, const Guid& id) const {
  MutexLock lock(mutex_);
  auto entry = FindFor(caller, id, JobAction::kView);
  if (!entry) return entry.error();
  return (*entry)->job;
}

Status JobManager::ReadJob(const Caller& caller, const Guid& id,
                           const std::function<void(const Job&)>& read) const {
  MutexLock lock(mutex_);
  auto entry = FindFor(caller, id, JobAction::kView);
  if (!entry) return entry.error();
  read((*entry)->job);
  return Ok();
}

Result<JobManager::CheckedFiles> JobManager::CheckFileSpecs(
    const std::vector<FileSpec>& specs) const {
  // Arguments first, as BITS checks them: URLs, absolute paths, no duplicates, ranges.
  if (specs.empty()) return Error::InvalidArg("no files given");
  // The count before anything else: a bus message may carry any number of files, and each
  // costs a file-system check (100,000 of them held the bus for seconds).
  if (specs.size() > options_.max_files_per_job) return TooManyFiles(specs.size());
  CheckedFiles checked;
  checked.specs = specs;
  // Credentials in URLs (RFC 3986 3.2.1): taken out before anything looks at or logs the URL.
  if (options_.allow_url_credentials) {
    for (FileSpec& spec : checked.specs) {
      if (auto split = SplitUrlCredentials(spec.remote_url)) {
        spec.remote_url = std::move(split->url);
        Credential credential;
        credential.target = AuthTarget::kServer;
        credential.scheme = AuthScheme::kBasic;
        credential.user = std::move(split->user);
        credential.password = std::move(split->password);
        OPENBITS_RETURN_IF_ERROR(ValidateCredential(credential));
        checked.url_credential = std::move(credential);
      }
    }
  }
  for (FileSpec& spec : checked.specs) {
    if (!spec.ranges.empty()) {
      OPENBITS_RETURN_IF_ERROR(ValidateFileRanges(spec.ranges, options_.max_ranges_per_file));
    }
  }
  for (const FileSpec& spec : checked.specs) {
    OPENBITS_RETURN_IF_ERROR(ValidateRemoteUrl(spec.remote_url));
    if (spec.local_path.size() > kMaxLocalPathLength) {
      return Error::InvalidArg("a local name has " + std::to_string(spec.local_path.size()) +
                               " bytes; at most " + std::to_string(kMaxLocalPathLength) +
                               " (PATH_MAX) are allowed");
    }
    if (spec.local_path.empty() || spec.local_path.front() != '/') {
      return Error::InvalidArg("the local name '" + spec.local_path + "' is not an absolute path");
    }
    if (spec.local_path.back() == '/') {
      return Error::InvalidArg("the local name '" + spec.local_path + "' names a directory");
    }
    if (!checked.local_paths.insert(spec.local_path).second) {
      return Error::InvalidArg("the local name '" + spec.local_path + "' is given twice");
    }
  }
  return checked;
}

Error JobManager::TooManyFiles(std::size_t total) const {
  return Error(hr::BG_E_TOO_MANY_FILES_IN_JOB, ErrorContext::kNone,
               "a job may hold at most " + std::to_string(options_.max_files_per_job) +
                   " files; this would make it " + std::to_string(total));
}

Status JobManager::AppendFiles(Job& job, const CheckedFiles& files) const {
  if (job.files.size() + files.specs.size() > options_.max_files_per_job) {
    return TooManyFiles(job.files.size() + files.specs.size());
  }
  for (const JobFile& file : job.files) {
    if (files.local_paths.contains(file.local_path)) {
      return Error::InvalidArg("the job already has a file with local name '" + file.local_path +
                               "'");
    }
  }
  for (const FileSpec& spec : files.specs) {
    if (!spec.ranges.empty() && job.WholeBodies()) {
      return Error::InvalidArg(
          "byte ranges need range requests: not with dynamic content or a custom HTTP method");
    }
    JobFile file;
    file.remote_url = spec.remote_url;
    file.local_path = spec.local_path;
    file.ranges = spec.ranges;
    file.mode = spec.mode & 0777;
    // HIGH_PERFORMANCE writes straight into the destination (as BITS does).
    file.temp_path =
        job.high_performance
            ? spec.local_path
            : TempPathFor(spec.local_path, job.id, static_cast<std::uint32_t>(job.files.size()));
    job.files.push_back(std::move(file));
  }
  // The URL's credentials serve this job only, as its Basic server credentials.
  if (files.url_credential) job.credentials.Set(*files.url_credential);
  return Ok();
}

Status JobManager::AddFiles(const Caller& caller, const Guid& id,
                            const std::vector<FileSpec>& specs) {
  auto checked = CheckFileSpecs(specs);
  if (!checked) return checked.error();
  FileOwner owner;
  {
    MutexLock lock(mutex_);
    auto entry = FindFor(caller, id, JobAction::kChangeDestination);
    if (!entry) return entry.error();
    const Job& job = (*entry)->job;
    if (job.files.size() + specs.size() > options_.max_files_per_job) {
      return TooManyFiles(job.files.size() + specs.size());
    }
    owner = FilesOwnerOf(job);
  }
  // File-system checks run without the lock: they may touch slow or remote file systems.
  for (const FileSpec& spec : specs) {
    OPENBITS_RETURN_IF_ERROR(files_.CheckDestination(owner, spec.local_path));
  }
  // Again under the lock: files may have been added while it was released.
  return Mutate(caller, id, JobAction::kChangeDestination,
                [&](Job& job) { return AppendFiles(job, *checked); });
}

Status JobManager::Resume(const Caller& caller, const Guid& id) {
  Notifications notifications;
  {
    MutexLock lock(mutex_);
    auto found = FindFor(caller, id, JobAction::kControl);
    if (!found) return found.error();
    Entry* entry = *found;
    Job& job = entry->job;
    if (job.files.empty()) {
      return Error(hr::BG_E_EMPTY, ErrorContext::kNone, "the job has no files to transfer");
    }
    if (job.state == JobState::kTransferred && !job.NextIncompleteFile()) return Ok();
    if (job.state == JobState::kQueued || job.state == JobState::kConnecting ||
        job.state == JobState::kTransferring) {
      return Ok();
    }
    job.resumed_once = true;  // saved by the transition
    OPENBITS_RETURN_IF_ERROR(Transition(*entry, JobEvent::kResume, notifications));
  }
  scheduler_wakeup_.NotifyAll();
  Dispatch(notifications);
  return Ok();
}

Status JobManager::Suspend(const Caller& caller, const Guid& id) {
  Notifications notifications;
  {
    MutexLock lock(mutex_);
    auto found = FindFor(caller, id, JobAction::kControl);
    if (!found) return found.error();
    Entry* entry = *found;
    if (entry->job.state == JobState::kSuspended) return Ok();
    // Recorded first: a Suspend that cannot be stored (a full state directory) must leave the
    // transfer running, not a TRANSFERRING job with nothing transferring.
    OPENBITS_RETURN_IF_ERROR(Transition(*entry, JobEvent::kSuspend, notifications));
    StopRun(*entry);  // the transfer checkpoints and stops
  }
  Dispatch(notifications);
  return Ok();
}

Status JobManager::SetDisplayName(const Caller& caller, const Guid& id, const std::string& name) {
  OPENBITS_RETURN_IF_ERROR(ValidateDisplayName(name));
  return Mutate(caller, id, JobAction::kConfigure, [&](Job& job) {
    job.display_name = name;
    return Ok();
  });
}

Status JobManager::SetDescription(const Caller& caller, const Guid& id,
                                  const std::string& description) {
  OPENBITS_RETURN_IF_ERROR(ValidateDescription(description));
  return Mutate(caller, id, JobAction::kConfigure, [&](Job& job) {
    job.description = description;
    return Ok();
  });
}

Status JobManager::SetPriority(const Caller& caller, const Guid& id, std::uint32_t priority) {
  if (priority > static_cast<std::uint32_t>(JobPriority::kLow)) {
    return Error::InvalidArg("priority must be 0 (FOREGROUND) to 3 (LOW)");
  }
  const Status status = Mutate(caller, id, JobAction::kConfigure, [&](Job& job) -> Status {
    if (!job.http_method.empty() &&
        priority != static_cast<std::uint32_t>(JobPriority::kForeground)) {
      return Error(hr::BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD, ErrorContext::kNone,
                   "a job with a custom HTTP method stays FOREGROUND");
    }
    job.priority = static_cast<JobPriority>(priority);
    return Ok();
  });
  scheduler_wakeup_.NotifyAll();
  return status;
}

Status JobManager::SetMinimumRetryDelay(const Caller& caller, const Guid& id,
                                        std::uint32_t seconds) {
  return Mutate(caller, id, JobAction::kConfigure, [&](Job& job) {
    job.minimum_retry_delay_s = std::max(seconds, kMinimumRetryDelayFloorSeconds);
    return Ok();
  });
}

Status JobManager::SetNoProgressTimeout(const Caller& caller, const Guid& id,
                                        std::uint32_t seconds) {
  return Mutate(caller, id, JobAction::kConfigure, [&](Job& job) {
    job.no_progress_timeout_s = seconds;
    return Ok();
  });
}

Status JobManager::Mutate(const Caller& caller, const Guid& id, JobAction action,
                          const std::function<Status(Job&)>& change) {
  Notifications notifications;
  {
    MutexLock lock(mutex_);
    auto found = FindFor(caller, id, action);
    if (!found) return found.error();
    Entry* entry = *found;
    Job changed = entry->job;
    OPENBITS_RETURN_IF_ERROR(change(changed));
    changed.times.modification_us = clock_.NowUs();
    OPENBITS_RETURN_IF_ERROR(store_.Save(changed));
    entry->job = std::move(changed);
    NoteModification(*entry, /*immediately=*/false, notifications);
    Reindex(*entry);  // its priority, owner or time limits may have changed
  }
  scheduler_wakeup_.NotifyAll();  // a pending modification may need flushing
  Dispatch(notifications);
  return Ok();
}

// A run's own steps: QUEUED -> CONNECTING -> TRANSFERRING (and CONNECTING again, as a run
// moves from file to file). They are not recorded. A restart queues a job the store holds in
// any of these three states again, each file from its recorded offset, so recording them
// would change nothing a restart does; what else they change (the modification time) goes to
// the store with the job's next recorded change (the store writes what differs from what it
// wrote last). Two writes fewer per run, and a state that is never waited for.
bool JobManager::IsRunStep(JobState from, JobState to) {
  return (from == JobState::kQueued || IsActiveState(from)) && IsActiveState(to);
}

bool JobManager::IsActiveState(JobState state) {
  return state == JobState::kConnecting || state == JobState::kTransferring;
}

Status JobManager::Transition(Entry& entry, JobEvent event, Notifications& out) {
  Job changed = entry.job;
  OPENBITS_RETURN_IF_ERROR(changed.Apply(event, clock_.NowUs()));
  // A run's transfer ends here (TRANSFERRED, an error, a suspend ...): its time goes with this
  // record, not in a write of its own when the run finishes.
  const bool transfer_ends =
      entry.worker_running && IsActiveState(entry.job.state) && !IsActiveState(changed.state);
  const std::int64_t counted_until = entry.run_counted_until_us;
  if (transfer_ends) CountRunTime(entry, changed);
  if (!IsRunStep(entry.job.state, changed.state)) {
    if (auto saved = store_.Save(changed); !saved) {
      entry.run_counted_until_us = counted_until;  // not counted after all
      return saved;
    }
  }
  entry.job = std::move(changed);
  entry.waiting_for_store = false;
  const Job& job = entry.job;
  if (job.state == JobState::kQueued) entry.queued_since_us = job.times.modification_us;
  Log()->debug("job={} {} -> {}", job.id.ToString(), JobEventName(event), JobStateName(job.state));
  NoteModification(entry, /*immediately=*/true, out);
  if (job.state == JobState::kTransferred && job.Notifies(kNotifyJobTransferred)) {
    out.push_back(
        [this, id = job.id, owner = job.owner_uid] { events_.JobTransferred(id, owner); });
  } else if (job.state == JobState::kError && job.error && job.Notifies(kNotifyJobError)) {
    out.push_back([this, id = job.id, owner = job.owner_uid, error = *job.error] {
      events_.JobError(id, owner, error.code, error.context);
    });
  }
  const bool command_state = job.state == JobState::kTransferred || job.state == JobState::kError;
  entry.notify_due_us = command_state && MayRunNotifyCommand(job) ? job.times.modification_us : 0;
  Reindex(entry);
  return Ok();
}

void JobManager::TransitionOrWait(Entry& entry, JobEvent event, Notifications& out) {
  Job moved = entry.job;
  if (!moved.Apply(event, clock_.NowUs())) return;  // not a transition from this state
  if (auto recorded = Transition(entry, event, out); !recorded) {
    WaitForStore(entry, recorded.error(), out);
  }
}

// The job's next state could not be recorded (the state directory's file system is full or
// failing). The job waits in TRANSIENT_ERROR with the store's error, in memory only: the
// database keeps the last state it recorded, which a restart recovers the same way (QUEUED,
// each file from its recorded offset), so no state is shown that the database could not
// hold. After the retry delay the job tries again; the next save that succeeds records it all.
void JobManager::WaitForStore(Entry& entry, const Error& error, Notifications& out) {
  Job& job = entry.job;
  const std::int64_t now = clock_.NowUs();
  StopRun(entry);
  if (job.state == JobState::kTransientError) {
    ++job.error_count;  // a retry that failed
  } else if (!job.Apply(JobEvent::kTransientError, now)) {
    return;  // not a running or queued job: it stays as it is
  }
  job.error = JobError{error.code(), error.context(), std::nullopt, error.message()};
  job.retry_at_us = now + std::int64_t{job.minimum_retry_delay_s} * 1'000'000;
  entry.waiting_for_store = true;
  Log()->error("Failed to record job={}: {}; it waits in TRANSIENT_ERROR for {} s",
               job.id.ToString(), error.ToString(), job.minimum_retry_delay_s);
  NoteModification(entry, /*immediately=*/true, out);
  Reindex(entry);
}

void JobManager::Hold(Entry& entry) { ++entry.holds; }

void JobManager::Release(const Guid& id) {
  if (auto it = jobs_.find(id); it != jobs_.end() && it->second.holds > 0) {
    --it->second.holds;
    Reindex(it->second);
  }
  job_released_.NotifyAll();
  scheduler_wakeup_.NotifyAll();  // the job may be startable again
}

void JobManager::StopRun(Entry& entry) {
  if (entry.control) entry.control->stop = true;
  if (entry.run) entry.run->Stop();
  Reindex(entry);  // a run winding down holds no slot
}

void JobManager::StopWorkerAndWait(const Guid& id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  Hold(it->second);  // while we sleep, no new run may take the old one's place
  StopRun(it->second);
  // The run needs mutex_ for its last reports: Wait releases it.
  while (it != jobs_.end() && it->second.worker_running) {
    job_released_.Wait(mutex_);
    it = jobs_.find(id);
  }
  Release(id);
}

void JobManager::RemoveJob(const Guid& id, Notifications& out) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  if (auto removed = store_.Remove(id); !removed) {
    Log()->error("Failed to remove job={} from the store: {}", id.ToString(),
                 removed.error().ToString());
  }
  const std::uint32_t owner = it->second.job.owner_uid;
  const JobState state = it->second.job.state;
  const bool modification = it->second.job.Notifies(kNotifyJobModification);
  jobs_.erase(it);
  index_.Remove(id);
  out.push_back([this, id, owner, state, modification] {
    if (modification) events_.JobModified(id, owner, state);
    events_.JobRemoved(id);
  });
}

void JobManager::Dispatch(Notifications& notifications) {
  for (auto& notify : notifications) notify();
  notifications.clear();
}

}  // namespace openbits::core
