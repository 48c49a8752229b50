// What bitsadmin shows about a job: one snapshot read over D-Bus, printed as the Windows
// bitsadmin prints it, or as JSON (--json) for scripts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "openbits/client.h"

namespace openbits::cli {

struct JobReport {
  Guid id;
  std::string display_name;
  std::string description;
  JobType type = JobType::kDownload;
  JobState state = JobState::kSuspended;
  JobOwner owner;
  JobPriority priority = JobPriority::kNormal;
  JobProgress progress;
  JobTimes times;
  std::uint32_t error_count = 0;
  std::uint32_t minimum_retry_delay_s = 0;
  std::uint32_t no_progress_timeout_s = 0;
  std::optional<JobErrorInfo> error;  // in ERROR and TRANSIENT_ERROR
  std::vector<FileInfo> files;
};

// BG_E_NOT_FOUND when the job went away while being read.
Result<JobReport> ReadJob(Job& job);

std::string FormatSize(std::uint64_t bytes);  // "UNKNOWN" for BG_SIZE_UNKNOWN
std::string FormatTime(std::int64_t us);      // local time, "UNKNOWN" for 0

// "{GUID} 'name' STATE files / total bytes / total", as bitsadmin /list prints it.
std::string SummaryLine(const JobReport& report);
std::string SummaryLine(const JobSummary& summary);
// bitsadmin /info /verbose.
std::string VerboseText(const JobReport& report);
// ERROR FILE / ERROR CODE / ERROR CONTEXT lines.
std::string ErrorText(const JobErrorInfo& error, const std::vector<FileInfo>& files);
// One JSON object with every field above (times in microseconds since the epoch).
std::string ToJson(const JobReport& report);
// The fields of a summary (/list without /verbose), named as in the report's object.
std::string ToJson(const JobSummary& summary);
std::string ToJson(const JobErrorInfo& error);
std::string JsonString(std::string_view text);

}  // namespace openbits::cli
