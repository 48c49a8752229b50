// How a job maps onto its rows: the columns of `jobs` and `files` in one order for the SQL
// text, the binding, the reading and the images, so that the four cannot drift apart; and the
// images (hashes of column groups) by which the store writes only what changed. Schema:
// docs/storage-schema.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/job.h"
#include "store/statement_cache.h"

namespace openbits::store {

// jobs: the columns written in the clear, after `id` (the sealed ones come separately).
inline constexpr const char* kJobColumns =
    "owner_uid, owner_gid, display_name, description, type, priority, state, error_code, "
    "error_context, error_file, error_message, error_count, minimum_retry_delay_s, "
    "no_progress_timeout_s, creation_us, modification_us, transfer_completion_us, "
    "last_progress_us, retry_at_us, notify_flags, notify_program, notify_parameters, notify_uid, "
    "notify_gid, notification_interval_ms, security_flags, maximum_download_time_s, "
    "transfer_time_us, custom_headers_write_only, http_method, dynamic_content, "
    "high_performance, max_download_size, resumed_once, client_cert_location, "
    "client_cert_store, client_cert_sha1, client_cert_subject, proxy_usage, proxy_bypass, "
    "parallel_files";
inline constexpr int kJobColumnCount = 41;
// files: what AddFile fixed (changes rarely: a redirect reported, a TakeOwnership).
inline constexpr const char* kFileIdentityColumns =
    "remote_url, local_path, temp_path, validation_state, ranges, mode";
inline constexpr int kFileIdentityColumnCount = 6;
// files: what a transfer checkpoints (SaveFileProgress) and Complete's delivery.
inline constexpr const char* kFileProgressColumns =
    "bytes_total, bytes_committed, etag, last_modified, remote_mtime_us, completed, "
    "response_headers, delivery";
inline constexpr int kFileProgressColumnCount = 8;

// The statements, built once from the lists above. Their addresses key the statement cache.
struct JobSql {
  std::string insert_job;          // id, kJobColumns, custom_headers, proxy_sealed, helper_sealed
  std::string update_job;          // kJobColumns = ?, WHERE id = ?
  std::string select_jobs;         // id, kJobColumns, custom_headers, proxy_sealed, helper_sealed
  std::string insert_file;         // job_id, idx, identity, progress
  std::string update_file;         // identity = ?, progress = ?, WHERE job_id = ? AND idx = ?
  std::string update_progress;     // progress = ?, WHERE job_id = ? AND idx = ?
  std::string select_files;        // job_id, idx, identity, progress; in job and index order
  std::string select_job;          // select_jobs of one job: WHERE id = ?
  std::string select_job_files;    // select_files of one job: WHERE job_id = ?, in index order
  std::string select_credentials;  // job_id, target, scheme, implicit, sealed
  std::string select_job_credentials;  // the same of one job: WHERE job_id = ?
};
const JobSql& Sql();

// Binds the columns from `first` on, in the order of the lists; returns the next index.
int BindJobColumns(CachedStatement& statement, int first, const core::Job& job);
int BindFileIdentity(CachedStatement& statement, int first, const core::JobFile& file);
int BindFileProgress(CachedStatement& statement, int first, const core::JobFile& file);
// Reads them back from column `first` on.
void ReadJobColumns(const CachedStatement& row, int first, core::Job& job);
void ReadFileIdentity(const CachedStatement& row, int first, core::JobFile& file);
void ReadFileProgress(const CachedStatement& row, int first, core::JobFile& file);

// What the store last wrote of a job, as hashes of its column groups (a few bytes per job and
// file instead of a copy). A group whose hash changed is written again; nullopt: unknown
// (e.g. a secret that could not be opened), written at the next Save.
struct FileImage {
  std::uint64_t identity = 0;
  std::uint64_t progress = 0;
  bool operator==(const FileImage&) const = default;
};
struct JobImage {
  std::uint64_t columns = 0;
  std::optional<std::uint64_t> custom_headers;
  std::optional<std::uint64_t> proxy;
  std::optional<std::uint64_t> helper;
  std::optional<std::uint64_t> credentials;
  std::vector<FileImage> files;
};
JobImage ImageOf(const core::Job& job);
FileImage ImageOf(const core::JobFile& file);

// files.ranges: "offset:length,..." with "eof" for BG_LENGTH_TO_EOF.
std::string EncodeRanges(const std::vector<core::FileRange>& ranges);
std::vector<core::FileRange> DecodeRanges(std::string_view text);

}  // namespace openbits::store
