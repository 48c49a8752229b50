// SqliteJobStore: the persistent job queue in one SQLite file (WAL, synchronous=FULL), so a
// committed transition survives kill -9 and power loss. Schema: docs/storage-schema.md.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/account_proxies.h"
#include "core/ports.h"
#include "store/secret_box.h"

struct sqlite3;

namespace openbits::store {

class SqliteJobStore : public core::JobStore, public core::AccountProxyStore {
 public:
  // The schema version that seals proxy lists, proxy environments and PAC URLs (which may
  // hold a password) and seals the plaintext rows of older versions.
  static constexpr int kProxySealingVersion = 11;

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
  Status Save(const core::Job& job) override;
  Status SaveFileProgress(const Guid& job, std::uint32_t index, const core::JobFile& file) override;
  Status Remove(const Guid& job) override;
  Result<std::map<std::uint32_t, core::AccountProxy>> LoadAccountProxies() override;
  Status SaveAccountProxy(std::uint32_t uid,
                          const std::optional<core::AccountProxy>& proxy) override;

 private:
  SqliteJobStore(sqlite3* db, std::string path, std::shared_ptr<const SecretBox> secrets)
      : db_(db), path_(std::move(path)), secrets_(std::move(secrets)) {}
  Status Exec(const char* sql);
  // Writes the held-jobs marker (sqlite_recovery.h) once, before the first job is saved.
  Status MarkHeldJobs();
  // After the sealing migration: no page of the file or the WAL keeps the plaintext.
  Status ScrubOldPages();

  std::mutex mutex_;
  sqlite3* db_;  // guarded by mutex_
  const std::string path_;
  bool held_jobs_marked_ = false;  // guarded by mutex_
  std::shared_ptr<const SecretBox> secrets_;
};

}  // namespace openbits::store
