#include "core/state_machine.h"

#include <string>

namespace openbits::core {
namespace {

bool IsActive(JobState s) { return s == JobState::kConnecting || s == JobState::kTransferring; }

std::optional<JobState> Decide(JobState from, JobEvent event) {
  using S = JobState;
  if (IsFinalState(from)) return std::nullopt;
  switch (event) {
    case JobEvent::kResume:
      switch (from) {
        case S::kSuspended:
        case S::kError:
        case S::kTransientError:
        case S::kTransferred:  // only useful after AddFile; the job checks that
          return S::kQueued;
        default:
          return from;  // QUEUED, CONNECTING, TRANSFERRING: already running
      }
    case JobEvent::kSuspend:
      return S::kSuspended;
    case JobEvent::kCancel:
      return S::kCancelled;
    case JobEvent::kComplete:
      return S::kAcknowledged;
    case JobEvent::kStartTransfer:
      if (from == S::kQueued) return S::kConnecting;
      return std::nullopt;
    case JobEvent::kConnected:
      if (IsActive(from)) return S::kTransferring;
      return std::nullopt;
    case JobEvent::kAllTransferred:
      if (IsActive(from)) return S::kTransferred;
      return std::nullopt;
    case JobEvent::kTransientError:
      if (IsActive(from) || from == S::kQueued) return S::kTransientError;
      return std::nullopt;
    case JobEvent::kFatalError:
      if (IsActive(from) || from == S::kQueued || from == S::kTransientError) return S::kError;
      return std::nullopt;
    case JobEvent::kRetryDue:
      if (from == S::kTransientError) return S::kQueued;
      return std::nullopt;
    case JobEvent::kRecover:
      if (IsActive(from)) return S::kQueued;
      return from;
    case JobEvent::kYield:
      if (IsActive(from)) return S::kQueued;
      return std::nullopt;
    case JobEvent::kRejected:
      return S::kError;
  }
  return std::nullopt;
}

}  // namespace

std::string_view JobEventName(JobEvent event) {
  switch (event) {
    case JobEvent::kResume:
      return "Resume";
    case JobEvent::kSuspend:
      return "Suspend";
    case JobEvent::kCancel:
      return "Cancel";
    case JobEvent::kComplete:
      return "Complete";
    case JobEvent::kStartTransfer:
      return "StartTransfer";
    case JobEvent::kConnected:
      return "Connected";
    case JobEvent::kAllTransferred:
      return "AllTransferred";
    case JobEvent::kTransientError:
      return "TransientError";
    case JobEvent::kFatalError:
      return "FatalError";
    case JobEvent::kRetryDue:
      return "RetryDue";
    case JobEvent::kRecover:
      return "Recover";
    case JobEvent::kYield:
      return "Yield";
    case JobEvent::kRejected:
      return "Rejected";
  }
  return "Unknown";
}

Result<JobState> NextState(JobState from, JobEvent event) {
  if (auto to = Decide(from, event)) return *to;
  return Error::InvalidState(std::string(JobEventName(event)) + " is not allowed in state " +
                             std::string(JobStateName(from)));
}

}  // namespace openbits::core
