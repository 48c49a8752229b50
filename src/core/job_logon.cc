// Owner logon gating (BITS: a job runs only while its owner is logged on; service accounts
// always are). The session watcher (ipc/logon_sessions.h) reports logons per uid; this file
// keeps the set of logged-on uids, answers the scheduler's "may this job run now" and
// applies a logoff to the owner's jobs. docs/logon-gating.md describes the rules.
#include <set>
#include <string>

#include "core/core_log.h"
#include "core/job_manager.h"

namespace openbits::core {

void JobManager::SetLogonGating(bool on, const std::vector<std::uint32_t>& logged_on) {
  {
    MutexLock lock(mutex_);
    logon_gating_ = on;
    logged_on_.clear();
    for (const std::uint32_t uid : logged_on) {
      if (!options_.IsSystemAccount(uid)) logged_on_.insert(uid);
    }
    // Which queued jobs may run changed for every owner (none are loaded before Start).
    for (auto& [id, entry] : jobs_) Reindex(entry);
  }
  Log()->info("Owner logon gating {}", on ? "on" : "off");
  scheduler_wakeup_.NotifyAll();
}

void JobManager::SetLoggedOn(std::uint32_t uid, bool logged_on) {
  if (options_.IsSystemAccount(uid)) return;  // always logged on
  Notifications notifications;
  {
    MutexLock lock(mutex_);
    const bool was = logged_on_.contains(uid);
    if (was == logged_on) return;
    if (logged_on) {
      logged_on_.insert(uid);
    } else {
      logged_on_.erase(uid);
    }
    Log()->info("uid {} logged {}", uid, logged_on ? "on: its jobs may run" : "off");
    if (!logged_on && logon_gating_) OnOwnerLoggedOff(uid, "logged off", notifications);
    // The owner's queued jobs join the run queue (logon) or leave it (logoff); wakes the
    // scheduler.
    ReexamineJobsOf(uid);
  }
  Dispatch(notifications);
}

bool JobManager::OwnerMayRun(const Job& job) const {
  return !logon_gating_ || options_.IsSystemAccount(job.owner_uid) ||
         logged_on_.contains(job.owner_uid);
}

Status JobManager::CheckCallerMayLogOn(const Caller& caller) const {
  if (!logon_gating_ || options_.IsSystemAccount(caller.uid) || logged_on_.contains(caller.uid)) {
    return Ok();
  }
  // A job created here would wait in QUEUED for a logon that a cron job, a service or a
  // `runuser` without a session never makes: refuse it now rather than let jobs pile up.
  return Error(hr::ERROR_NOT_LOGGED_ON, ErrorContext::kGeneralQueueManager,
               "uid " + std::to_string(caller.uid) +
                   " has no login session and is not a system account (uid below " +
                   std::to_string(options_.system_accounts_below) +
                   " or listed in [identity] system_accounts): its jobs would never run. Create "
                   "jobs from a login session, enable "
                   "lingering (loginctl enable-linger), or turn owner logon gating off "
                   "([logon] gating = false)");
}

void JobManager::DiscardTokensOfLoggedOffOwners(Notifications& out) {
  if (!logon_gating_) return;
  std::set<std::uint32_t> owners;
  for (const auto& [id, entry] : jobs_) {
    if (entry.job.helper.identity && !OwnerMayRun(entry.job)) owners.insert(entry.job.owner_uid);
  }
  // The owner logged off while bitsd was stopped (or has not logged on since the machine
  // started): BITS keeps no helper token across a logoff.
  for (const std::uint32_t uid : owners) {
    OnOwnerLoggedOff(uid, "was not logged on when bitsd started", out);
  }
}

void JobManager::OnOwnerLoggedOff(std::uint32_t uid, const std::string& what, Notifications& out) {
  for (auto& [id, entry] : jobs_) {
    Job& job = entry.job;
    if (job.owner_uid != uid || IsFinalState(job.state)) continue;
    const bool running = entry.worker_running && entry.control && !entry.control->stop;
    if (job.helper.identity) {
      // BITS discards helper tokens at the owner's logoff; an unfinished job cannot go on
      // without it (BG_E_TOKEN_REQUIRED). A job not waiting to run (SUSPENDED, ERROR,
      // TRANSFERRED) only loses the token.
      job.helper.identity.reset();
      job.times.modification_us = clock_.NowUs();
      const Error error(hr::BG_E_TOKEN_REQUIRED, ErrorContext::kGeneralQueueManager,
                        "the owner (uid " + std::to_string(uid) + ") " + what +
                            ": the helper token was discarded; bind a new one "
                            "(SetHelperToken) and resume");
      Log()->warn("job={} owner uid {} {}: helper token discarded", id.ToString(), uid, what);
      if (running) {
        FailRunningJob(entry, error, std::nullopt, out);
      } else if (job.state == JobState::kQueued || job.state == JobState::kTransientError) {
        job.error = JobError{error.code(), error.context(), std::nullopt, error.message()};
        TransitionOrWait(entry, JobEvent::kFatalError, out);
      } else if (auto saved = store_.Save(job); !saved) {
        Log()->warn("job={}: could not store the discarded helper token: {}", id.ToString(),
                    saved.error().ToString());
      }
      continue;
    }
    if (running) {
      // Back to QUEUED until the owner's next logon, as a pre-empted run.
      Log()->info("job={} waits for uid {} to log on again", id.ToString(), uid);
      entry.control->stop = true;  // the transfer checkpoints and ends
      TransitionOrWait(entry, JobEvent::kYield, out);
    }
  }
}

}  // namespace openbits::core
