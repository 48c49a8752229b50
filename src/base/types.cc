#include "openbits/types.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace openbits {

std::string_view JobStateName(JobState state) {
  switch (state) {
    case JobState::kQueued:
      return "QUEUED";
    case JobState::kConnecting:
      return "CONNECTING";
    case JobState::kTransferring:
      return "TRANSFERRING";
    case JobState::kSuspended:
      return "SUSPENDED";
    case JobState::kError:
      return "ERROR";
    case JobState::kTransientError:
      return "TRANSIENT_ERROR";
    case JobState::kTransferred:
      return "TRANSFERRED";
    case JobState::kAcknowledged:
      return "ACKNOWLEDGED";
    case JobState::kCancelled:
      return "CANCELLED";
  }
  return "UNKNOWN";
}

std::string_view JobPriorityName(JobPriority priority) {
  switch (priority) {
    case JobPriority::kForeground:
      return "FOREGROUND";
    case JobPriority::kHigh:
      return "HIGH";
    case JobPriority::kNormal:
      return "NORMAL";
    case JobPriority::kLow:
      return "LOW";
  }
  return "UNKNOWN";
}

std::string_view JobTypeName(JobType type) {
  switch (type) {
    case JobType::kDownload:
      return "DOWNLOAD";
    case JobType::kUpload:
      return "UPLOAD";
    case JobType::kUploadReply:
      return "UPLOAD-REPLY";
  }
  return "UNKNOWN";
}

std::optional<JobPriority> ParseJobPriority(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (JobPriority p :
       {JobPriority::kForeground, JobPriority::kHigh, JobPriority::kNormal, JobPriority::kLow}) {
    if (JobPriorityName(p) == upper) return p;
  }
  return std::nullopt;
}

bool IsFinalState(JobState state) {
  return state == JobState::kAcknowledged || state == JobState::kCancelled;
}

}  // namespace openbits
