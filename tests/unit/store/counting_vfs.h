// A SQLite VFS for tests that wraps the default one and counts what reaches the disk of the
// write-ahead log: writes, and syncs (with how many writes each sync covered). While one is
// installed it is the default VFS, so a store opened meanwhile goes through it.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstdint>

namespace openbits::store::testing {

class CountingVfs {
 public:
  CountingVfs();   // installs it as the default VFS
  ~CountingVfs();  // puts the previous default back
  CountingVfs(const CountingVfs&) = delete;
  CountingVfs& operator=(const CountingVfs&) = delete;

  // Writes to a -wal file so far.
  std::uint64_t wal_writes() const { return wal_writes_.load(); }
  // Syncs of a -wal file so far.
  std::uint64_t wal_syncs() const { return wal_syncs_.load(); }
  // The wal_writes() count when the last completed sync of a -wal file began: every write up
  // to there is on the disk.
  std::uint64_t wal_writes_synced() const { return wal_writes_synced_.load(); }

  // Syncs of a main database file (what a checkpoint does), in all and on the calling thread.
  std::uint64_t db_syncs() const { return db_syncs_.load(); }
  static std::uint64_t db_syncs_on_this_thread();

  // For the wrapper's callbacks.
  struct File;
  static CountingVfs* instance_;
  sqlite3_vfs* real_ = nullptr;
  std::atomic<std::uint64_t> wal_writes_{0};
  std::atomic<std::uint64_t> wal_syncs_{0};
  std::atomic<std::uint64_t> wal_writes_synced_{0};
  std::atomic<std::uint64_t> db_syncs_{0};

 private:
  sqlite3_vfs vfs_{};
};

}  // namespace openbits::store::testing
