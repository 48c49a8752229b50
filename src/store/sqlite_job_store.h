// SqliteJobStore: the persistent job queue in one SQLite file. Writes are deltas (what changed
// since the store last wrote the job: a state change is one row) with statements prepared once,
// committed to the write-ahead log with synchronous=NORMAL (a write that returned survives kill
// -9) and made durable against power loss by group commit (WalSyncer: SyncDurable, and in the
// background within kMaxSyncLag); checkpoints run on the syncer's thread, never in a writer's
// commit. Schema and what is durable when: docs/storage-schema.md.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/account_proxies.h"
#include "core/ports.h"
#include "store/job_rows.h"
#include "store/secret_box.h"
#include "store/sqlite_schema.h"
#include "store/statement_cache.h"
#include "store/wal_syncer.h"

struct sqlite3;

namespace openbits::store {

class SqliteJobStore : public core::JobStore, public core::AccountProxyStore {
 public:
  static constexpr int kProxySealingVersion = store::kProxySealingVersion;
  // How long a write may wait for its fdatasync when nobody calls SyncDurable: what a power
  // loss can take from a store that was not asked.
  static constexpr std::chrono::milliseconds kMaxSyncLag{10};
  // WAL frames after which the syncer's thread checkpoints the log into the database (on a
  // connection of its own, PASSIVE: writers go on meanwhile). Writers never checkpoint. Each
  // checkpoint costs two syncs (the log, then the database) and copies each page once however
  // often it changed: 4,000 frames (a log of up to 16 MiB) instead of SQLite's 1,000 made a
  // busy queue's checkpoints a quarter as many (B3: 1,200 instead of 2,200 syncs per 3,000
  // jobs, about 12% of bitsd's CPU per job).
  static constexpr int kCheckpointFrames = 4000;

  // Opens (creating if needed) the database, checks its integrity and migrates it to the
  // current schema. A file that fails the check is moved aside to "<path>.corrupt-<time>"
  // (kept as it was, its path logged) and the rows that can still be read become the new
  // database. An empty database or one without tables beside the held-jobs marker
  // (sqlite_recovery.h) fails with BG_E_DATABASE_CORRUPT: a lost queue is not an empty one.
  // Secrets (custom headers) are sealed with `secrets` before they are written.
  static Result<std::unique_ptr<SqliteJobStore>> Open(const std::string& path,
                                                      std::shared_ptr<const SecretBox> secrets);
  ~SqliteJobStore() override;

  Result<std::vector<core::Job>> LoadAll() override;
  // The outline columns of `jobs` and three of `files`, each table read in its own order.
  Result<std::vector<core::JobOutline>> LoadOutlines() override;
  Result<core::Job> Load(const Guid& id) override;
  // Writes what changed since this store last wrote the job: the job's row when a column
  // changed, a sealed column only when its secret changed, the rows of the files that changed,
  // the credential rows when a credential changed; nothing when nothing did. Several rows go in
  // one transaction. A job this store has not written yet (new, or only loaded: LoadAll keeps
  // no image, so that 100,000 idle jobs cost no memory here) is written whole.
  Status Save(const core::Job& job) override;
  Status SaveFileProgress(const Guid& job, std::uint32_t index, const core::JobFile& file) override;
  Status SaveFilesProgress(
      const Guid& job, const std::vector<std::pair<std::uint32_t, core::JobFile>>& files) override;
  Status Remove(const Guid& job) override;
  Status SyncDurable() override;
  Status SyncJobDurable(const Guid& job) override;
  Result<std::map<std::uint32_t, core::AccountProxy>> LoadAccountProxies() override;
  Status SaveAccountProxy(std::uint32_t uid,
                          const std::optional<core::AccountProxy>& proxy) override;

  // Diagnostics (tests, benchmarks): statements prepared on the connection, and WAL syncs.
  std::uint64_t statements_prepared() const;
  std::uint64_t syncs() const { return syncer_->syncs(); }

 private:
  SqliteJobStore(sqlite3* db, std::string path, std::shared_ptr<const SecretBox> secrets);
  Status Exec(const char* sql);
  // Runs a cached statement that returns no row.
  Status Run(CachedStatement statement, const char* what);
  // A transaction of several writes, with cached BEGIN/COMMIT; rolled back when `write` fails.
  template <typename Write>
  Status InTransaction(Write&& write);
  // Writes the held-jobs marker (sqlite_recovery.h) once, before the first job is saved.
  Status MarkHeldJobs();
  // After the sealing migration: no page of the file or the WAL keeps the plaintext.
  Status ScrubOldPages();
  // The writes of Save: the whole job (a new one), or what differs from `written`.
  Status WriteWhole(const core::Job& job, const std::string& id);
  Status WriteChanges(const core::Job& job, const std::string& id, const JobImage& written,
                      const JobImage& now);
  Status WriteSealedColumn(const char* sql, const std::string& id,
                           const Result<std::string>& sealed, bool empty);
  Status WriteCredentials(const core::Job& job, const std::string& id, bool clear_first);
  Status InsertFile(const std::string& id, std::uint32_t index, const core::JobFile& file);
  // How many jobs the store holds, to size what a load fills (0 when it cannot tell).
  // Called with mutex_ held.
  std::size_t CountJobs();
  // The UPDATE of one file's progress columns (SaveFileProgress, SaveFilesProgress).
  Status UpdateProgress(const Guid& job, std::uint32_t index, const core::JobFile& file);
  // Keeps written_ in step with a progress write: the new hashes, or forgets the job when
  // the write failed; counts the write for the syncer.
  void NoteProgress(const Guid& job, const Status& saved,
                    const std::vector<std::pair<std::uint32_t, std::uint64_t>>& progress);
  // The reading of LoadAll and Load: a row of select_jobs (nullopt: a malformed id, logged),
  // its sealed columns from `first` on, a row of select_files, a credential row. A secret
  // that cannot be opened is logged and left out: the job stays usable without it.
  std::optional<core::Job> ReadJobRow(const CachedStatement& row) const;
  void OpenSealedColumns(const CachedStatement& row, int first, const std::string& id_text,
                         core::Job& job) const;
  static void ReadFileRow(const CachedStatement& row, core::Job& job);
  void ReadCredentialRow(const CachedStatement& row, core::Job& job) const;
  // fdatasync of the write-ahead log (WalSyncer's sync), without mutex_ held.
  Status SyncWal();
  // Opens the checkpointing connection and takes checkpoints away from the writers.
  void StartCheckpointer();
  // On the syncer's thread: a PASSIVE checkpoint on checkpointer_.
  void Checkpoint();

  mutable std::mutex mutex_;
  sqlite3* db_;                // guarded by mutex_
  StatementCache statements_;  // guarded by mutex_
  const std::string path_;
  bool held_jobs_marked_ = false;  // guarded by mutex_
  std::shared_ptr<const SecretBox> secrets_;
  // What this store last wrote of each job it wrote. Guarded by mutex_.
  std::map<Guid, JobImage> written_;
  // The syncer's number of the last write of each job written since Open (Open syncs what
  // was there): what SyncJobDurable waits for. Guarded by mutex_.
  std::map<Guid, std::uint64_t> last_write_;
  // Counts a write of `job` for the syncer. Called with mutex_ held.
  void Wrote(const Guid& job);
  // The syncer thread's own connection, for checkpoints (null: writers checkpoint, as SQLite
  // does by default).
  sqlite3* checkpointer_ = nullptr;
  std::unique_ptr<WalSyncer> syncer_;  // last: stopped (with a final sync) first
};

}  // namespace openbits::store
