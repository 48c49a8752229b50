// What a paged listing of the queue returns (JobManager::ListJobs): per job what
// `bitsadmin /list` shows, in a stable order, a page at a time.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "openbits/guid.h"
#include "openbits/types.h"

namespace openbits::core {

// The most jobs one page holds, whatever the caller asks: a page is built under the queue's
// lock and sent as one bus message, so both stay small however large the queue is.
inline constexpr std::size_t kMaxJobListPage = 1000;

// A job's place in the listing order: creation time, then GUID. Neither changes during a
// job's life, so a position stays meaningful while other jobs come and go: a listing that
// resumes after it lists each job that existed throughout exactly once.
struct JobListPosition {
  std::int64_t creation_us = 0;
  Guid id;
  friend auto operator<=>(const JobListPosition&, const JobListPosition&) = default;
  friend bool operator==(const JobListPosition&, const JobListPosition&) = default;
};

struct JobSummary {
  Guid id;
  std::string display_name;
  JobType type = JobType::kDownload;
  JobState state = JobState::kSuspended;
  JobPriority priority = JobPriority::kNormal;
  std::uint32_t owner_uid = 0;
  JobProgress progress;
  std::int64_t creation_us = 0;
};

struct JobListPage {
  std::vector<JobSummary> jobs;  // in listing order
  // Where the next page starts (after this position); nullopt when this page is the last.
  std::optional<JobListPosition> next;
};

}  // namespace openbits::core
