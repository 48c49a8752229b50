#include "ipc/bus_event_sink.h"

namespace openbits::ipc {

void BusEventSink::JobTransferred(const Guid& job, std::uint32_t owner_uid) {
  loop_.Post([this, job, owner_uid] {
    if (objects_) objects_->Handler().SendJobTransferred(job, callers_.ConnectionsOf(owner_uid));
  });
}

void BusEventSink::JobError(const Guid& job, std::uint32_t owner_uid, HRESULT code,
                            ErrorContext context) {
  loop_.Post([this, job, owner_uid, code, context] {
    if (objects_)
      objects_->Handler().SendJobError(job, callers_.ConnectionsOf(owner_uid), code, context);
  });
}

void BusEventSink::JobModified(const Guid& job, std::uint32_t owner_uid, JobState state) {
  loop_.Post([this, job, owner_uid, state] {
    if (objects_)
      objects_->Handler().SendJobModification(job, callers_.ConnectionsOf(owner_uid), state);
  });
}

void BusEventSink::FileTransferred(const Guid& job, std::uint32_t owner_uid,
                                   std::uint32_t file_index) {
  loop_.Post([this, job, owner_uid, file_index] {
    if (objects_)
      objects_->Handler().SendFileTransferred(job, callers_.ConnectionsOf(owner_uid), file_index);
  });
}

// Nothing is registered per job: once the manager has forgotten the job, JobObjects answers
// its path with BG_E_NOT_FOUND.
void BusEventSink::JobRemoved(const Guid&) {}

}  // namespace openbits::ipc
