// JobObjects: the job subtree on the bus. Every job, however many the queue holds, is served
// by one handler (JobAdaptor on a FallbackObject under /org/openbits/bits1/job): nothing is
// registered per job, so 100,000 jobs cost the bus nothing and a new job is callable as soon
// as the manager knows it. JobSubtreeVisibility decides who sees which job. Bus thread only.
#pragma once

#include "ipc/fallback_object.h"
#include "ipc/job_adaptor.h"
#include "ipc/job_paths.h"
#include "ipc/job_subtree_visibility.h"
#include "ipc/slow_calls.h"

namespace openbits::ipc {

class JobObjects {
 public:
  // Complete and Cancel answer through `loop` (SlowCalls).
  JobObjects(sdbus::IConnection& connection, core::JobManager& manager, CallerRegistry& callers,
             BusLoop& loop)
      : slow_calls_(loop, kSlowCallThreads),
        visibility_(connection, manager, callers),
        object_(connection, std::string(kJobSubtree),
                [](std::string_view path) { return JobIdOfPath(path).has_value(); }),
        handler_(object_, manager, callers, slow_calls_) {
    object_.finishRegistration();
  }

  // The handler of every job path, which also sends the jobs' signals.
  JobAdaptor& Handler() { return handler_; }

 private:
  // Complete and Cancel at once: enough to share the store's syncs and the disks' latency;
  // each mostly waits on I/O.
  static constexpr std::size_t kSlowCallThreads = 4;

  // First in, last out: its workers finish (with the manager still there) after the
  // handler that hands them work is gone.
  SlowCalls slow_calls_;
  JobSubtreeVisibility visibility_;
  FallbackObject object_;
  JobAdaptor handler_;
};

}  // namespace openbits::ipc
