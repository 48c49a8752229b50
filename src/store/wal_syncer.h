// Group commit: many writes, one sync. Each write of the store is a commit to the write-ahead
// log that returns once it is in the page cache (synchronous=NORMAL: it survives a crash of
// bitsd, not a power loss). The syncer makes those commits durable with one fdatasync of the
// log for many of them: when a caller needs it (SyncDurable: callers that arrive while a sync
// runs share the next one) and in the background within `max_lag` of a write, so that what
// a power loss can take stays bounded even when nobody asks.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "openbits/result.h"

namespace openbits::store {

class WalSyncer {
 public:
  // `sync` makes every commit that returned before it was called durable (an fdatasync of the
  // log). It runs on the calling thread of SyncDurable or on the syncer's own thread, never
  // twice at once.
  // `checkpoint` (may be empty) runs on the syncer's thread after CheckpointWanted().
  WalSyncer(std::function<Status()> sync, std::chrono::milliseconds max_lag,
            std::function<void()> checkpoint = {});
  // Syncs what is still pending, then stops the thread.
  ~WalSyncer();
  WalSyncer(const WalSyncer&) = delete;
  WalSyncer& operator=(const WalSyncer&) = delete;

  // A commit returned: it becomes durable within max_lag (plus a sync that is running).
  // Returns its number (1, 2, ...), for SyncDurable(through).
  std::uint64_t Wrote();
  // Every commit counted by Wrote() before this call is durable when it returns Ok.
  Status SyncDurable();
  // Commits 1 to `through` are durable when it returns Ok: at once when a sync covered them.
  Status SyncDurable(std::uint64_t through);
  // The log has grown: run `checkpoint` soon, on the syncer's thread (off the writers' path).
  void CheckpointWanted();
  std::uint64_t syncs() const;

 private:
  using Clock = std::chrono::steady_clock;
  // REQUIRES: lock held, no sync running. Runs one sync without the lock.
  Status RunSync(std::unique_lock<std::mutex>& lock);
  void Background();

  const std::function<Status()> sync_;
  const std::chrono::milliseconds max_lag_;
  const std::function<void()> checkpoint_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::uint64_t written_ = 0;  // commits counted so far
  std::uint64_t synced_ = 0;   // commits known durable
  bool syncing_ = false;
  bool dirty_ = false;             // a commit is not covered by a sync that ran or runs
  Clock::time_point dirty_since_;  // when the oldest such commit returned
  std::uint64_t syncs_ = 0;
  bool checkpoint_wanted_ = false;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest is ready
};

}  // namespace openbits::store
