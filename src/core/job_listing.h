// What a paged listing of the queue returns (JobManager::ListJobs): per job what
// `bitsadmin /list` shows, a page at a time.
//
// Pages follow GUID order, which the queue is keyed by: a job's GUID never changes, so "after
// this GUID" stays a valid position while other jobs come and go (a listing lists every job
// that exists throughout exactly once, and never one twice), and a page costs a lookup plus
// the jobs it returns, so a listing of N jobs costs O(N) whatever the page size. (Creation
// order would need a second index kept up to date on every creation and removal; clients that
// show jobs in creation order sort the summaries, which carry the creation time.)
#pragma once

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
  // Where the next page starts (after this job); nullopt when this page is the last.
  std::optional<Guid> next;
};

}  // namespace openbits::core
