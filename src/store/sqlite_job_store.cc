#include "store/sqlite_job_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <optional>
#include <unordered_map>

#include "base/errno_text.h"
#include "base/log.h"
#include "store/proxy_secrets.h"
#include "store/sqlite_database.h"

namespace openbits::store {
namespace {

// What a sealed credential row holds: user, password, credential cache, NTLM user file (rows
// written before the NTLM user file have three fields).
SecretString PackCredential(const core::Credential& credential) {
  return PackFields({credential.user.reveal(), credential.password.reveal(),
                     credential.credential_cache, credential.ntlm_user_file});
}

std::optional<core::Credential> UnpackCredential(const SecretString& packed) {
  auto fields = UnpackFields(packed, 4);
  if (!fields) {
    fields = UnpackFields(packed, 3);
    if (!fields) return std::nullopt;
    fields->emplace_back();
  }
  core::Credential credential;
  credential.user = SecretString(std::move((*fields)[0]));
  credential.password = SecretString(std::move((*fields)[1]));
  credential.credential_cache = std::move((*fields)[2]);
  credential.ntlm_user_file = std::move((*fields)[3]);
  return credential;
}

std::string CredentialContext(const std::string& job_id, std::int64_t target, std::int64_t scheme) {
  return job_id + "/credential/" + std::to_string(target) + "/" + std::to_string(scheme);
}

std::shared_ptr<spdlog::logger> Log() {
  static const auto logger = log::Get("store");
  return logger;
}

}  // namespace

Result<std::unique_ptr<SqliteJobStore>> SqliteJobStore::Open(
    const std::string& path, std::shared_ptr<const SecretBox> secrets) {
  auto checked = OpenAndCheck(path);
  if (!checked) return checked.error();
  if (!checked->corruption.empty()) {
    // DESIGN.md 5: reported, moved aside (kept as it was), never silently replaced; what can
    // still be read becomes the new queue.
    Log()->error("Job database {} failed its integrity check: {}", path, checked->corruption);
    int corrupt_version = 0;
    auto recovered = RecoverDatabase(
        path,
        [&](sqlite3* db, int version) -> Status {
          if (version > kSchemaVersion) return NewerSchema(path, version);
          corrupt_version = version > 0 ? version : kSchemaVersion;
          return Migrate(db, path, 0, corrupt_version, *secrets);
        },
        [&](sqlite3* db) -> Status {
          OPENBITS_RETURN_IF_ERROR(Migrate(db, path, corrupt_version, kSchemaVersion, *secrets));
          return ExecOn(db, kRecoveryCleanup);
        });
    if (!recovered) return recovered.error();
    Log()->error(
        "Moved the corrupt job database {} aside to {} (kept as it was); recovered what could be "
        "read: {}",
        path, recovered->kept_path, recovered->summary);
    checked = OpenAndCheck(path);
    if (!checked) return checked.error();
    if (!checked->corruption.empty()) {
      return Error(hr::BG_E_DATABASE_CORRUPT, ErrorContext::kGeneralQueueManager,
                   "the job database recovered from " + recovered->kept_path +
                       " fails its integrity check too: " + checked->corruption);
    }
  }
  std::unique_ptr<SqliteJobStore> store(new SqliteJobStore(checked->db, path, std::move(secrets)));
  if (checked->version > kSchemaVersion) return NewerSchema(path, checked->version);
  OPENBITS_RETURN_IF_ERROR(
      Migrate(store->db_, path, checked->version, kSchemaVersion, *store->secrets_));
  if (checked->version > 0 && checked->version < kProxySealingVersion) {
    OPENBITS_RETURN_IF_ERROR(store->ScrubOldPages());
  }
  // The schema and the migrations were committed with synchronous=NORMAL like every write,
  // but not through Save: counted here, so that SyncDurable syncs them (it syncs only what
  // was counted, and would return at once).
  store->syncer_->Wrote();
  OPENBITS_RETURN_IF_ERROR(store->SyncDurable());
  store->StartCheckpointer();

  // Queues from before the marker existed get it now, if they hold jobs.
  store->held_jobs_marked_ = std::filesystem::exists(HeldJobsMarkerPath(path));
  bool any = false;
  {
    std::lock_guard lock(store->mutex_);
    CachedStatement any_job = store->statements_.Get("SELECT EXISTS (SELECT 1 FROM jobs)");
    any = any_job.ok() && any_job.Step() == SQLITE_ROW && any_job.Int(0) != 0;
  }
  if (any) {
    std::lock_guard lock(store->mutex_);
    if (auto marked = store->MarkHeldJobs(); !marked) {
      Log()->warn("Failed to mark the queue as holding jobs: {}", marked.error().ToString());
    }
  }
  return store;
}

SqliteJobStore::SqliteJobStore(sqlite3* db, std::string path,
                               std::shared_ptr<const SecretBox> secrets)
    : db_(db),
      statements_(db),
      path_(std::move(path)),
      secrets_(std::move(secrets)),
      syncer_(std::make_unique<WalSyncer>([this] { return SyncWal(); }, kMaxSyncLag,
                                          [this] { Checkpoint(); })) {}

SqliteJobStore::~SqliteJobStore() {
  syncer_.reset();  // the last sync, and no sync or checkpoint running while connections close
  sqlite3_close(checkpointer_);
  std::lock_guard lock(mutex_);
  statements_.Clear();
  sqlite3_close(db_);
}

Status SqliteJobStore::ScrubOldPages() {
  // The sealing step's old pages: the main file still holds them until a checkpoint, the WAL
  // may hold older plaintext frames, free pages may keep what secure_delete did not see.
  // Checkpoint and truncate the WAL, rebuild the file, and truncate the WAL it went through.
  std::lock_guard lock(mutex_);
  OPENBITS_RETURN_IF_ERROR(Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  OPENBITS_RETURN_IF_ERROR(Exec("VACUUM"));
  OPENBITS_RETURN_IF_ERROR(Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  return Exec("PRAGMA secure_delete = OFF");
}

std::uint64_t SqliteJobStore::statements_prepared() const {
  std::lock_guard lock(mutex_);
  return statements_.prepared();
}

Status SqliteJobStore::Exec(const char* sql) { return ExecOn(db_, sql); }

Status SqliteJobStore::Run(CachedStatement statement, const char* what) {
  if (!statement.ok()) return SqliteError(db_, std::string("prepare to ") + what);
  if (statement.Step() != SQLITE_DONE) return SqliteError(db_, what);
  return Ok();
}

template <typename Write>
Status SqliteJobStore::InTransaction(Write&& write) {
  OPENBITS_RETURN_IF_ERROR(Run(statements_.Get("BEGIN IMMEDIATE"), "begin a transaction"));
  Status written = write();
  if (written) written = Run(statements_.Get("COMMIT"), "commit");
  // A failed COMMIT (a full disk) may leave the transaction open: every later BEGIN would
  // fail, and the store would never recover when space returns.
  if (!written && !sqlite3_get_autocommit(db_)) {
    (void)Run(statements_.Get("ROLLBACK"), "roll back");
  }
  return written;
}

Status SqliteJobStore::SyncWal() {
  sqlite3_file* wal = nullptr;
  {
    // The log's file object lives as long as the connection (which outlives the syncer); only
    // looking it up needs the connection.
    std::lock_guard lock(mutex_);
    if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK) {
      return SqliteError(db_, "find the write-ahead log of " + path_);
    }
  }
  if (wal == nullptr || wal->pMethods == nullptr) return Ok();  // no log open: nothing written
  // Without the connection's lock: writers append to the log meanwhile (pwrite on the same
  // descriptor); fdatasync covers at least what was written before it began.
  errno = 0;
  if (wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL) != SQLITE_OK) {
    const int error_number = errno;
    return Error(error_number == ENOSPC ? hr::ERROR_DISK_FULL : hr::E_FAIL,
                 ErrorContext::kGeneralQueueManager,
                 "Failed to sync the write-ahead log " + path_ + "-wal: " +
                     (error_number != 0 ? ErrnoText(error_number) : std::string("I/O error")));
  }
  return Ok();
}

Status SqliteJobStore::SyncDurable() { return syncer_->SyncDurable(); }

Status SqliteJobStore::SyncJobDurable(const Guid& job) {
  std::uint64_t through = 0;
  {
    std::lock_guard lock(mutex_);
    auto it = last_write_.find(job);
    if (it == last_write_.end()) return Ok();  // nothing written since Open synced
    through = it->second;
  }
  return syncer_->SyncDurable(through);
}

void SqliteJobStore::Wrote(const Guid& job) { last_write_[job] = syncer_->Wrote(); }

void SqliteJobStore::StartCheckpointer() {
  // A connection knows the file is in WAL mode (and opens the log) only once it read it.
  if (sqlite3_open_v2(path_.c_str(), &checkpointer_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK ||
      sqlite3_exec(checkpointer_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", nullptr,
                   nullptr, nullptr) != SQLITE_OK) {
    Log()->warn("Failed to open a checkpointing connection to {}: {}; writers checkpoint", path_,
                sqlite3_errmsg(checkpointer_));
    sqlite3_close(checkpointer_);
    checkpointer_ = nullptr;
    return;
  }
  sqlite3_busy_timeout(checkpointer_, 0);
  std::lock_guard lock(mutex_);
  // A hook of our own replaces SQLite's automatic checkpoint, which would run in the commit
  // of a writer (copying pages and two fsyncs, under the locks of its caller).
  sqlite3_wal_hook(
      db_,
      [](void* store, sqlite3*, const char*, int frames) {
        if (frames >= kCheckpointFrames) {
          static_cast<SqliteJobStore*>(store)->syncer_->CheckpointWanted();
        }
        return SQLITE_OK;
      },
      this);
}

void SqliteJobStore::Checkpoint() {
  if (checkpointer_ == nullptr) return;
  int frames = 0;
  int done = 0;
  int rc =
      sqlite3_wal_checkpoint_v2(checkpointer_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames, &done);
  if (rc == SQLITE_OK && done < frames) {
    // Writers appended while it copied. The log starts again from its beginning only after a
    // checkpoint that copied every frame: under a steady stream of writes none ever did, the
    // log grew without bound (170 MiB for 3,000 jobs) and the checkpoints ran back to back,
    // each with its two syncs. The few frames appended meanwhile are copied with the writers
    // held off (they wait that long once per kCheckpointFrames frames, never for the bulk).
    std::lock_guard lock(mutex_);
    rc = sqlite3_wal_checkpoint_v2(checkpointer_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames,
                                   &done);
  }
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
    Log()->warn("Failed to checkpoint the job database {}: {}", path_,
                sqlite3_errmsg(checkpointer_));
  }
}

void SqliteJobStore::OpenSealedColumns(const CachedStatement& row, int first,
                                       const std::string& id_text, core::Job& job) const {
  if (!row.IsNull(first)) {
    auto headers = secrets_->Open(row.Blob(first), id_text);
    if (!headers) {
      // The job stays usable; only its secret is lost, and the log says why.
      Log()->error("Failed to decrypt the custom headers of job={}: {}", id_text,
                   headers.error().ToString());
    } else {
      job.custom_headers = std::move(*headers);
    }
  }
  if (!row.IsNull(first + 1)) {
    auto proxy = OpenJobProxy(*secrets_, id_text, row.Blob(first + 1));
    if (!proxy) {
      // The job stays usable (direct, or its other proxy sources); the log says why.
      Log()->error("Failed to decrypt the proxy settings of job={}", id_text);
    } else {
      job.proxy.list = std::move(proxy->list);
      job.proxy_environment = std::move(proxy->environment);
    }
  }
  if (!row.IsNull(first + 2)) {
    auto helper = OpenHelperBinding(*secrets_, id_text, row.Blob(first + 2));
    if (helper) job.helper = std::move(*helper);
    if (!helper) Log()->error("Failed to decrypt the helper binding of job={}", id_text);
  }
}

std::optional<core::Job> SqliteJobStore::ReadJobRow(const CachedStatement& row) const {
  std::string id_text = row.Text(0);
  auto id = Guid::Parse(id_text);
  if (!id) {
    Log()->error("Failed to load job: malformed id '{}'", id_text);
    return std::nullopt;
  }
  core::Job job;
  job.id = *id;
  ReadJobColumns(row, 1, job);
  OpenSealedColumns(row, 1 + kJobColumnCount, id_text, job);
  return job;
}

void SqliteJobStore::ReadFileRow(const CachedStatement& row, core::Job& job) {
  core::JobFile file;
  ReadFileIdentity(row, 2, file);
  ReadFileProgress(row, 2 + kFileIdentityColumnCount, file);
  job.files.push_back(std::move(file));
}

void SqliteJobStore::ReadCredentialRow(const CachedStatement& row, core::Job& job) const {
  const std::string id = row.Text(0);
  const std::int64_t target = row.Int(1);
  const std::int64_t scheme = row.Int(2);
  auto opened = secrets_->Open(row.Blob(4), CredentialContext(id, target, scheme));
  std::optional<core::Credential> credential;
  if (opened) credential = UnpackCredential(*opened);
  if (!credential) {
    // The job stays usable without this slot; the log says why (never what).
    Log()->error("Failed to decrypt credentials of job={} target={} scheme={}", id, target, scheme);
    return;
  }
  credential->target = static_cast<AuthTarget>(target);
  credential->scheme = static_cast<AuthScheme>(scheme);
  credential->implicit = row.Int(3) != 0;
  job.credentials.Set(std::move(*credential));
}

std::size_t SqliteJobStore::CountJobs() {
  CachedStatement count = statements_.Get("SELECT count(*) FROM jobs");
  if (!count.ok() || count.Step() != SQLITE_ROW) return 0;  // only a size hint
  return static_cast<std::size_t>(count.Int(0));
}

Result<std::vector<core::Job>> SqliteJobStore::LoadAll() {
  std::lock_guard lock(mutex_);
  // One pass per table, each in its primary key's order: no query per job.
  std::vector<core::Job> jobs;
  std::unordered_map<std::string, std::size_t> by_id;
  // Sized once: a growing vector of jobs would copy them (Job's move may throw).
  const std::size_t count = CountJobs();
  jobs.reserve(count);
  by_id.reserve(count);
  {
    CachedStatement row = statements_.Get(Sql().select_jobs.c_str());
    if (!row.ok()) return SqliteError(db_, "read jobs");
    int rc;
    while ((rc = row.Step()) == SQLITE_ROW) {
      auto job = ReadJobRow(row);
      if (!job) continue;
      by_id.emplace(row.Text(0), jobs.size());
      jobs.push_back(std::move(*job));
    }
    if (rc != SQLITE_DONE) return SqliteError(db_, "read jobs");
  }
  {
    CachedStatement row = statements_.Get(Sql().select_files.c_str());
    if (!row.ok()) return SqliteError(db_, "read files");
    int rc;
    core::Job* job = nullptr;
    std::string job_id;
    while ((rc = row.Step()) == SQLITE_ROW) {
      if (row.TextView(0) != job_id) {
        job_id = row.Text(0);
        auto it = by_id.find(job_id);
        job = it == by_id.end() ? nullptr : &jobs[it->second];
      }
      if (job != nullptr) ReadFileRow(row, *job);
    }
    if (rc != SQLITE_DONE) return SqliteError(db_, "read files");
  }
  {
    CachedStatement row = statements_.Get(Sql().select_credentials.c_str());
    if (!row.ok()) return SqliteError(db_, "read credentials");
    int rc;
    while ((rc = row.Step()) == SQLITE_ROW) {
      auto it = by_id.find(row.Text(0));
      if (it != by_id.end()) ReadCredentialRow(row, jobs[it->second]);
    }
    if (rc != SQLITE_DONE) return SqliteError(db_, "read credentials");
  }
  return jobs;
}

Result<std::vector<core::JobOutline>> SqliteJobStore::LoadOutlines() {
  std::lock_guard lock(mutex_);
  // Two passes in table order (no sort, no index walk), over the few columns an outline needs.
  std::vector<core::JobOutline> outlines;
  std::unordered_map<std::string, std::size_t> by_id;
  const std::size_t count = CountJobs();
  outlines.reserve(count);
  by_id.reserve(count);
  {
    CachedStatement row = statements_.Get(
        "SELECT id, owner_uid, display_name, type, state, priority, creation_us, "
        "modification_us, last_progress_us, helper_sealed IS NOT NULL FROM jobs");
    if (!row.ok()) return SqliteError(db_, "read jobs");
    int rc;
    while ((rc = row.Step()) == SQLITE_ROW) {
      auto id = Guid::Parse(row.TextView(0));
      if (!id) {
        Log()->error("Failed to load job: malformed id '{}'", row.TextView(0));
        continue;
      }
      core::JobOutline outline;
      core::JobSummary& summary = outline.summary;
      summary.id = *id;
      summary.owner_uid = static_cast<std::uint32_t>(row.Int(1));
      summary.display_name = row.Text(2);
      summary.type = static_cast<JobType>(row.Int(3));
      summary.state = static_cast<JobState>(row.Int(4));
      summary.priority = static_cast<JobPriority>(row.Int(5));
      summary.creation_us = row.Int(6);
      outline.modification_us = row.Int(7);
      outline.last_progress_us = row.Int(8);
      outline.has_helper = row.Int(9) != 0;
      by_id.emplace(row.Text(0), outlines.size());
      outlines.push_back(std::move(outline));
    }
    if (rc != SQLITE_DONE) return SqliteError(db_, "read jobs");
  }
  {
    // Progress as Job::Progress counts it for a loaded job (transferred = committed).
    CachedStatement row =
        statements_.Get("SELECT job_id, bytes_total, bytes_committed, completed FROM files");
    if (!row.ok()) return SqliteError(db_, "read files");
    int rc;
    core::JobOutline* outline = nullptr;
    std::string job_id;
    while ((rc = row.Step()) == SQLITE_ROW) {
      if (row.TextView(0) != job_id) {
        job_id = row.Text(0);
        auto it = by_id.find(job_id);
        outline = it == by_id.end() ? nullptr : &outlines[it->second];
      }
      if (outline == nullptr) continue;
      JobProgress& progress = outline->summary.progress;
      const auto bytes_total = static_cast<std::uint64_t>(row.Int(1));
      ++progress.files_total;
      if (row.Int(3) != 0) ++progress.files_transferred;
      progress.bytes_transferred += static_cast<std::uint64_t>(row.Int(2));
      if (bytes_total == kSizeUnknown || progress.bytes_total == kSizeUnknown) {
        progress.bytes_total = kSizeUnknown;
      } else {
        progress.bytes_total += bytes_total;
      }
    }
    if (rc != SQLITE_DONE) return SqliteError(db_, "read files");
  }
  return outlines;
}

Result<core::Job> SqliteJobStore::Load(const Guid& id) {
  std::lock_guard lock(mutex_);
  const std::string id_text = id.ToString();
  std::optional<core::Job> job;
  {
    CachedStatement row = statements_.Get(Sql().select_job.c_str());
    if (!row.ok()) return SqliteError(db_, "read job " + id_text);
    row.Bind(1, id_text);
    const int rc = row.Step();
    if (rc == SQLITE_DONE) {
      return Error(hr::BG_E_NOT_FOUND, ErrorContext::kGeneralQueueManager,
                   "job " + id_text + " is not in the job database " + path_);
    }
    if (rc != SQLITE_ROW) return SqliteError(db_, "read job " + id_text);
    job = ReadJobRow(row);
    if (!job) {
      return Error(hr::BG_E_NOT_FOUND, ErrorContext::kGeneralQueueManager,
                   "job " + id_text + " has a malformed id in the job database " + path_);
    }
  }
  {
    CachedStatement row = statements_.Get(Sql().select_job_files.c_str());
    if (!row.ok()) return SqliteError(db_, "read the files of job " + id_text);
    row.Bind(1, id_text);
    int rc;
    while ((rc = row.Step()) == SQLITE_ROW) ReadFileRow(row, *job);
    if (rc != SQLITE_DONE) return SqliteError(db_, "read the files of job " + id_text);
  }
  {
    CachedStatement row = statements_.Get(Sql().select_job_credentials.c_str());
    if (!row.ok()) return SqliteError(db_, "read the credentials of job " + id_text);
    row.Bind(1, id_text);
    int rc;
    while ((rc = row.Step()) == SQLITE_ROW) ReadCredentialRow(row, *job);
    if (rc != SQLITE_DONE) return SqliteError(db_, "read the credentials of job " + id_text);
  }
  return std::move(*job);
}

Status SqliteJobStore::Save(const core::Job& job) {
  JobImage now = ImageOf(job);  // hashing needs no lock
  std::lock_guard lock(mutex_);
  OPENBITS_RETURN_IF_ERROR(MarkHeldJobs());
  const std::string id = job.id.ToString();
  auto written = written_.find(job.id);
  Status saved = written == written_.end() ? InTransaction([&] { return WriteWhole(job, id); })
                                           : WriteChanges(job, id, written->second, now);
  if (!saved) {
    // Not known what the file holds now: the next Save writes the job whole.
    if (written != written_.end()) written_.erase(written);
    return saved;
  }
  written_.insert_or_assign(job.id, std::move(now));
  Wrote(job.id);
  return Ok();
}

Status SqliteJobStore::WriteWhole(const core::Job& job, const std::string& id) {
  CachedStatement upsert = statements_.Get(Sql().insert_job.c_str());
  if (!upsert.ok()) return SqliteError(db_, "prepare job save");
  upsert.Bind(1, id);
  int next = BindJobColumns(upsert, 2, job);
  if (job.custom_headers.empty()) {
    upsert.BindNull(next++);
  } else {
    auto sealed = secrets_->Seal(job.custom_headers, id);
    if (!sealed) return sealed.error();
    upsert.BindBlob(next++, *sealed);
  }
  if (job.proxy.list.empty() && job.proxy_environment.empty()) {
    upsert.BindNull(next++);
  } else {
    auto sealed = SealJobProxy(*secrets_, id, job.proxy.list, job.proxy_environment);
    if (!sealed) return sealed.error();
    upsert.BindBlob(next++, *sealed);
  }
  if (job.helper == core::HelperBinding{}) {
    upsert.BindNull(next++);
  } else {
    auto sealed = SealHelperBinding(*secrets_, id, job.helper);
    if (!sealed) return sealed.error();
    upsert.BindBlob(next++, *sealed);
  }
  OPENBITS_RETURN_IF_ERROR(Run(std::move(upsert), "save job"));

  CachedStatement clear = statements_.Get("DELETE FROM files WHERE job_id = ?");
  clear.Bind(1, id);
  OPENBITS_RETURN_IF_ERROR(Run(std::move(clear), "save files"));
  for (std::uint32_t i = 0; i < job.files.size(); ++i) {
    OPENBITS_RETURN_IF_ERROR(InsertFile(id, i, job.files[i]));
  }
  return WriteCredentials(job, id, /*clear_first=*/true);
}

Status SqliteJobStore::InsertFile(const std::string& id, std::uint32_t index,
                                  const core::JobFile& file) {
  CachedStatement insert = statements_.Get(Sql().insert_file.c_str());
  insert.Bind(1, id);
  insert.Bind(2, std::int64_t{index});
  BindFileProgress(insert, BindFileIdentity(insert, 3, file), file);
  return Run(std::move(insert), "save file");
}

Status SqliteJobStore::WriteCredentials(const core::Job& job, const std::string& id,
                                        bool clear_first) {
  if (clear_first) {
    CachedStatement clear = statements_.Get("DELETE FROM credentials WHERE job_id = ?");
    clear.Bind(1, id);
    OPENBITS_RETURN_IF_ERROR(Run(std::move(clear), "save credentials"));
  }
  for (const core::Credential& credential : job.credentials.all()) {
    const auto target = static_cast<std::int64_t>(credential.target);
    const auto scheme = static_cast<std::int64_t>(credential.scheme);
    auto sealed = secrets_->Seal(PackCredential(credential), CredentialContext(id, target, scheme));
    if (!sealed) return sealed.error();
    CachedStatement insert = statements_.Get(
        "INSERT INTO credentials (job_id, target, scheme, implicit, sealed) VALUES (?,?,?,?,?)");
    insert.Bind(1, id);
    insert.Bind(2, target);
    insert.Bind(3, scheme);
    insert.Bind(4, std::int64_t{credential.implicit ? 1 : 0});
    insert.BindBlob(5, *sealed);
    OPENBITS_RETURN_IF_ERROR(Run(std::move(insert), "save credential"));
  }
  return Ok();
}

Status SqliteJobStore::WriteSealedColumn(const char* sql, const std::string& id,
                                         const Result<std::string>& sealed, bool empty) {
  if (!sealed) return sealed.error();
  CachedStatement update = statements_.Get(sql);
  if (empty) {
    update.BindNull(1);
  } else {
    update.BindBlob(1, *sealed);
  }
  update.Bind(2, id);
  return Run(std::move(update), "save a sealed column");
}

Status SqliteJobStore::WriteChanges(const core::Job& job, const std::string& id,
                                    const JobImage& written, const JobImage& now) {
  // Each change is one statement; several go in one transaction, one goes alone.
  std::vector<std::function<Status()>> writes;
  if (now.columns != written.columns) {
    writes.emplace_back([&]() -> Status {
      CachedStatement update = statements_.Get(Sql().update_job.c_str());
      update.Bind(BindJobColumns(update, 1, job), id);
      return Run(std::move(update), "save job");
    });
  }
  // Sealed columns are sealed again only when their secret changed.
  if (now.custom_headers != written.custom_headers) {
    writes.emplace_back([&] {
      const bool empty = job.custom_headers.empty();
      return WriteSealedColumn(
          "UPDATE jobs SET custom_headers = ? WHERE id = ?", id,
          empty ? Result<std::string>(std::string()) : secrets_->Seal(job.custom_headers, id),
          empty);
    });
  }
  if (now.proxy != written.proxy) {
    writes.emplace_back([&] {
      const bool empty = job.proxy.list.empty() && job.proxy_environment.empty();
      return WriteSealedColumn(
          "UPDATE jobs SET proxy_sealed = ? WHERE id = ?", id,
          empty ? Result<std::string>(std::string())
                : SealJobProxy(*secrets_, id, job.proxy.list, job.proxy_environment),
          empty);
    });
  }
  if (now.helper != written.helper) {
    writes.emplace_back([&] {
      const bool empty = job.helper == core::HelperBinding{};
      return WriteSealedColumn(
          "UPDATE jobs SET helper_sealed = ? WHERE id = ?", id,
          empty ? Result<std::string>(std::string()) : SealHelperBinding(*secrets_, id, job.helper),
          empty);
    });
  }
  if (now.credentials != written.credentials) {
    writes.emplace_back([&] { return WriteCredentials(job, id, /*clear_first=*/true); });
  }
  const std::size_t kept = std::min(written.files.size(), now.files.size());
  for (std::uint32_t i = 0; i < kept; ++i) {
    const FileImage& before = written.files[i];
    const FileImage& after = now.files[i];
    if (before == after) continue;
    const bool whole_row = before.identity != after.identity;
    writes.emplace_back([&, i, whole_row] {
      const core::JobFile& file = job.files[i];
      CachedStatement update =
          statements_.Get(whole_row ? Sql().update_file.c_str() : Sql().update_progress.c_str());
      int next = whole_row ? BindFileIdentity(update, 1, file) : 1;
      next = BindFileProgress(update, next, file);
      update.Bind(next, id);
      update.Bind(next + 1, std::int64_t{i});
      return Run(std::move(update), "save file");
    });
  }
  for (std::uint32_t i = static_cast<std::uint32_t>(kept); i < now.files.size(); ++i) {
    writes.emplace_back([&, i] { return InsertFile(id, i, job.files[i]); });
  }
  if (written.files.size() > now.files.size()) {
    writes.emplace_back([&] {
      CachedStatement trim = statements_.Get("DELETE FROM files WHERE job_id = ? AND idx >= ?");
      trim.Bind(1, id);
      trim.Bind(2, static_cast<std::int64_t>(now.files.size()));
      return Run(std::move(trim), "remove files");
    });
  }
  if (writes.empty()) return Ok();
  // Credentials are a delete and inserts: never alone outside a transaction.
  if (writes.size() == 1 && now.credentials == written.credentials) return writes.front()();
  return InTransaction([&]() -> Status {
    for (auto& write : writes) OPENBITS_RETURN_IF_ERROR(write());
    return Ok();
  });
}

Status SqliteJobStore::MarkHeldJobs() {
  if (held_jobs_marked_) return Ok();
  OPENBITS_RETURN_IF_ERROR(WriteHeldJobsMarker(path_));
  held_jobs_marked_ = true;
  return Ok();
}

Status SqliteJobStore::SaveFileProgress(const Guid& job, std::uint32_t index,
                                        const core::JobFile& file) {
  const FileImage image = ImageOf(file);
  std::lock_guard lock(mutex_);
  Status saved = UpdateProgress(job, index, file);
  NoteProgress(job, saved, {{index, image.progress}});
  return saved;
}

Status SqliteJobStore::SaveFilesProgress(
    const Guid& job, const std::vector<std::pair<std::uint32_t, core::JobFile>>& files) {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> images;
  images.reserve(files.size());
  for (const auto& [index, file] : files) images.emplace_back(index, ImageOf(file).progress);
  std::lock_guard lock(mutex_);
  Status saved = InTransaction([&]() -> Status {
    for (const auto& [index, file] : files) {
      OPENBITS_RETURN_IF_ERROR(UpdateProgress(job, index, file));
    }
    return Ok();
  });
  NoteProgress(job, saved, images);
  return saved;
}

Status SqliteJobStore::UpdateProgress(const Guid& job, std::uint32_t index,
                                      const core::JobFile& file) {
  CachedStatement update = statements_.Get(Sql().update_progress.c_str());
  if (!update.ok()) return SqliteError(db_, "prepare progress save");
  const int next = BindFileProgress(update, 1, file);
  update.Bind(next, job.ToString());
  update.Bind(next + 1, std::int64_t{index});
  return Run(std::move(update), "save progress");
}

void SqliteJobStore::NoteProgress(
    const Guid& job, const Status& saved,
    const std::vector<std::pair<std::uint32_t, std::uint64_t>>& progress) {
  if (auto written = written_.find(job); written != written_.end()) {
    if (!saved) {
      // Not known what the file holds now: the next Save writes the job whole.
      written_.erase(written);
    } else {
      for (const auto& [index, hash] : progress) {
        if (index < written->second.files.size()) written->second.files[index].progress = hash;
      }
    }
  }
  if (saved) Wrote(job);
}

Result<std::map<std::uint32_t, core::AccountProxy>> SqliteJobStore::LoadAccountProxies() {
  std::lock_guard lock(mutex_);
  std::map<std::uint32_t, core::AccountProxy> accounts;
  CachedStatement select = statements_.Get("SELECT uid, mode, bypass, sealed FROM account_proxies");
  if (!select.ok()) return SqliteError(db_, "read account proxy settings");
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    const auto uid = static_cast<std::uint32_t>(select.Int(0));
    core::AccountProxy proxy{static_cast<core::AccountProxyMode>(select.Int(1)), "", select.Text(2),
                             ""};
    if (!select.IsNull(3)) {
      auto secrets = OpenAccountProxy(*secrets_, uid, select.Blob(3));
      if (!secrets) {
        Log()->error("Failed to decrypt the proxy settings of account uid={}", uid);
        continue;  // as if the account had none: PRECONFIG's next source applies
      }
      proxy.list = std::move(secrets->list);
      proxy.autoscript_url = std::move(secrets->autoscript_url);
    }
    accounts[uid] = std::move(proxy);
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "read account proxy settings");
  return accounts;
}

Status SqliteJobStore::SaveAccountProxy(std::uint32_t uid,
                                        const std::optional<core::AccountProxy>& proxy) {
  std::lock_guard lock(mutex_);
  Status saved = Ok();
  if (!proxy) {
    CachedStatement remove = statements_.Get("DELETE FROM account_proxies WHERE uid = ?");
    remove.Bind(1, std::int64_t{uid});
    saved = Run(std::move(remove), "reset account proxy settings");
  } else {
    auto sealed = SealAccountProxy(*secrets_, uid, proxy->list, proxy->autoscript_url);
    if (!sealed) return sealed.error();
    CachedStatement upsert = statements_.Get(
        "INSERT OR REPLACE INTO account_proxies (uid, mode, list, bypass, autoscript_url, "
        "sealed) VALUES (?,?,'',?,'',?)");
    upsert.Bind(1, std::int64_t{uid});
    upsert.Bind(2, static_cast<std::int64_t>(proxy->mode));
    upsert.Bind(3, proxy->bypass);
    upsert.BindBlob(4, *sealed);
    saved = Run(std::move(upsert), "save account proxy settings");
  }
  if (saved) syncer_->Wrote();
  return saved;
}

Status SqliteJobStore::Remove(const Guid& job) {
  std::lock_guard lock(mutex_);
  CachedStatement remove = statements_.Get("DELETE FROM jobs WHERE id = ?");
  remove.Bind(1, job.ToString());
  // Its files and credentials go with it (ON DELETE CASCADE).
  Status removed = Run(std::move(remove), "remove job");
  written_.erase(job);
  if (removed) {
    syncer_->Wrote();
    last_write_.erase(job);  // a removed job has nothing left to make durable
  }
  return removed;
}

}  // namespace openbits::store
