// The BITS job state machine (bits-reference.md 3.1): one pure function decides every
// transition, so the whole matrix can be tested as a table.
#pragma once

#include <string_view>

#include "openbits/result.h"
#include "openbits/types.h"

namespace openbits::core {

// What happened to a job. API calls first, then what the scheduler and transfers report.
enum class JobEvent {
  kResume,          // Resume(): SUSPENDED/ERROR/TRANSIENT_ERROR/TRANSFERRED -> QUEUED
  kSuspend,         // Suspend(): any non-final -> SUSPENDED
  kCancel,          // Cancel(): any non-final -> CANCELLED
  kComplete,        // Complete(): any non-final -> ACKNOWLEDGED
  kStartTransfer,   // scheduler picked the job: QUEUED -> CONNECTING
  kConnected,       // a server accepted a request: CONNECTING -> TRANSFERRING
  kAllTransferred,  // last file done: CONNECTING/TRANSFERRING -> TRANSFERRED
  kTransientError,  // recoverable failure -> TRANSIENT_ERROR
  kFatalError,      // unrecoverable failure -> ERROR
  kRetryDue,        // MinimumRetryDelay elapsed: TRANSIENT_ERROR -> QUEUED
  kRecover,         // daemon restarted while active: CONNECTING/TRANSFERRING -> QUEUED
  kYield,           // pre-empted or time slice over: CONNECTING/TRANSFERRING -> QUEUED
  kRejected,        // SetValidationState(FALSE) on a transferred file: any non-final -> ERROR
};

std::string_view JobEventName(JobEvent event);

// The state after `event` in state `from`, or BG_E_INVALID_STATE when the event is not allowed
// there. Preconditions that need more than the state (BG_E_EMPTY for a Resume without files)
// are the caller's.
Result<JobState> NextState(JobState from, JobEvent event);

}  // namespace openbits::core
