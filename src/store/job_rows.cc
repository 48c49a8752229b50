#include "store/job_rows.h"

#include <functional>

namespace openbits::store {
namespace {

// Binds values to consecutive parameters.
class Binder {
 public:
  Binder(CachedStatement& statement, int first) : statement_(statement), next_(first) {}
  void Int(std::int64_t value) { statement_.Bind(next_++, value); }
  void Text(std::string_view text) { statement_.Bind(next_++, text); }
  void Null() { statement_.BindNull(next_++); }
  int next() const { return next_; }

 private:
  CachedStatement& statement_;
  int next_;
};

// Hashes values in order (their lengths too, so that "ab","c" differs from "a","bc").
class Hasher {
 public:
  void Int(std::int64_t value) { Mix(static_cast<std::uint64_t>(value)); }
  void Text(std::string_view text) {
    Mix(text.size());
    Mix(std::hash<std::string_view>{}(text));
  }
  void Null() { Mix(0x9e3779b97f4a7c15ull); }
  std::uint64_t value() const { return state_; }

 private:
  // splitmix64's finalizer over the running state.
  void Mix(std::uint64_t value) {
    std::uint64_t z = state_ ^ (value + 0x9e3779b97f4a7c15ull + (state_ << 6) + (state_ >> 2));
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    state_ = z ^ (z >> 31);
  }
  std::uint64_t state_ = 0x6a09e667f3bcc909ull;
};

// The kJobColumns of `job`, in order.
template <typename Sink>
void JobColumns(const core::Job& job, Sink& sink) {
  sink.Int(job.owner_uid);
  sink.Int(job.owner_gid);
  sink.Text(job.display_name);
  sink.Text(job.description);
  sink.Int(static_cast<std::int64_t>(job.type));
  sink.Int(static_cast<std::int64_t>(job.priority));
  sink.Int(static_cast<std::int64_t>(job.state));
  if (job.error) {
    sink.Int(job.error->code);
    sink.Int(static_cast<std::int64_t>(job.error->context));
    if (job.error->file_index) {
      sink.Int(*job.error->file_index);
    } else {
      sink.Null();
    }
    sink.Text(job.error->message);
  } else {
    for (int i = 0; i < 4; ++i) sink.Null();
  }
  sink.Int(job.error_count);
  sink.Int(job.minimum_retry_delay_s);
  sink.Int(job.no_progress_timeout_s);
  sink.Int(job.times.creation_us);
  sink.Int(job.times.modification_us);
  sink.Int(job.times.transfer_completion_us);
  sink.Int(job.last_progress_us);
  sink.Int(job.retry_at_us);
  sink.Int(job.notify_flags);
  if (job.notify_command) {
    sink.Text(job.notify_command->program);
    sink.Text(job.notify_command->parameters);
    sink.Int(job.notify_command->uid);
    sink.Int(job.notify_command->gid);
  } else {
    for (int i = 0; i < 4; ++i) sink.Null();
  }
  sink.Int(job.minimum_notification_interval_ms);
  sink.Int(job.security_flags);
  sink.Int(job.maximum_download_time_s);
  sink.Int(job.transfer_time_us);
  sink.Int(job.custom_headers_write_only ? 1 : 0);
  sink.Text(job.http_method);
  sink.Int(job.dynamic_content ? 1 : 0);
  sink.Int(job.high_performance ? 1 : 0);
  sink.Int(static_cast<std::int64_t>(job.max_download_size));
  sink.Int(job.resumed_once ? 1 : 0);
  if (job.client_certificate) {
    sink.Int(job.client_certificate->location);
    sink.Text(job.client_certificate->store);
    sink.Text(job.client_certificate->sha1);
    sink.Text(job.client_certificate->subject);
  } else {
    for (int i = 0; i < 4; ++i) sink.Null();
  }
  sink.Int(static_cast<std::int64_t>(job.proxy.usage));
  sink.Text(job.proxy.bypass);
  sink.Int(job.parallel_files);
}

template <typename Sink>
void FileIdentity(const core::JobFile& file, Sink& sink) {
  sink.Text(file.remote_url);
  sink.Text(file.local_path);
  sink.Text(file.temp_path);
  if (file.validation_state) {
    sink.Int(*file.validation_state ? 1 : 0);
  } else {
    sink.Null();
  }
  sink.Text(EncodeRanges(file.ranges));
  sink.Int(file.mode);
}

template <typename Sink>
void FileProgress(const core::JobFile& file, Sink& sink) {
  sink.Int(static_cast<std::int64_t>(file.bytes_total));
  sink.Int(static_cast<std::int64_t>(file.bytes_committed));
  sink.Text(file.validators.etag);
  sink.Text(file.validators.last_modified);
  sink.Int(file.remote_mtime_us);
  sink.Int(file.completed ? 1 : 0);
  sink.Text(file.response_headers);
  sink.Int(static_cast<std::int64_t>(file.delivery));
}

// "a = ?, b = ?" of a column list.
std::string Assignments(std::string_view columns) {
  std::string text;
  std::size_t start = 0;
  while (start < columns.size()) {
    std::size_t end = columns.find(',', start);
    if (end == std::string_view::npos) end = columns.size();
    if (!text.empty()) text += ", ";
    text += std::string(columns.substr(start, end - start)) + " = ?";
    start = end + 1;
    while (start < columns.size() && columns[start] == ' ') ++start;
  }
  return text;
}

std::string Placeholders(int count) {
  std::string text;
  for (int i = 0; i < count; ++i) text += i ? ", ?" : "?";
  return text;
}

}  // namespace

const JobSql& Sql() {
  static const JobSql sql = [] {
    const std::string job_columns = kJobColumns;
    const std::string file_columns =
        std::string(kFileIdentityColumns) + ", " + kFileProgressColumns;
    JobSql built;
    built.insert_job = "INSERT OR REPLACE INTO jobs (id, " + job_columns +
                       ", custom_headers, proxy_sealed, helper_sealed) VALUES (" +
                       Placeholders(kJobColumnCount + 4) + ")";
    built.update_job = "UPDATE jobs SET " + Assignments(kJobColumns) + " WHERE id = ?";
    built.select_jobs = "SELECT id, " + job_columns +
                        ", custom_headers, proxy_sealed, helper_sealed FROM jobs "
                        "ORDER BY creation_us";
    built.insert_file = "INSERT INTO files (job_id, idx, " + file_columns + ") VALUES (" +
                        Placeholders(2 + kFileIdentityColumnCount + kFileProgressColumnCount) + ")";
    built.update_file =
        "UPDATE files SET " + Assignments(file_columns) + " WHERE job_id = ? AND idx = ?";
    built.update_progress =
        "UPDATE files SET " + Assignments(kFileProgressColumns) + " WHERE job_id = ? AND idx = ?";
    built.select_files = "SELECT job_id, idx, " + file_columns + " FROM files ORDER BY job_id, idx";
    const std::string job_select =
        "SELECT id, " + job_columns + ", custom_headers, proxy_sealed, helper_sealed FROM jobs ";
    built.select_job = job_select + "WHERE id = ?";
    built.select_job_files =
        "SELECT job_id, idx, " + file_columns + " FROM files WHERE job_id = ? ORDER BY idx";
    const std::string credential_select =
        "SELECT job_id, target, scheme, implicit, sealed FROM credentials ";
    built.select_credentials = credential_select + "ORDER BY job_id, target, scheme";
    built.select_job_credentials = credential_select + "WHERE job_id = ? ORDER BY target, scheme";
    return built;
  }();
  return sql;
}

int BindJobColumns(CachedStatement& statement, int first, const core::Job& job) {
  Binder binder(statement, first);
  JobColumns(job, binder);
  return binder.next();
}

int BindFileIdentity(CachedStatement& statement, int first, const core::JobFile& file) {
  Binder binder(statement, first);
  FileIdentity(file, binder);
  return binder.next();
}

int BindFileProgress(CachedStatement& statement, int first, const core::JobFile& file) {
  Binder binder(statement, first);
  FileProgress(file, binder);
  return binder.next();
}

void ReadJobColumns(const CachedStatement& row, int first, core::Job& job) {
  int c = first;
  job.owner_uid = static_cast<std::uint32_t>(row.Int(c++));
  job.owner_gid = static_cast<std::uint32_t>(row.Int(c++));
  job.display_name = row.Text(c++);
  job.description = row.Text(c++);
  job.type = static_cast<JobType>(row.Int(c++));
  job.priority = static_cast<JobPriority>(row.Int(c++));
  job.state = static_cast<JobState>(row.Int(c++));
  if (!row.IsNull(c)) {
    core::JobError error;
    error.code = static_cast<HRESULT>(row.Int(c));
    error.context = static_cast<ErrorContext>(row.Int(c + 1));
    if (!row.IsNull(c + 2)) error.file_index = static_cast<std::uint32_t>(row.Int(c + 2));
    error.message = row.Text(c + 3);
    job.error = std::move(error);
  }
  c += 4;
  job.error_count = static_cast<std::uint32_t>(row.Int(c++));
  job.minimum_retry_delay_s = static_cast<std::uint32_t>(row.Int(c++));
  job.no_progress_timeout_s = static_cast<std::uint32_t>(row.Int(c++));
  job.times.creation_us = row.Int(c++);
  job.times.modification_us = row.Int(c++);
  job.times.transfer_completion_us = row.Int(c++);
  job.last_progress_us = row.Int(c++);
  job.retry_at_us = row.Int(c++);
  job.notify_flags = static_cast<std::uint32_t>(row.Int(c++));
  if (!row.IsNull(c)) {
    job.notify_command = core::NotifyCommand{row.Text(c), row.Text(c + 1),
                                             static_cast<std::uint32_t>(row.Int(c + 2)),
                                             static_cast<std::uint32_t>(row.Int(c + 3))};
  }
  c += 4;
  job.minimum_notification_interval_ms = static_cast<std::uint32_t>(row.Int(c++));
  job.security_flags = static_cast<std::uint32_t>(row.Int(c++));
  job.maximum_download_time_s = static_cast<std::uint32_t>(row.Int(c++));
  job.transfer_time_us = row.Int(c++);
  job.custom_headers_write_only = row.Int(c++) != 0;
  job.http_method = row.Text(c++);
  job.dynamic_content = row.Int(c++) != 0;
  job.high_performance = row.Int(c++) != 0;
  job.max_download_size = static_cast<std::uint64_t>(row.Int(c++));
  job.resumed_once = row.Int(c++) != 0;
  if (!row.IsNull(c)) {
    job.client_certificate = core::ClientCertificateRef{
        static_cast<std::uint32_t>(row.Int(c)), row.Text(c + 1), row.Text(c + 2), row.Text(c + 3)};
  }
  c += 4;
  job.proxy = {static_cast<ProxyUsage>(row.Int(c)), "", row.Text(c + 1)};
  c += 2;
  job.parallel_files = static_cast<std::uint32_t>(row.Int(c++));
}

void ReadFileIdentity(const CachedStatement& row, int first, core::JobFile& file) {
  file.remote_url = row.Text(first);
  file.local_path = row.Text(first + 1);
  file.temp_path = row.Text(first + 2);
  if (!row.IsNull(first + 3)) file.validation_state = row.Int(first + 3) != 0;
  file.ranges = DecodeRanges(row.TextView(first + 4));
  file.mode = static_cast<std::uint32_t>(row.Int(first + 5)) & 0777;
}

void ReadFileProgress(const CachedStatement& row, int first, core::JobFile& file) {
  file.bytes_total = static_cast<std::uint64_t>(row.Int(first));
  file.bytes_committed = static_cast<std::uint64_t>(row.Int(first + 1));
  file.bytes_transferred = file.bytes_committed;
  file.validators.etag = row.Text(first + 2);
  file.validators.last_modified = row.Text(first + 3);
  file.remote_mtime_us = row.Int(first + 4);
  file.completed = row.Int(first + 5) != 0;
  file.response_headers = row.Text(first + 6);
  const std::int64_t delivery = row.Int(first + 7);
  file.delivery = delivery == 2   ? core::Delivery::kDone
                  : delivery == 1 ? core::Delivery::kRenaming
                                  : core::Delivery::kNone;
}

FileImage ImageOf(const core::JobFile& file) {
  Hasher identity;
  FileIdentity(file, identity);
  Hasher progress;
  FileProgress(file, progress);
  return {identity.value(), progress.value()};
}

JobImage ImageOf(const core::Job& job) {
  JobImage image;
  Hasher columns;
  JobColumns(job, columns);
  image.columns = columns.value();
  Hasher headers;
  headers.Text(job.custom_headers.reveal());
  image.custom_headers = headers.value();
  Hasher proxy;
  proxy.Text(job.proxy.list);
  for (const auto& [name, value] : job.proxy_environment) {
    proxy.Text(name);
    proxy.Text(value);
  }
  image.proxy = proxy.value();
  Hasher helper;
  if (job.helper.identity) {
    helper.Int(job.helper.identity->uid);
    helper.Int(job.helper.identity->gid);
    helper.Int(job.helper.identity->is_admin ? 1 : 0);
    helper.Text(job.helper.identity->credential_cache);
  } else {
    helper.Null();
  }
  helper.Int(job.helper.flags);
  // USE_STORED_CREDENTIALS travels in the same sealed column as the binding.
  helper.Int(job.helper.stored_credentials);
  image.helper = helper.value();
  Hasher credentials;
  for (const core::Credential& credential : job.credentials.all()) {
    credentials.Int(static_cast<std::int64_t>(credential.target));
    credentials.Int(static_cast<std::int64_t>(credential.scheme));
    credentials.Int(credential.implicit ? 1 : 0);
    credentials.Text(credential.user.reveal());
    credentials.Text(credential.password.reveal());
    credentials.Text(credential.credential_cache);
    credentials.Text(credential.ntlm_user_file);
  }
  image.credentials = credentials.value();
  image.files.reserve(job.files.size());
  for (const core::JobFile& file : job.files) image.files.push_back(ImageOf(file));
  return image;
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

std::vector<core::FileRange> DecodeRanges(std::string_view text) {
  std::vector<core::FileRange> ranges;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string item(text.substr(start, end - start));
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

}  // namespace openbits::store
