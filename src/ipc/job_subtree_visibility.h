// JobSubtreeVisibility: what the bus shows of the job subtree, per caller. sd-bus would list
// every registered job object under /org/openbits/bits1/job to anyone who introspects it,
// handing out the GUIDs of other users' jobs, and would answer Properties and Peer calls on
// any of them. This answers Introspect of the subtree itself with the caller's own jobs (an
// administrator's: all), and any call on a job path the caller may not see, whether a job is
// there or not, with the manager's BG_E_NOT_FOUND, so that the bus does not even confirm that
// someone else's job exists. Bus thread only.
//
// It is an sd-bus message filter, since sdbus-c++ 1.2.0 has no hook before sd-bus's built-in
// interfaces. The job objects themselves are still one registered object per job; serving
// them from one fallback vtable and node enumerator would make the filter unnecessary.
#pragma once

#include <systemd/sd-bus.h>

#include "core/job_manager.h"
#include "ipc/caller_registry.h"

namespace sdbus {
class IConnection;
}

namespace openbits::ipc {

class JobSubtreeVisibility {
 public:
  // Installs the filter on `connection`'s bus; removed on destruction.
  JobSubtreeVisibility(sdbus::IConnection& connection, const core::JobManager& manager,
                       CallerRegistry& callers);
  ~JobSubtreeVisibility();
  JobSubtreeVisibility(const JobSubtreeVisibility&) = delete;
  JobSubtreeVisibility& operator=(const JobSubtreeVisibility&) = delete;

 private:
  static int Filter(sd_bus_message* message, void* self, sd_bus_error* error);
  // Answers a method call on `path` (in the subtree) itself, or returns 0 to leave it to
  // sd-bus and the job's adaptor.
  int Answer(sd_bus_message* message, std::string_view path);
  int ReplyWithCallersJobs(sd_bus_message* message);

  const core::JobManager& manager_;
  CallerRegistry& callers_;
  sd_bus_slot* slot_ = nullptr;
};

}  // namespace openbits::ipc
