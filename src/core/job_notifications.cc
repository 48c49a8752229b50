// JobManager: notifications to the owner: JobModification throttling and the notification
// command line (SetNotifyCmdLine), run as its user and retried while it fails.
#include "core/core_log.h"
#include "core/job_manager.h"

namespace openbits::core {

bool JobManager::MayRunNotifyCommand(const Job& job) const {
  if (!job.notify_command) return false;
  // A command line runs as the job's owner or not at all: one set by an earlier owner (or
  // stored before only owners could set one) never runs.
  if (job.notify_command->uid != job.owner_uid) return false;
  const std::uint32_t flag =
      job.state == JobState::kTransferred ? kNotifyJobTransferred : kNotifyJobError;
  // BITS runs no command lines for service accounts' jobs.
  return job.Notifies(flag) && !options_.IsSystemAccount(job.owner_uid) &&
         !options_.IsSystemAccount(job.notify_command->uid);
}

void JobManager::NoteModification(Entry& entry, bool immediately, Notifications& out) {
  const Job& job = entry.job;
  if (!job.Notifies(kNotifyJobModification)) {
    // One held back before the job stopped asking is dropped: left pending, its timer would
    // come due again at every pass of the scheduler, which would never sleep.
    entry.modification_pending = false;
    return;
  }
  const std::int64_t now = clock_.NowUs();
  const std::int64_t interval = std::int64_t{job.minimum_notification_interval_ms} * 1000;
  if (!immediately && now - entry.last_modification_sent_us < interval) {
    if (!entry.modification_pending) {
      entry.modification_pending = true;
      Reindex(entry);  // a deadline: when the interval is over
      // The scheduler may sleep until a later deadline (a run's MaxDownloadTime) and some
      // callers (a run's progress) do not wake it: it must see this one.
      scheduler_wakeup_.NotifyAll();
    }
    return;
  }
  entry.last_modification_sent_us = now;
  entry.modification_pending = false;
  out.push_back([this, id = job.id, owner = job.owner_uid, state = job.state] {
    events_.JobModified(id, owner, state);
  });
}

void JobManager::FlushPendingModification(Entry& entry, std::int64_t now_us, Notifications& out) {
  if (!entry.modification_pending) return;
  const std::int64_t due = entry.last_modification_sent_us +
                           std::int64_t{entry.job.minimum_notification_interval_ms} * 1000;
  if (now_us >= due) NoteModification(entry, /*immediately=*/true, out);
}

void JobManager::RunNotifyCommandIfDue(Entry& entry, std::int64_t now_us) {
  if (entry.notify_due_us == 0 || entry.notify_due_us > now_us || entry.notify_running) return;
  const Job& job = entry.job;
  const Guid id = job.id;
  // Decided now, from the job as it is now: a retry scheduled earlier may meet a job whose
  // command line was cleared or whose owner changed (TakeOwnership) since.
  if (!MayRunNotifyCommand(job)) {
    entry.notify_due_us = 0;
    return;
  }
  const NotifyCommand command = *job.notify_command;  // a copy: the job may change meanwhile
  auto argv = SplitCommandLine(command.parameters);
  CommandSpec spec;
  spec.uid = command.uid;
  spec.gid = command.gid;
  spec.program = command.program;
  spec.argv = argv && !argv->empty() ? *argv : std::vector<std::string>{command.program};
  spec.timeout = options_.notify_command_timeout;
  entry.notify_running = true;
  entry.notify_due_us = 0;
  Log()->info("Running notification command job={} program={} uid={}", id.ToString(),
              command.program, command.uid);
  commands_.Start(spec, [this, id = id, state = job.state](const CommandOutcome& outcome) {
    OnNotifyCommandExited(id, state, outcome);
  });
}

void JobManager::OnNotifyCommandExited(const Guid& id, JobState launched_in,
                                       const CommandOutcome& outcome) {
  {
    MutexLock lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    Entry& entry = it->second;
    entry.notify_running = false;
    Reindex(entry);  // a due time set while it ran counts from now
    if (outcome.succeeded()) return;
    const std::string why = outcome.timed_out ? std::string("timed out")
                            : !outcome.error.empty()
                                ? outcome.error
                                : "exit code " + std::to_string(outcome.exit_code);
    Log()->warn("Notification command of job={} failed: {}", id.ToString(), why);
    // BITS runs it again after the retry delay while the job stays where it was.
    if (entry.job.state == launched_in && MayRunNotifyCommand(entry.job)) {
      entry.notify_due_us =
          clock_.NowUs() + std::int64_t{entry.job.minimum_retry_delay_s} * 1'000'000;
      Reindex(entry);
    }
  }
  scheduler_wakeup_.NotifyAll();
}

}  // namespace openbits::core
