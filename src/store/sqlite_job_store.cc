#include "store/sqlite_job_store.h"

#include <sqlite3.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "base/log.h"
#include "store/proxy_secrets.h"
#include "store/sqlite_database.h"

namespace openbits::store {
namespace {

// Version 1. Every column is documented in docs/storage-schema.md.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE jobs (
  id                     TEXT PRIMARY KEY,
  owner_uid              INTEGER NOT NULL,
  owner_gid              INTEGER NOT NULL,
  display_name           TEXT NOT NULL,
  description            TEXT NOT NULL,
  type                   INTEGER NOT NULL,
  priority               INTEGER NOT NULL,
  state                  INTEGER NOT NULL,
  error_code             INTEGER,
  error_context          INTEGER,
  error_file             INTEGER,
  error_message          TEXT,
  error_count            INTEGER NOT NULL,
  minimum_retry_delay_s  INTEGER NOT NULL,
  no_progress_timeout_s  INTEGER NOT NULL,
  creation_us            INTEGER NOT NULL,
  modification_us        INTEGER NOT NULL,
  transfer_completion_us INTEGER NOT NULL,
  last_progress_us       INTEGER NOT NULL,
  retry_at_us            INTEGER NOT NULL
);
CREATE TABLE files (
  job_id          TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  idx             INTEGER NOT NULL,
  remote_url      TEXT NOT NULL,
  local_path      TEXT NOT NULL,
  temp_path       TEXT NOT NULL,
  bytes_total     INTEGER NOT NULL,
  bytes_committed INTEGER NOT NULL,
  completed       INTEGER NOT NULL,
  etag            TEXT NOT NULL,
  last_modified   TEXT NOT NULL,
  remote_mtime_us INTEGER NOT NULL,
  PRIMARY KEY (job_id, idx)
);
)sql";

// Version 2: notifications (flags, command line, interval).
constexpr const char* kMigrationV2 = R"sql(
ALTER TABLE jobs ADD COLUMN notify_flags INTEGER NOT NULL DEFAULT 3;
ALTER TABLE jobs ADD COLUMN notify_program TEXT;
ALTER TABLE jobs ADD COLUMN notify_parameters TEXT;
ALTER TABLE jobs ADD COLUMN notify_uid INTEGER;
ALTER TABLE jobs ADD COLUMN notify_gid INTEGER;
ALTER TABLE jobs ADD COLUMN notification_interval_ms INTEGER NOT NULL DEFAULT 500;
)sql";

// Version 3: security flags, maximum download time, per-file response headers and
// validation state.
constexpr const char* kMigrationV3 = R"sql(
ALTER TABLE jobs ADD COLUMN security_flags INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN maximum_download_time_s INTEGER NOT NULL DEFAULT 7776000;
ALTER TABLE jobs ADD COLUMN transfer_time_us INTEGER NOT NULL DEFAULT 0;
ALTER TABLE files ADD COLUMN response_headers TEXT NOT NULL DEFAULT '';
ALTER TABLE files ADD COLUMN validation_state INTEGER;
)sql";

// Version 4: custom headers, sealed (AES-256-GCM, see SecretBox).
constexpr const char* kMigrationV4 = R"sql(
ALTER TABLE jobs ADD COLUMN custom_headers BLOB;
ALTER TABLE jobs ADD COLUMN custom_headers_write_only INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 5: the HTTP method and the Job5 properties.
constexpr const char* kMigrationV5 = R"sql(
ALTER TABLE jobs ADD COLUMN http_method TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN dynamic_content INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN high_performance INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN max_download_size INTEGER NOT NULL DEFAULT -1;
ALTER TABLE jobs ADD COLUMN resumed_once INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 6: AddFileWithRanges ("offset:length,..." with "eof" for BG_LENGTH_TO_EOF).
constexpr const char* kMigrationV6 = R"sql(
ALTER TABLE files ADD COLUMN ranges TEXT NOT NULL DEFAULT '';
)sql";

// Each step moves the schema up one version; the last one is the current version.
// Version 7: the client certificate reference (never the certificate or its key).
constexpr const char* kMigrationV7 = R"sql(
ALTER TABLE jobs ADD COLUMN client_cert_location INTEGER;
ALTER TABLE jobs ADD COLUMN client_cert_store TEXT;
ALTER TABLE jobs ADD COLUMN client_cert_sha1 TEXT;
ALTER TABLE jobs ADD COLUMN client_cert_subject TEXT;
)sql";

// Version 8: credentials, one row per (target, scheme) slot; user name, password and
// credential cache name sealed together (SecretBox, bound to the job and the slot).
constexpr const char* kMigrationV8 = R"sql(
CREATE TABLE credentials (
  job_id   TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  target   INTEGER NOT NULL,
  scheme   INTEGER NOT NULL,
  implicit INTEGER NOT NULL,
  sealed   BLOB NOT NULL,
  PRIMARY KEY (job_id, target, scheme)
);
)sql";

// Version 9: proxy settings, the creator's proxy environment ("name=value" lines) and the
// accounts' own proxy settings.
constexpr const char* kMigrationV9 = R"sql(
ALTER TABLE jobs ADD COLUMN proxy_usage INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN proxy_list TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN proxy_bypass TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN proxy_environment TEXT NOT NULL DEFAULT '';
CREATE TABLE account_proxies (
  uid            INTEGER PRIMARY KEY,
  mode           INTEGER NOT NULL,
  list           TEXT NOT NULL,
  bypass         TEXT NOT NULL,
  autoscript_url TEXT NOT NULL
);
)sql";

// Version 10: each file's mode (0666 & ~the umask of AddFile's caller).
constexpr const char* kMigrationV10 = R"sql(
ALTER TABLE files ADD COLUMN mode INTEGER NOT NULL DEFAULT 420;
)sql";

// Version 11 (SqliteJobStore::kProxySealingVersion): proxy lists, proxy environments and
// PAC URLs may hold a password; they are sealed (proxy_secrets.h), the plaintext columns stay
// empty. The step also seals the rows of older versions (SealPlaintextProxyRows).
constexpr const char* kMigrationV11 = R"sql(
ALTER TABLE jobs ADD COLUMN proxy_sealed BLOB;
ALTER TABLE account_proxies ADD COLUMN sealed BLOB;
)sql";

// Version 12: how far Complete got with each file (core::Delivery: 0 none, 1 renaming,
// 2 renamed into place), so that an interrupted Complete can be called again.
constexpr const char* kMigrationV12 = R"sql(
ALTER TABLE files ADD COLUMN delivery INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 13: the helper binding (SetHelperToken, flags), sealed (proxy_secrets.h).
constexpr const char* kMigrationV13 = "ALTER TABLE jobs ADD COLUMN helper_sealed BLOB;";

// One step per version, in order; the last one is the current version.
constexpr std::array<std::pair<int, const char*>, 13> kMigrations = {{{1, kSchemaV1},
                                                                      {2, kMigrationV2},
                                                                      {3, kMigrationV3},
                                                                      {4, kMigrationV4},
                                                                      {5, kMigrationV5},
                                                                      {6, kMigrationV6},
                                                                      {7, kMigrationV7},
                                                                      {8, kMigrationV8},
                                                                      {9, kMigrationV9},
                                                                      {10, kMigrationV10},
                                                                      {11, kMigrationV11},
                                                                      {12, kMigrationV12},
                                                                      {13, kMigrationV13}}};
static_assert(kMigrations[SqliteJobStore::kProxySealingVersion - 1].second == kMigrationV11);

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

std::string EncodeRanges(const std::vector<core::FileRange>& ranges) {
  std::string text;
  for (const core::FileRange& range : ranges) {
    if (!text.empty()) text += ',';
    text += std::to_string(range.offset) + ":" +
            (range.length == core::kLengthToEof ? "eof" : std::to_string(range.length));
  }
  return text;
}

std::vector<core::FileRange> DecodeRanges(const std::string& text) {
  std::vector<core::FileRange> ranges;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    const auto colon = item.find(':');
    if (colon != std::string::npos) {
      const std::string length = item.substr(colon + 1);
      ranges.push_back({std::stoull(item.substr(0, colon)),
                        length == "eof" ? core::kLengthToEof : std::stoull(length)});
    }
    start = end + 1;
  }
  return ranges;
}
constexpr int kSchemaVersion = kMigrations.back().first;

std::shared_ptr<spdlog::logger> Log() {
  static const auto logger = log::Get("store");
  return logger;
}

// A prepared statement that finalizes itself.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  void Bind(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void BindNull(int i) { sqlite3_bind_null(stmt_, i); }
  void BindBlob(int i, const std::string& v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  int Step() { return sqlite3_step(stmt_); }
  std::int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Blob(int col) const {
    const void* data = sqlite3_column_blob(stmt_, col);
    return data ? std::string(static_cast<const char*>(data),
                              static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
                : std::string();
  }
  std::string Text(int col) const {
    const auto* text = sqlite3_column_text(stmt_, col);
    return text ? std::string(reinterpret_cast<const char*>(text)) : std::string();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

Status StepDone(sqlite3* db, Statement& statement, const std::string& what) {
  if (statement.Step() != SQLITE_DONE) return SqliteError(db, what);
  return Ok();
}

// Runs the migrations from `from` up to `to`, each in its own transaction.
// Each step moves the schema up one version in one transaction. The sealing step
// (kProxySealingVersion) also seals the plaintext rows older versions wrote, with
// secure_delete on so that the old bytes are overwritten.
Status Migrate(sqlite3* db, const std::string& path, int from, int to, const SecretBox& secrets) {
  for (const auto& [target, sql] : kMigrations) {
    if (from >= target || target > to) continue;
    OPENBITS_RETURN_IF_ERROR(ExecOn(db, "BEGIN IMMEDIATE"));
    Status migrated = ExecOn(db, sql);
    if (migrated && target == SqliteJobStore::kProxySealingVersion) {
      migrated = ExecOn(db, "PRAGMA secure_delete = ON");
      if (migrated) migrated = SealPlaintextProxyRows(db, secrets);
    }
    if (migrated) {
      migrated = ExecOn(db, ("PRAGMA user_version = " + std::to_string(target)).c_str());
    }
    if (!migrated) {
      (void)ExecOn(db, "ROLLBACK");
      return migrated.error();
    }
    OPENBITS_RETURN_IF_ERROR(ExecOn(db, "COMMIT"));
    if (from > 0) Log()->info("Migrated job database {} to schema {}", path, target);
  }
  return Ok();
}

// What lost rows leave inconsistent after a recovery: jobs that lost some of their files (the
// indexes have a gap: such a job would transfer other files than it was given), then the files
// and credentials of jobs that were lost.
constexpr const char* kRecoveryCleanup = R"sql(
DELETE FROM jobs WHERE id IN
  (SELECT job_id FROM files GROUP BY job_id HAVING max(idx) + 1 != count(*));
DELETE FROM files WHERE job_id NOT IN (SELECT id FROM jobs);
DELETE FROM credentials WHERE job_id NOT IN (SELECT id FROM jobs);
)sql";

Error NewerSchema(const std::string& path, int version) {
  return Error(hr::E_FAIL, ErrorContext::kGeneralQueueManager,
               "the job database " + path + " has schema version " + std::to_string(version) +
                   ", newer than this bitsd understands (" + std::to_string(kSchemaVersion) + ")");
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

  // Queues from before the marker existed get it now, if they hold jobs.
  store->held_jobs_marked_ = std::filesystem::exists(HeldJobsMarkerPath(path));
  Statement any_job(store->db_, "SELECT EXISTS (SELECT 1 FROM jobs)");
  if (any_job.ok() && any_job.Step() == SQLITE_ROW && any_job.Int(0) != 0) {
    if (auto marked = store->MarkHeldJobs(); !marked) {
      Log()->warn("Failed to mark the queue as holding jobs: {}", marked.error().ToString());
    }
  }
  return store;
}

Status SqliteJobStore::ScrubOldPages() {
  // The sealing step's old pages: the main file still holds them until a checkpoint, the WAL
  // may hold older plaintext frames, free pages may keep what secure_delete did not see.
  // Checkpoint and truncate the WAL, rebuild the file, and truncate the WAL it went through.
  OPENBITS_RETURN_IF_ERROR(Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  OPENBITS_RETURN_IF_ERROR(Exec("VACUUM"));
  OPENBITS_RETURN_IF_ERROR(Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  return Exec("PRAGMA secure_delete = OFF");
}

SqliteJobStore::~SqliteJobStore() { sqlite3_close(db_); }

Status SqliteJobStore::Exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    Error error = SqliteError(db_, std::string("run '") + std::string(sql).substr(0, 40) + "'");
    sqlite3_free(message);
    return error;
  }
  return Ok();
}

Result<std::vector<core::Job>> SqliteJobStore::LoadAll() {
  std::lock_guard lock(mutex_);
  std::vector<core::Job> jobs;
  Statement select_jobs(db_,
                        "SELECT id, owner_uid, owner_gid, display_name, description, type, "
                        "priority, state, error_code, error_context, error_file, error_message, "
                        "error_count, minimum_retry_delay_s, no_progress_timeout_s, creation_us, "
                        "modification_us, transfer_completion_us, last_progress_us, retry_at_us, "
                        "notify_flags, notify_program, notify_parameters, notify_uid, notify_gid, "
                        "notification_interval_ms, security_flags, maximum_download_time_s, "
                        "transfer_time_us, custom_headers, custom_headers_write_only, http_method, "
                        "dynamic_content, high_performance, max_download_size, resumed_once, "
                        "client_cert_location, client_cert_store, client_cert_sha1, "
                        "client_cert_subject, proxy_usage, proxy_bypass, proxy_sealed, "
                        "helper_sealed FROM jobs ORDER BY creation_us");
  if (!select_jobs.ok()) return SqliteError(db_, "read jobs");
  int rc;
  while ((rc = select_jobs.Step()) == SQLITE_ROW) {
    auto id = Guid::Parse(select_jobs.Text(0));
    if (!id) {
      Log()->error("Failed to load job: malformed id '{}'", select_jobs.Text(0));
      continue;
    }
    core::Job job;
    job.id = *id;
    job.owner_uid = static_cast<std::uint32_t>(select_jobs.Int(1));
    job.owner_gid = static_cast<std::uint32_t>(select_jobs.Int(2));
    job.display_name = select_jobs.Text(3);
    job.description = select_jobs.Text(4);
    job.type = static_cast<JobType>(select_jobs.Int(5));
    job.priority = static_cast<JobPriority>(select_jobs.Int(6));
    job.state = static_cast<JobState>(select_jobs.Int(7));
    if (!select_jobs.IsNull(8)) {
      core::JobError error;
      error.code = static_cast<HRESULT>(select_jobs.Int(8));
      error.context = static_cast<ErrorContext>(select_jobs.Int(9));
      if (!select_jobs.IsNull(10)) {
        error.file_index = static_cast<std::uint32_t>(select_jobs.Int(10));
      }
      error.message = select_jobs.Text(11);
      job.error = std::move(error);
    }
    job.error_count = static_cast<std::uint32_t>(select_jobs.Int(12));
    job.minimum_retry_delay_s = static_cast<std::uint32_t>(select_jobs.Int(13));
    job.no_progress_timeout_s = static_cast<std::uint32_t>(select_jobs.Int(14));
    job.times.creation_us = select_jobs.Int(15);
    job.times.modification_us = select_jobs.Int(16);
    job.times.transfer_completion_us = select_jobs.Int(17);
    job.last_progress_us = select_jobs.Int(18);
    job.retry_at_us = select_jobs.Int(19);
    job.notify_flags = static_cast<std::uint32_t>(select_jobs.Int(20));
    if (!select_jobs.IsNull(21)) {
      job.notify_command = core::NotifyCommand{select_jobs.Text(21), select_jobs.Text(22),
                                               static_cast<std::uint32_t>(select_jobs.Int(23)),
                                               static_cast<std::uint32_t>(select_jobs.Int(24))};
    }
    job.minimum_notification_interval_ms = static_cast<std::uint32_t>(select_jobs.Int(25));
    job.security_flags = static_cast<std::uint32_t>(select_jobs.Int(26));
    job.maximum_download_time_s = static_cast<std::uint32_t>(select_jobs.Int(27));
    job.transfer_time_us = select_jobs.Int(28);
    if (!select_jobs.IsNull(29)) {
      auto headers = secrets_->Open(select_jobs.Blob(29), job.id.ToString());
      if (!headers) {
        // The job stays usable; only its secret is lost, and the log says why.
        Log()->error("Failed to decrypt the custom headers of job={}: {}", job.id.ToString(),
                     headers.error().ToString());
      } else {
        job.custom_headers = std::move(*headers);
      }
    }
    job.custom_headers_write_only = select_jobs.Int(30) != 0;
    job.http_method = select_jobs.Text(31);
    job.dynamic_content = select_jobs.Int(32) != 0;
    job.high_performance = select_jobs.Int(33) != 0;
    job.max_download_size = static_cast<std::uint64_t>(select_jobs.Int(34));
    job.resumed_once = select_jobs.Int(35) != 0;
    if (!select_jobs.IsNull(36)) {
      job.client_certificate = core::ClientCertificateRef{
          static_cast<std::uint32_t>(select_jobs.Int(36)), select_jobs.Text(37),
          select_jobs.Text(38), select_jobs.Text(39)};
    }
    job.proxy = {static_cast<ProxyUsage>(select_jobs.Int(40)), "", select_jobs.Text(41)};
    if (!select_jobs.IsNull(42)) {
      auto proxy = OpenJobProxy(*secrets_, job.id.ToString(), select_jobs.Blob(42));
      if (!proxy) {
        // The job stays usable (direct, or its other proxy sources); the log says why.
        Log()->error("Failed to decrypt the proxy settings of job={}", job.id.ToString());
      } else {
        job.proxy.list = std::move(proxy->list);
        job.proxy_environment = std::move(proxy->environment);
      }
    }
    if (!select_jobs.IsNull(43)) {
      auto helper = OpenHelperBinding(*secrets_, job.id.ToString(), select_jobs.Blob(43));
      if (helper) job.helper = std::move(*helper);
      if (!helper)
        Log()->error("Failed to decrypt the helper binding of job={}", job.id.ToString());
    }
    jobs.push_back(std::move(job));
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "read jobs");

  for (core::Job& job : jobs) {
    Statement select_files(db_,
                           "SELECT remote_url, local_path, temp_path, bytes_total, "
                           "bytes_committed, completed, etag, last_modified, remote_mtime_us, "
                           "response_headers, validation_state, ranges, mode, delivery "
                           "FROM files WHERE job_id = ? ORDER BY idx");
    if (!select_files.ok()) return SqliteError(db_, "read files");
    select_files.Bind(1, job.id.ToString());
    while ((rc = select_files.Step()) == SQLITE_ROW) {
      core::JobFile file;
      file.remote_url = select_files.Text(0);
      file.local_path = select_files.Text(1);
      file.temp_path = select_files.Text(2);
      file.bytes_total = static_cast<std::uint64_t>(select_files.Int(3));
      file.bytes_committed = static_cast<std::uint64_t>(select_files.Int(4));
      file.bytes_transferred = file.bytes_committed;
      file.completed = select_files.Int(5) != 0;
      file.validators.etag = select_files.Text(6);
      file.validators.last_modified = select_files.Text(7);
      file.remote_mtime_us = select_files.Int(8);
      file.response_headers = select_files.Text(9);
      if (!select_files.IsNull(10)) file.validation_state = select_files.Int(10) != 0;
      file.ranges = DecodeRanges(select_files.Text(11));
      file.mode = static_cast<std::uint32_t>(select_files.Int(12)) & 0777;
      const std::int64_t delivery = select_files.Int(13);
      file.delivery = delivery == 2   ? core::Delivery::kDone
                      : delivery == 1 ? core::Delivery::kRenaming
                                      : core::Delivery::kNone;
      job.files.push_back(std::move(file));
    }
    if (rc != SQLITE_DONE) return SqliteError(db_, "read files");

    Statement select_credentials(
        db_, "SELECT target, scheme, implicit, sealed FROM credentials WHERE job_id = ?");
    if (!select_credentials.ok()) return SqliteError(db_, "read credentials");
    const std::string id = job.id.ToString();
    select_credentials.Bind(1, id);
    while ((rc = select_credentials.Step()) == SQLITE_ROW) {
      const std::int64_t target = select_credentials.Int(0);
      const std::int64_t scheme = select_credentials.Int(1);
      auto opened =
          secrets_->Open(select_credentials.Blob(3), CredentialContext(id, target, scheme));
      std::optional<core::Credential> credential;
      if (opened) credential = UnpackCredential(*opened);
      if (!credential) {
        // The job stays usable without this slot; the log says why (never what).
        Log()->error("Failed to decrypt credentials of job={} target={} scheme={}", id, target,
                     scheme);
        continue;
      }
      credential->target = static_cast<AuthTarget>(target);
      credential->scheme = static_cast<AuthScheme>(scheme);
      credential->implicit = select_credentials.Int(2) != 0;
      job.credentials.Set(std::move(*credential));
    }
    if (rc != SQLITE_DONE) return SqliteError(db_, "read credentials");
  }
  return jobs;
}

Status SqliteJobStore::Save(const core::Job& job) {
  std::lock_guard lock(mutex_);
  OPENBITS_RETURN_IF_ERROR(MarkHeldJobs());
  OPENBITS_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto write = [&]() -> Status {
    Statement upsert(
        db_,
        "INSERT OR REPLACE INTO jobs (id, owner_uid, owner_gid, display_name, "
        "description, type, priority, state, error_code, error_context, error_file, "
        "error_message, error_count, minimum_retry_delay_s, no_progress_timeout_s, "
        "creation_us, modification_us, transfer_completion_us, last_progress_us, "
        "retry_at_us, notify_flags, notify_program, notify_parameters, notify_uid, "
        "notify_gid, notification_interval_ms, security_flags, "
        "maximum_download_time_s, transfer_time_us, custom_headers, "
        "custom_headers_write_only, http_method, dynamic_content, high_performance, "
        "max_download_size, resumed_once, client_cert_location, client_cert_store, "
        "client_cert_sha1, client_cert_subject, proxy_usage, proxy_bypass, proxy_sealed, "
        "helper_sealed) VALUES "
        "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
        "?,?,?,?,?,?,?,?,?,?)");
    if (!upsert.ok()) return SqliteError(db_, "prepare job save");
    const std::string id = job.id.ToString();
    upsert.Bind(1, id);
    upsert.Bind(2, std::int64_t{job.owner_uid});
    upsert.Bind(3, std::int64_t{job.owner_gid});
    upsert.Bind(4, job.display_name);
    upsert.Bind(5, job.description);
    upsert.Bind(6, static_cast<std::int64_t>(job.type));
    upsert.Bind(7, static_cast<std::int64_t>(job.priority));
    upsert.Bind(8, static_cast<std::int64_t>(job.state));
    if (job.error) {
      upsert.Bind(9, std::int64_t{job.error->code});
      upsert.Bind(10, static_cast<std::int64_t>(job.error->context));
      if (job.error->file_index) {
        upsert.Bind(11, std::int64_t{*job.error->file_index});
      } else {
        upsert.BindNull(11);
      }
      upsert.Bind(12, job.error->message);
    } else {
      for (int i = 9; i <= 12; ++i) upsert.BindNull(i);
    }
    upsert.Bind(13, std::int64_t{job.error_count});
    upsert.Bind(14, std::int64_t{job.minimum_retry_delay_s});
    upsert.Bind(15, std::int64_t{job.no_progress_timeout_s});
    upsert.Bind(16, job.times.creation_us);
    upsert.Bind(17, job.times.modification_us);
    upsert.Bind(18, job.times.transfer_completion_us);
    upsert.Bind(19, job.last_progress_us);
    upsert.Bind(20, job.retry_at_us);
    upsert.Bind(21, std::int64_t{job.notify_flags});
    if (job.notify_command) {
      upsert.Bind(22, job.notify_command->program);
      upsert.Bind(23, job.notify_command->parameters);
      upsert.Bind(24, std::int64_t{job.notify_command->uid});
      upsert.Bind(25, std::int64_t{job.notify_command->gid});
    } else {
      for (int i = 22; i <= 25; ++i) upsert.BindNull(i);
    }
    upsert.Bind(26, std::int64_t{job.minimum_notification_interval_ms});
    upsert.Bind(27, std::int64_t{job.security_flags});
    upsert.Bind(28, std::int64_t{job.maximum_download_time_s});
    upsert.Bind(29, job.transfer_time_us);
    if (job.custom_headers.empty()) {
      upsert.BindNull(30);
    } else {
      auto sealed = secrets_->Seal(job.custom_headers, id);
      if (!sealed) return sealed.error();
      upsert.BindBlob(30, *sealed);
    }
    upsert.Bind(31, std::int64_t{job.custom_headers_write_only ? 1 : 0});
    upsert.Bind(32, job.http_method);
    upsert.Bind(33, std::int64_t{job.dynamic_content ? 1 : 0});
    upsert.Bind(34, std::int64_t{job.high_performance ? 1 : 0});
    upsert.Bind(35, static_cast<std::int64_t>(job.max_download_size));
    upsert.Bind(36, std::int64_t{job.resumed_once ? 1 : 0});
    if (job.client_certificate) {
      upsert.Bind(37, std::int64_t{job.client_certificate->location});
      upsert.Bind(38, job.client_certificate->store);
      upsert.Bind(39, job.client_certificate->sha1);
      upsert.Bind(40, job.client_certificate->subject);
    } else {
      for (int i = 37; i <= 40; ++i) upsert.BindNull(i);
    }
    upsert.Bind(41, static_cast<std::int64_t>(job.proxy.usage));
    upsert.Bind(42, job.proxy.bypass);
    if (job.proxy.list.empty() && job.proxy_environment.empty()) {
      upsert.BindNull(43);
    } else {
      auto sealed = SealJobProxy(*secrets_, id, job.proxy.list, job.proxy_environment);
      if (!sealed) return sealed.error();
      upsert.BindBlob(43, *sealed);
    }
    if (job.helper == core::HelperBinding{}) {
      upsert.BindNull(44);
    } else {
      auto sealed = SealHelperBinding(*secrets_, id, job.helper);
      if (!sealed) return sealed.error();
      upsert.BindBlob(44, *sealed);
    }
    OPENBITS_RETURN_IF_ERROR(StepDone(db_, upsert, "save job"));

    Statement clear(db_, "DELETE FROM files WHERE job_id = ?");
    clear.Bind(1, id);
    OPENBITS_RETURN_IF_ERROR(StepDone(db_, clear, "save files"));
    for (std::uint32_t i = 0; i < job.files.size(); ++i) {
      const core::JobFile& file = job.files[i];
      Statement insert(
          db_,
          "INSERT INTO files (job_id, idx, remote_url, local_path, temp_path, "
          "bytes_total, bytes_committed, completed, etag, last_modified, "
          "remote_mtime_us, response_headers, validation_state, ranges, mode, delivery) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
      insert.Bind(1, id);
      insert.Bind(2, std::int64_t{i});
      insert.Bind(3, file.remote_url);
      insert.Bind(4, file.local_path);
      insert.Bind(5, file.temp_path);
      insert.Bind(6, static_cast<std::int64_t>(file.bytes_total));
      insert.Bind(7, static_cast<std::int64_t>(file.bytes_committed));
      insert.Bind(8, std::int64_t{file.completed ? 1 : 0});
      insert.Bind(9, file.validators.etag);
      insert.Bind(10, file.validators.last_modified);
      insert.Bind(11, file.remote_mtime_us);
      insert.Bind(12, file.response_headers);
      if (file.validation_state) {
        insert.Bind(13, std::int64_t{*file.validation_state ? 1 : 0});
      } else {
        insert.BindNull(13);
      }
      insert.Bind(14, EncodeRanges(file.ranges));
      insert.Bind(15, std::int64_t{file.mode});
      insert.Bind(16, static_cast<std::int64_t>(file.delivery));
      OPENBITS_RETURN_IF_ERROR(StepDone(db_, insert, "save file"));
    }

    Statement clear_credentials(db_, "DELETE FROM credentials WHERE job_id = ?");
    clear_credentials.Bind(1, id);
    OPENBITS_RETURN_IF_ERROR(StepDone(db_, clear_credentials, "save credentials"));
    for (const core::Credential& credential : job.credentials.all()) {
      const auto target = static_cast<std::int64_t>(credential.target);
      const auto scheme = static_cast<std::int64_t>(credential.scheme);
      auto sealed =
          secrets_->Seal(PackCredential(credential), CredentialContext(id, target, scheme));
      if (!sealed) return sealed.error();
      Statement insert(db_,
                       "INSERT INTO credentials (job_id, target, scheme, implicit, sealed) "
                       "VALUES (?,?,?,?,?)");
      insert.Bind(1, id);
      insert.Bind(2, target);
      insert.Bind(3, scheme);
      insert.Bind(4, std::int64_t{credential.implicit ? 1 : 0});
      insert.BindBlob(5, *sealed);
      OPENBITS_RETURN_IF_ERROR(StepDone(db_, insert, "save credential"));
    }
    return Ok();
  };
  Status written = write();
  if (written) written = Exec("COMMIT");
  // A failed COMMIT (a full disk) may leave the transaction open: every later BEGIN would
  // fail, and the store would never recover when space returns.
  if (!written && !sqlite3_get_autocommit(db_)) (void)Exec("ROLLBACK");
  return written;
}

Status SqliteJobStore::MarkHeldJobs() {
  if (held_jobs_marked_) return Ok();
  OPENBITS_RETURN_IF_ERROR(WriteHeldJobsMarker(path_));
  held_jobs_marked_ = true;
  return Ok();
}

Status SqliteJobStore::SaveFileProgress(const Guid& job, std::uint32_t index,
                                        const core::JobFile& file) {
  std::lock_guard lock(mutex_);
  Statement update(db_,
                   "UPDATE files SET bytes_total = ?, bytes_committed = ?, etag = ?, "
                   "last_modified = ?, remote_mtime_us = ?, completed = ?, response_headers = ?, "
                   "delivery = ? WHERE job_id = ? AND idx = ?");
  if (!update.ok()) return SqliteError(db_, "prepare progress save");
  update.Bind(1, static_cast<std::int64_t>(file.bytes_total));
  update.Bind(2, static_cast<std::int64_t>(file.bytes_committed));
  update.Bind(3, file.validators.etag);
  update.Bind(4, file.validators.last_modified);
  update.Bind(5, file.remote_mtime_us);
  update.Bind(6, std::int64_t{file.completed ? 1 : 0});
  update.Bind(7, file.response_headers);
  update.Bind(8, static_cast<std::int64_t>(file.delivery));
  update.Bind(9, job.ToString());
  update.Bind(10, std::int64_t{index});
  return StepDone(db_, update, "save progress");
}

Result<std::map<std::uint32_t, core::AccountProxy>> SqliteJobStore::LoadAccountProxies() {
  std::lock_guard lock(mutex_);
  std::map<std::uint32_t, core::AccountProxy> accounts;
  Statement select(db_, "SELECT uid, mode, bypass, sealed FROM account_proxies");
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
  if (!proxy) {
    Statement remove(db_, "DELETE FROM account_proxies WHERE uid = ?");
    remove.Bind(1, std::int64_t{uid});
    return StepDone(db_, remove, "reset account proxy settings");
  }
  auto sealed = SealAccountProxy(*secrets_, uid, proxy->list, proxy->autoscript_url);
  if (!sealed) return sealed.error();
  Statement upsert(db_,
                   "INSERT OR REPLACE INTO account_proxies (uid, mode, list, bypass, "
                   "autoscript_url, sealed) VALUES (?,?,'',?,'',?)");
  upsert.Bind(1, std::int64_t{uid});
  upsert.Bind(2, static_cast<std::int64_t>(proxy->mode));
  upsert.Bind(3, proxy->bypass);
  upsert.BindBlob(4, *sealed);
  return StepDone(db_, upsert, "save account proxy settings");
}

Status SqliteJobStore::Remove(const Guid& job) {
  std::lock_guard lock(mutex_);
  Statement remove(db_, "DELETE FROM jobs WHERE id = ?");
  remove.Bind(1, job.ToString());
  return StepDone(db_, remove, "remove job");
}

}  // namespace openbits::store
