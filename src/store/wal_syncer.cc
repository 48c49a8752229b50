#include "store/wal_syncer.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>

#include "base/log.h"

namespace openbits::store {

WalSyncer::WalSyncer(std::function<Status()> sync, std::chrono::milliseconds max_lag,
                     std::function<void()> checkpoint)
    : sync_(std::move(sync)), max_lag_(max_lag), checkpoint_(std::move(checkpoint)) {
  // The thread takes no process signal: bitsd waits for SIGTERM on its bus loop (a signalfd,
  // with the signal blocked in every thread), and a thread started before that blocks it
  // would take the signal's default action, killing the daemon without a clean shutdown.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  thread_ = std::thread([this] { Background(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

WalSyncer::~WalSyncer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
  if (auto synced = SyncDurable(); !synced) {
    log::Get("store")->error("Failed to sync the job database at shutdown: {}",
                             synced.error().ToString());
  }
}

std::uint64_t WalSyncer::Wrote() {
  bool wake = false;
  std::uint64_t number = 0;
  {
    std::lock_guard lock(mutex_);
    number = ++written_;
    if (!dirty_) {
      dirty_ = true;
      dirty_since_ = Clock::now();
      wake = true;
    }
  }
  if (wake) changed_.notify_all();
  return number;
}

void WalSyncer::CheckpointWanted() {
  if (!checkpoint_) return;
  {
    std::lock_guard lock(mutex_);
    if (checkpoint_wanted_) return;
    checkpoint_wanted_ = true;
  }
  changed_.notify_all();
}

Status WalSyncer::SyncDurable() {
  std::uint64_t target = 0;
  {
    std::lock_guard lock(mutex_);
    target = written_;
  }
  return SyncDurable(target);
}

Status WalSyncer::SyncDurable(std::uint64_t through) {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = std::min(through, written_);
  // A sync that is running may have begun before the last of our writes: wait for it, then
  // the next one (ours, or one that another caller started meanwhile) covers them.
  for (;;) {
    if (synced_ >= target) return Ok();
    if (!syncing_) break;
    changed_.wait(lock);
  }
  return RunSync(lock);
}

Status WalSyncer::RunSync(std::unique_lock<std::mutex>& lock) {
  syncing_ = true;
  const std::uint64_t covered = written_;
  dirty_ = false;
  lock.unlock();
  Status synced = sync_();
  lock.lock();
  syncing_ = false;
  if (synced) {
    if (covered > synced_) synced_ = covered;
    ++syncs_;
  } else if (!dirty_) {
    dirty_ = true;  // retried by the background after max_lag
    dirty_since_ = Clock::now();
  }
  changed_.notify_all();
  return synced;
}

void WalSyncer::Background() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (checkpoint_wanted_) {
      checkpoint_wanted_ = false;
      lock.unlock();
      checkpoint_();
      lock.lock();
      continue;
    }
    if (!dirty_ || syncing_) {
      changed_.wait(lock);
      continue;
    }
    const Clock::time_point due = dirty_since_ + max_lag_;
    if (Clock::now() < due) {
      changed_.wait_until(lock, due);
      continue;  // look again: a caller may have synced, or we are stopping
    }
    if (Status synced = RunSync(lock); !synced) {
      log::Get("store")->error("Failed to sync the job database: {}", synced.error().ToString());
    }
  }
}

std::uint64_t WalSyncer::syncs() const {
  std::lock_guard lock(mutex_);
  return syncs_;
}

}  // namespace openbits::store
