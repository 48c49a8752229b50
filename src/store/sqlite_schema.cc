#include "store/sqlite_schema.h"

#include <array>
#include <utility>

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

// Version 14: OPENBITS_JOB_PROPERTY_PARALLEL_FILES (0: the daemon's [engine] parallel_files).
constexpr const char* kMigrationV14 =
    "ALTER TABLE jobs ADD COLUMN parallel_files INTEGER NOT NULL DEFAULT 0;";

// One step per version, in order; the last one is the current version.
constexpr std::array<std::pair<int, const char*>, 14> kMigrations = {{{1, kSchemaV1},
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
                                                                      {13, kMigrationV13},
                                                                      {14, kMigrationV14}}};
static_assert(kMigrations[kProxySealingVersion - 1].second == kMigrationV11);
static_assert(kMigrations.back().first == kSchemaVersion);

}  // namespace

Status Migrate(sqlite3* db, const std::string& path, int from, int to, const SecretBox& secrets) {
  for (const auto& [target, sql] : kMigrations) {
    if (from >= target || target > to) continue;
    OPENBITS_RETURN_IF_ERROR(ExecOn(db, "BEGIN IMMEDIATE"));
    Status migrated = ExecOn(db, sql);
    if (migrated && target == kProxySealingVersion) {
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
    if (from > 0) log::Get("store")->info("Migrated job database {} to schema {}", path, target);
  }
  return Ok();
}

Error NewerSchema(const std::string& path, int version) {
  return Error(hr::E_FAIL, ErrorContext::kGeneralQueueManager,
               "the job database " + path + " has schema version " + std::to_string(version) +
                   ", newer than this bitsd understands (" + std::to_string(kSchemaVersion) + ")");
}

}  // namespace openbits::store
