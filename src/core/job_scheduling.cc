// JobManager's scheduling: the scheduler thread, which starts and pre-empts runs, requeues
// jobs whose retry delay is over, and enforces the time limits (MaxDownloadTime, the
// inactivity timeout), driven by the index of job_index.h (a run queue and a timer heap).
#include <algorithm>
#include <set>

#include "core/core_log.h"
#include "core/job_manager.h"

namespace openbits::core {

void JobManager::FailRunningJob(Entry& entry, const Error& error,
                                std::optional<std::uint32_t> file_index, Notifications& out) {
  StopRun(entry);
  ++entry.job.error_count;
  entry.job.error = JobError{error.code(), error.context(), file_index, error.message()};
  Log()->warn("Failed job={}: {}", entry.job.id.ToString(), error.ToString());
  TransitionOrWait(entry, JobEvent::kFatalError, out);
}

std::int64_t JobManager::DownloadTimeDeadlineUs(const Entry& entry) const {
  if (!entry.worker_running || !entry.control || entry.control->stop ||
      entry.job.maximum_download_time_s == 0) {
    return 0;
  }
  // transfer_time_us holds the run's time up to run_counted_until_us.
  return entry.run_counted_until_us + std::int64_t{entry.job.maximum_download_time_s} * 1'000'000 -
         entry.job.transfer_time_us;
}

void JobManager::CountRunTime(Entry& entry, Job& job) {
  const std::int64_t now = clock_.NowUs();
  job.transfer_time_us += std::max<std::int64_t>(0, now - entry.run_counted_until_us);
  entry.run_counted_until_us = now;
}

void JobManager::CountFinishedRunTime(Entry& entry) {
  CountRunTime(entry, entry.job);
  if (entry.job.state != JobState::kConnecting && entry.job.state != JobState::kTransferring) {
    return;  // written with the job's next change
  }
  if (auto saved = store_.Save(entry.job); !saved) {
    Log()->error("Failed to record the transfer time of job={}: {}", entry.job.id.ToString(),
                 saved.error().ToString());
  }
}

void JobManager::EnforceMaximumDownloadTime(Entry& entry, std::int64_t now_us, Notifications& out) {
  const std::int64_t deadline = DownloadTimeDeadlineUs(entry);
  if (deadline != 0 && now_us >= deadline) {
    FailRunningJob(entry,
                   Error(hr::BG_E_MAXDOWNLOAD_TIMEOUT, ErrorContext::kGeneralQueueManager,
                         "the job transferred for longer than its maximum download time of " +
                             std::to_string(entry.job.maximum_download_time_s) + " s"),
                   std::nullopt, out);
  }
}

std::int64_t JobManager::LastActivityUs(const Job& job) const {
  return std::max(job.times.modification_us, job.last_progress_us);
}

std::int64_t JobManager::InactivityTimeoutUs() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(options_.job_inactivity_timeout)
      .count();
}

bool JobManager::Inactive(const Entry& entry, std::int64_t now_us) const {
  if (entry.worker_running || entry.holds > 0 || IsFinalState(entry.job.state)) return false;
  return now_us - LastActivityUs(entry.job) >= InactivityTimeoutUs();
}

void JobManager::ScavengeInactiveJobs(const std::vector<Guid>& idle, std::int64_t now_us) {
  for (const Guid& id : idle) {
    auto held = jobs_.find(id);
    if (held == jobs_.end()) continue;
    const Job job = held->second.job;
    mutex_.unlock();
    for (const JobFile& file : job.files) {
      if (file.temp_path != file.local_path && file.delivery != Delivery::kDone) {
        (void)files_.Remove(FilesOwnerOf(job), file.temp_path);
      }
    }
    mutex_.lock();
    Release(job.id);
    auto it = jobs_.find(job.id);
    if (it == jobs_.end() || it->second.worker_running || it->second.holds > 0) continue;
    Notifications notifications;
    if (!it->second.job.Apply(JobEvent::kCancel, now_us)) continue;
    Log()->warn("Scavenged job={} owner={}: inactive for {} s (JobInactivityTimeout)",
                job.id.ToString(), job.owner_uid, options_.job_inactivity_timeout.count());
    RemoveJob(job.id, notifications);
    mutex_.unlock();
    Dispatch(notifications);
    mutex_.lock();
  }
}

// ---- Scheduler ------------------------------------------------------------------------------

// Each pass costs O(log n) per job it changes, not a pass over the queue: the jobs whose timer
// is due come from the index's heap, the jobs to start from its run queue.
void JobManager::SchedulerLoop() {
  MutexLock lock(mutex_);
  while (!stopping_) {
    Notifications notifications;
    const std::int64_t now = clock_.NowUs();
    HandleDueTimers(now, notifications);
    if (stopping_) break;
    const std::int64_t next_decision = ApplySchedule(now, notifications);
    if (!notifications.empty()) {
      lock.Unlock();
      Dispatch(notifications);
      lock.Lock();
      continue;  // state may have changed while unlocked
    }
    std::int64_t deadline = index_.NextDeadlineUs();
    if (next_decision != 0 && (deadline == 0 || next_decision < deadline)) {
      deadline = next_decision;
    }
    if (deadline == 0) {
      scheduler_wakeup_.Wait(mutex_);
    } else {
      const auto delay =
          std::chrono::microseconds(std::max<std::int64_t>(deadline - clock_.NowUs(), 0));
      scheduler_wakeup_.WaitFor(mutex_, delay);
    }
  }
}

void JobManager::OnClockChanged() { scheduler_wakeup_.NotifyAll(); }

bool JobManager::Runnable(const Entry& entry) const {
  return OwnerMayRun(entry.job);  // logon gating (job_logon.cc)
}

void JobManager::ReexamineJobsOf(std::uint32_t uid) {
  const std::set<Guid> owned = index_.ActiveJobsOf(uid);
  for (const Guid& id : owned) {
    if (auto it = jobs_.find(id); it != jobs_.end()) Reindex(it->second);
  }
  scheduler_wakeup_.NotifyAll();
}

void JobManager::Reindex(Entry& entry) {
  const Job& job = entry.job;
  JobIndex::Facts facts;
  facts.owner_uid = job.owner_uid;
  facts.active = !IsFinalState(job.state);
  if (job.state == JobState::kQueued && Runnable(entry)) {
    facts.queued = {job.priority, entry.queued_since_us};
  }
  // A run that was asked to stop is winding down and holds no slot.
  if (entry.worker_running && entry.control && !entry.control->stop) {
    facts.running = {job.priority, entry.run_started_us};
  }
  facts.has_run = entry.worker_running;
  facts.deadline_us = NextDeadlineUs(entry);
  index_.Update(job.id, facts);
}

void JobManager::HandleDueTimers(std::int64_t now_us, Notifications& out) {
  std::vector<Guid> idle;
  for (const Guid& id : index_.TakeDue(now_us)) {
    Entry* live = Live(id);  // a dormant job's inactivity timeout wakes it
    if (live == nullptr) continue;
    Entry& entry = *live;
    if (Inactive(entry, now_us)) {
      Hold(entry);  // no run starts while its files go
      idle.push_back(id);
    } else {
      // Each checks its own deadline: the timer is the earliest of them, and a deadline may
      // have moved later since it was set (progress, a longer timeout).
      RequeueIfDue(entry, now_us, out);
      EnforceMaximumDownloadTime(entry, now_us, out);
      FlushPendingModification(entry, now_us, out);
      RunNotifyCommandIfDue(entry, now_us);
    }
    Reindex(entry);  // arms its next deadline
  }
  if (!idle.empty()) ScavengeInactiveJobs(idle, now_us);
}

void JobManager::RequeueIfDue(Entry& entry, std::int64_t now_us, Notifications& out) {
  Job& job = entry.job;
  if (job.state != JobState::kTransientError) return;
  // A job waiting for the network waits for the network, not for a timer.
  if (job.error && job.error->code == hr::BG_E_NETWORK_DISCONNECTED) return;
  if (entry.waiting_for_store && now_us < job.retry_at_us) return;
  const std::int64_t no_progress_deadline =
      job.last_progress_us + std::int64_t{job.no_progress_timeout_s} * 1'000'000;
  if (now_us >= no_progress_deadline) {
    if (job.error) job.error->message += " (no progress within the no-progress timeout)";
    TransitionOrWait(entry, JobEvent::kFatalError, out);
  } else if (now_us >= job.retry_at_us) {
    TransitionOrWait(entry, JobEvent::kRetryDue, out);
  }
}

std::int64_t JobManager::ApplySchedule(std::int64_t now_us, Notifications& out) {
  // Runs may have ended or been asked to stop since they were indexed (the transfer code
  // reports that without telling the index): there are few, so each is looked at again.
  const std::vector<Guid> runs(index_.runs().begin(), index_.runs().end());
  for (const Guid& id : runs) {
    if (auto it = jobs_.find(id); it != jobs_.end()) Reindex(it->second);
  }
  if (!network_connected_) return 0;  // nothing starts until the network is back
  const SchedulerPolicy policy{
      options_.max_background_jobs,
      std::chrono::duration_cast<std::chrono::microseconds>(options_.time_slice).count()};
  // Held jobs and jobs whose last run is still winding down wait where they are. (Decide calls
  // this while mutex_ is held; the analysis cannot follow a call through std::function.)
  const SchedulingDecision decision =
      index_.run_queue().Decide(policy, now_us, [this](const Guid& id) NO_THREAD_SAFETY_ANALYSIS {
        const Entry& entry = jobs_.at(id);
        return entry.holds > 0 || entry.worker_running;
      });
  for (const Guid& id : decision.preempt) {
    Entry& entry = jobs_.at(id);
    Log()->info("Pre-empting job={} ({})", id.ToString(), JobPriorityName(entry.job.priority));
    StopRun(entry);  // the transfer checkpoints and ends
    TransitionOrWait(entry, JobEvent::kYield, out);
    Reindex(entry);
  }
  for (const Guid& id : decision.start) StartRun(jobs_.at(id), now_us, out);
  return decision.next_decision_us;
}

void JobManager::StartRun(Entry& entry, std::int64_t now_us, Notifications& out) {
  if (auto started = Transition(entry, JobEvent::kStartTransfer, out); !started) {
    WaitForStore(entry, started.error(), out);
    return;
  }
  entry.run_id = next_run_id_++;
  entry.run_started_us = entry.run_counted_until_us = now_us;
  entry.complete_below = 0;
  entry.control = std::make_shared<RunControl>();
  entry.run = std::make_shared<JobRun>(
      entry.job.id, entry.run_id, entry.control, static_cast<RunReports&>(*this), engine_, files_,
      RunOptions{options_.checkpoint_interval, options_.user_exists, &completions_});
  entry.worker_running = true;
  Reindex(entry);  // a slot taken, and MaxDownloadTime's deadline
  // The run asks the manager for its files: it starts once the caller released mutex_.
  out.push_back([run = entry.run] { run->Start(); });
}

std::int64_t JobManager::NextDeadlineUs(const Entry& entry) const {
  std::int64_t next = 0;
  auto consider = [&next](std::int64_t deadline) {
    if (deadline != 0 && (next == 0 || deadline < next)) next = deadline;
  };
  const Job& job = entry.job;
  consider(DownloadTimeDeadlineUs(entry));
  // A held job is not scavenged; Release looks at it again.
  if (!entry.worker_running && entry.holds == 0 && !IsFinalState(job.state)) {
    consider(LastActivityUs(job) + InactivityTimeoutUs());
  }
  if (!entry.notify_running) consider(entry.notify_due_us);
  if (entry.modification_pending) {
    consider(entry.last_modification_sent_us +
             std::int64_t{job.minimum_notification_interval_ms} * 1000);
  }
  if (job.state == JobState::kTransientError &&
      !(job.error && job.error->code == hr::BG_E_NETWORK_DISCONNECTED)) {
    const std::int64_t no_progress_deadline =
        job.last_progress_us + std::int64_t{job.no_progress_timeout_s} * 1'000'000;
    consider(entry.waiting_for_store ? job.retry_at_us
                                     : std::min(job.retry_at_us, no_progress_deadline));
  }
  return next;
}

}  // namespace openbits::core
