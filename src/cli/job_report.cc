#include "cli/job_report.h"

#include <cstdio>
#include <ctime>
#include <sstream>

#include "base/text.h"

namespace openbits::cli {

Result<JobReport> ReadJob(Job& job) {
  JobReport report;
  report.id = job.id();
  auto name = job.GetDisplayName();
  if (!name) return name.error();
  report.display_name = *name;
  auto description = job.GetDescription();
  auto type = job.GetType();
  auto state = job.GetState();
  auto owner = job.GetOwner();
  auto priority = job.GetPriority();
  auto progress = job.GetProgress();
  auto times = job.GetTimes();
  auto errors = job.GetErrorCount();
  auto delay = job.GetMinimumRetryDelay();
  auto timeout = job.GetNoProgressTimeout();
  auto files = job.EnumFiles();
  if (!description || !type || !state || !owner || !priority || !progress || !times || !errors ||
      !delay || !timeout || !files) {
    return Error::NotFound("the job disappeared while being read");
  }
  report.description = *description;
  report.type = *type;
  report.state = *state;
  report.owner = *owner;
  report.priority = *priority;
  report.progress = *progress;
  report.times = *times;
  report.error_count = *errors;
  report.minimum_retry_delay_s = *delay;
  report.no_progress_timeout_s = *timeout;
  report.files = std::move(*files);
  if (report.state == JobState::kError || report.state == JobState::kTransientError) {
    if (auto error = job.GetError()) report.error = *error;
  }
  return report;
}

std::string FormatSize(std::uint64_t bytes) {
  return bytes == kSizeUnknown ? "UNKNOWN" : std::to_string(bytes);
}

std::string FormatTime(std::int64_t us) {
  if (us == 0) return "UNKNOWN";
  const std::time_t seconds = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  localtime_r(&seconds, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &tm);
  return buffer;
}

namespace {

// A value from a job or a server, on one line and without control characters.
std::string Shown(std::string_view value) { return text::Printable(value); }

}  // namespace

std::string SummaryLine(const JobReport& r) {
  return r.id.ToString() + " '" + Shown(r.display_name) + "' " +
         std::string(JobStateName(r.state)) + " " + std::to_string(r.progress.files_transferred) +
         " / " + std::to_string(r.progress.files_total) + " " +
         std::to_string(r.progress.bytes_transferred) + " / " + FormatSize(r.progress.bytes_total);
}

std::string ErrorText(const JobErrorInfo& error, const std::vector<FileInfo>& files) {
  std::ostringstream out;
  if (error.file_index && *error.file_index < files.size()) {
    const FileInfo& file = files[*error.file_index];
    out << "ERROR FILE:    " << Shown(file.remote_url) << " -> " << Shown(file.local_name) << "\n";
  }
  out << "ERROR CODE:    " << FormatHresult(error.code);
  if (auto name = HresultName(error.code)) out << " (" << *name << ")";
  out << " - " << Shown(error.description) << "\n";
  out << "ERROR CONTEXT: " << FormatHresult(static_cast<HRESULT>(error.context)) << " - "
      << DescribeErrorContext(error.context) << "\n";
  return out.str();
}

std::string VerboseText(const JobReport& r) {
  std::ostringstream out;
  out << "GUID: " << r.id.ToString() << " DISPLAY: '" << Shown(r.display_name) << "'\n"
      << "TYPE: " << JobTypeName(r.type) << " STATE: " << JobStateName(r.state)
      << " OWNER: " << Shown(r.owner.name) << " (uid " << r.owner.uid << ")\n"
      << "PRIORITY: " << JobPriorityName(r.priority) << " FILES: " << r.progress.files_transferred
      << " / " << r.progress.files_total << " BYTES: " << r.progress.bytes_transferred << " / "
      << FormatSize(r.progress.bytes_total) << "\n"
      << "CREATION TIME: " << FormatTime(r.times.creation_us)
      << " MODIFICATION TIME: " << FormatTime(r.times.modification_us) << "\n"
      << "COMPLETION TIME: " << FormatTime(r.times.transfer_completion_us) << "\n"
      << "ERROR COUNT: " << r.error_count << "\n"
      << "MINIMUM RETRY DELAY: " << r.minimum_retry_delay_s
      << " NO PROGRESS TIMEOUT: " << r.no_progress_timeout_s << "\n"
      << "DESCRIPTION: " << Shown(r.description) << "\n";
  if (r.error) out << ErrorText(*r.error, r.files);
  out << "JOB FILES:\n";
  for (const FileInfo& file : r.files) {
    out << "\t" << file.bytes_transferred << " / " << FormatSize(file.bytes_total) << " "
        << (file.completed ? "COMPLETED" : "WORKING") << " " << Shown(file.remote_url) << " -> "
        << Shown(file.local_name) << "\n";
  }
  return out.str();
}

std::string JsonString(std::string_view value) {
  std::string out = "\"";
  for (std::size_t at = 0; at < value.size();) {
    const text::CodePoint point = text::DecodeUtf8(value, at);
    const unsigned char c = static_cast<unsigned char>(value[at]);
    at += point.length;
    if (point.value == text::kNotUtf8 || (point.value >= 0x7F && text::IsControl(point.value))) {
      // Not UTF-8 (JSON must be), or a control a terminal would act on: \uNNNN, U+FFFD for
      // bytes that are not UTF-8.
      char escaped[12];
      std::snprintf(escaped, sizeof escaped, "\\u%04x",
                    point.value == text::kNotUtf8 ? 0xFFFDu : static_cast<unsigned>(point.value));
      out += escaped;
      continue;
    }
    if (point.length > 1) {
      out.append(value.substr(at - point.length, point.length));
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char escaped[12];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

namespace {

std::string JsonSize(std::uint64_t bytes) {
  return bytes == kSizeUnknown ? "null" : std::to_string(bytes);
}

}  // namespace

std::string ToJson(const JobErrorInfo& error) {
  std::ostringstream out;
  out << "{\"hresult\":" << JsonString(FormatHresult(error.code))
      << ",\"name\":" << JsonString(HresultName(error.code).value_or(""))
      << ",\"context\":" << static_cast<std::uint32_t>(error.context)
      << ",\"file_index\":" << (error.file_index ? std::to_string(*error.file_index) : "null")
      << ",\"protocol\":" << JsonString(error.protocol)
      << ",\"description\":" << JsonString(error.description) << "}";
  return out.str();
}

std::string ToJson(const JobReport& r) {
  std::ostringstream out;
  out << "{\"id\":" << JsonString(r.id.ToString())
      << ",\"display_name\":" << JsonString(r.display_name)
      << ",\"description\":" << JsonString(r.description)
      << ",\"type\":" << JsonString(JobTypeName(r.type))
      << ",\"state\":" << JsonString(JobStateName(r.state)) << ",\"owner\":{\"uid\":" << r.owner.uid
      << ",\"name\":" << JsonString(r.owner.name) << "}"
      << ",\"priority\":" << JsonString(JobPriorityName(r.priority))
      << ",\"bytes_total\":" << JsonSize(r.progress.bytes_total)
      << ",\"bytes_transferred\":" << r.progress.bytes_transferred
      << ",\"files_total\":" << r.progress.files_total
      << ",\"files_transferred\":" << r.progress.files_transferred
      << ",\"creation_time_us\":" << r.times.creation_us
      << ",\"modification_time_us\":" << r.times.modification_us
      << ",\"completion_time_us\":" << r.times.transfer_completion_us
      << ",\"error_count\":" << r.error_count
      << ",\"minimum_retry_delay_s\":" << r.minimum_retry_delay_s
      << ",\"no_progress_timeout_s\":" << r.no_progress_timeout_s
      << ",\"error\":" << (r.error ? ToJson(*r.error) : "null") << ",\"files\":[";
  for (std::size_t i = 0; i < r.files.size(); ++i) {
    const FileInfo& f = r.files[i];
    out << (i ? "," : "") << "{\"remote_url\":" << JsonString(f.remote_url)
        << ",\"local_name\":" << JsonString(f.local_name)
        << ",\"bytes_total\":" << JsonSize(f.bytes_total)
        << ",\"bytes_transferred\":" << f.bytes_transferred
        << ",\"completed\":" << (f.completed ? "true" : "false") << "}";
  }
  out << "]}";
  return out.str();
}

}  // namespace openbits::cli
