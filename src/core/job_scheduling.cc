// JobManager's scheduling: the scheduler thread, which starts and pre-empts runs, requeues
// jobs whose retry delay is over, and enforces the time limits (MaxDownloadTime, the
// inactivity timeout).
#include <algorithm>

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
  return entry.run_started_us + std::int64_t{entry.job.maximum_download_time_s} * 1'000'000 -
         entry.job.transfer_time_us;
}

void JobManager::EnforceMaximumDownloadTime(std::int64_t now_us, Notifications& out) {
  for (auto& [id, entry] : jobs_) {
    const std::int64_t deadline = DownloadTimeDeadlineUs(entry);
    if (deadline != 0 && now_us >= deadline) {
      FailRunningJob(entry,
                     Error(hr::BG_E_MAXDOWNLOAD_TIMEOUT, ErrorContext::kGeneralQueueManager,
                           "the job transferred for longer than its maximum download time of " +
                               std::to_string(entry.job.maximum_download_time_s) + " s"),
                     std::nullopt, out);
    }
  }
}

std::int64_t JobManager::LastActivityUs(const Job& job) const {
  return std::max(job.times.modification_us, job.last_progress_us);
}

void JobManager::ScavengeInactiveJobs(std::int64_t now_us) {
  const std::int64_t timeout_us =
      std::chrono::duration_cast<std::chrono::microseconds>(options_.job_inactivity_timeout)
          .count();
  std::vector<Job> idle;
  for (auto& [id, entry] : jobs_) {
    if (entry.worker_running || entry.holds > 0 || IsFinalState(entry.job.state)) continue;
    if (now_us - LastActivityUs(entry.job) >= timeout_us) {
      Hold(entry);  // no run starts while its files go
      idle.push_back(entry.job);
    }
  }
  for (const Job& job : idle) {
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

void JobManager::SchedulerLoop() {
  MutexLock lock(mutex_);
  while (!stopping_) {
    Notifications notifications;
    const std::int64_t now = clock_.NowUs();
    ScavengeInactiveJobs(now);
    if (stopping_) break;
    RequeueDueJobs(now, notifications);
    EnforceMaximumDownloadTime(now, notifications);
    FlushPendingModifications(now, notifications);
    RunDueNotifyCommands(now);
    const std::int64_t next_decision = ApplySchedule(now, notifications);
    if (!notifications.empty()) {
      lock.Unlock();
      Dispatch(notifications);
      lock.Lock();
      continue;  // state may have changed while unlocked
    }
    std::int64_t deadline = NextTimerDeadlineUs();
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

void JobManager::RequeueDueJobs(std::int64_t now_us, Notifications& out) {
  for (auto& [id, entry] : jobs_) {
    Job& job = entry.job;
    if (job.state != JobState::kTransientError) continue;
    // A job waiting for the network waits for the network, not for a timer.
    if (job.error && job.error->code == hr::BG_E_NETWORK_DISCONNECTED) continue;
    if (entry.waiting_for_store && now_us < job.retry_at_us) continue;
    const std::int64_t no_progress_deadline =
        job.last_progress_us + std::int64_t{job.no_progress_timeout_s} * 1'000'000;
    if (now_us >= no_progress_deadline) {
      if (job.error) job.error->message += " (no progress within the no-progress timeout)";
      TransitionOrWait(entry, JobEvent::kFatalError, out);
    } else if (now_us >= job.retry_at_us) {
      TransitionOrWait(entry, JobEvent::kRetryDue, out);
    }
  }
}

std::int64_t JobManager::ApplySchedule(std::int64_t now_us, Notifications& out) {
  if (!network_connected_) return 0;  // nothing starts until the network is back
  std::vector<SchedulingCandidate> candidates;
  for (auto& [id, entry] : jobs_) {
    if (entry.worker_running) {
      // A run that was asked to stop is winding down and holds no slot.
      if (!entry.control->stop) {
        candidates.push_back({id, entry.job.priority, true, entry.run_started_us});
      }
    } else if (entry.job.state == JobState::kQueued && entry.holds == 0) {
      candidates.push_back({id, entry.job.priority, false, entry.queued_since_us});
    }
  }
  const SchedulerPolicy policy{
      options_.max_background_jobs,
      std::chrono::duration_cast<std::chrono::microseconds>(options_.time_slice).count()};
  const SchedulingDecision decision = Schedule(candidates, policy, now_us);
  for (const Guid& id : decision.preempt) {
    Entry& entry = jobs_.at(id);
    Log()->info("Pre-empting job={} ({})", id.ToString(), JobPriorityName(entry.job.priority));
    StopRun(entry);  // the transfer checkpoints and ends
    TransitionOrWait(entry, JobEvent::kYield, out);
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
  entry.run_started_us = now_us;
  entry.control = std::make_shared<RunControl>();
  entry.run = std::make_shared<JobRun>(
      entry.job.id, entry.run_id, entry.control, static_cast<RunReports&>(*this), engine_, files_,
      RunOptions{options_.checkpoint_interval, options_.user_exists});
  entry.worker_running = true;
  // The run asks the manager for its files: it starts once the caller released mutex_.
  out.push_back([run = entry.run] { run->Start(); });
}

std::int64_t JobManager::NextTimerDeadlineUs() const {
  std::int64_t next = 0;
  auto consider = [&next](std::int64_t deadline) {
    if (deadline != 0 && (next == 0 || deadline < next)) next = deadline;
  };
  const std::int64_t inactivity_us =
      std::chrono::duration_cast<std::chrono::microseconds>(options_.job_inactivity_timeout)
          .count();
  for (const auto& [id, entry] : jobs_) {
    const Job& job = entry.job;
    consider(DownloadTimeDeadlineUs(entry));
    if (!entry.worker_running) consider(LastActivityUs(job) + inactivity_us);
    if (!entry.notify_running) consider(entry.notify_due_us);
    if (entry.modification_pending) {
      consider(entry.last_modification_sent_us +
               std::int64_t{job.minimum_notification_interval_ms} * 1000);
    }
    if (job.state != JobState::kTransientError) continue;
    if (job.error && job.error->code == hr::BG_E_NETWORK_DISCONNECTED) continue;
    const std::int64_t no_progress_deadline =
        job.last_progress_us + std::int64_t{job.no_progress_timeout_s} * 1'000'000;
    consider(entry.waiting_for_store ? job.retry_at_us
                                     : std::min(job.retry_at_us, no_progress_deadline));
  }
  return next;
}

}  // namespace openbits::core
