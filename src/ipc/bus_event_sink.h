// BusEventSink: core::EventSink on the bus. Called from any thread; hands each event to the
// bus thread, which sends the signal unicast to the owner's connections.
#pragma once

#include "core/ports.h"
#include "ipc/bus_loop.h"
#include "ipc/caller_registry.h"
#include "ipc/job_objects.h"

namespace openbits::ipc {

class BusEventSink : public core::EventSink {
 public:
  BusEventSink(BusLoop& loop, CallerRegistry& callers) : loop_(loop), callers_(callers) {}

  // The job subtree whose signals this sends. It needs the manager, which needs this sink,
  // so it comes second; events before it (none: the bus thread serves after both) are dropped.
  void Serve(JobObjects& objects) { objects_ = &objects; }

  void JobTransferred(const Guid& job, std::uint32_t owner_uid) override;
  void JobError(const Guid& job, std::uint32_t owner_uid, HRESULT code,
                ErrorContext context) override;
  void JobModified(const Guid& job, std::uint32_t owner_uid, JobState state) override;
  void FileTransferred(const Guid& job, std::uint32_t owner_uid, std::uint32_t file_index) override;
  void JobRemoved(const Guid& job) override;

 private:
  BusLoop& loop_;
  JobObjects* objects_ = nullptr;
  CallerRegistry& callers_;
};

}  // namespace openbits::ipc
