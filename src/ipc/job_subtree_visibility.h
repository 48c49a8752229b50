// JobSubtreeVisibility: what the bus shows of the job subtree, per caller. Every job path is
// served by one fallback handler (JobObjects), so sd-bus would answer Introspect, Properties
// and Peer on any well-formed job path, confirming to anyone that a job exists there, and
// would list nothing under /org/openbits/bits1/job. This installs
// - a node enumerator: Introspect of /org/openbits/bits1/job lists the caller's own jobs (an
//   administrator's: all), and nobody else's GUIDs (a GUID is the handle every call needs);
// - a message filter, the gate of every call on a job path, whatever the interface: a path
//   the caller may not see, whether a job is there or not, gets the manager's BG_E_NOT_FOUND,
//   so that the bus does not even confirm that someone else's job exists. It is a filter
//   because sd-bus answers org.freedesktop.DBus.Peer itself, before any object's callbacks.
// Bus thread only.
#pragma once

#include <systemd/sd-bus.h>

#include <string_view>

#include "core/job_manager.h"
#include "ipc/caller_registry.h"

namespace sdbus {
class IConnection;
}

namespace openbits::ipc {

class JobSubtreeVisibility {
 public:
  // Installs the filter and the enumerator on `connection`'s bus; removed on destruction.
  JobSubtreeVisibility(sdbus::IConnection& connection, const core::JobManager& manager,
                       CallerRegistry& callers);
  ~JobSubtreeVisibility();
  JobSubtreeVisibility(const JobSubtreeVisibility&) = delete;
  JobSubtreeVisibility& operator=(const JobSubtreeVisibility&) = delete;

 private:
  static int Filter(sd_bus_message* message, void* self, sd_bus_error* error);
  static int Enumerate(sd_bus* bus, const char* prefix, void* self, char*** nodes,
                       sd_bus_error* error);
  // Answers a method call on the job path `path` the caller may not see, or returns 0 to
  // leave it to sd-bus and the job handler.
  int Gate(sd_bus_message* message, std::string_view path);

  const core::JobManager& manager_;
  CallerRegistry& callers_;
  sd_bus_slot* filter_slot_ = nullptr;
  sd_bus_slot* enumerator_slot_ = nullptr;
};

}  // namespace openbits::ipc
