#include "ipc/bus_event_sink.h"

namespace openbits::ipc {

void BusEventSink::JobTransferred(const Guid& job, std::uint32_t owner_uid) {
  loop_.Post([this, job, owner_uid] {
    if (JobAdaptor* object = objects_.Find(job)) {
      object->SendJobTransferred(callers_.ConnectionsOf(owner_uid));
    }
  });
}

void BusEventSink::JobError(const Guid& job, std::uint32_t owner_uid, HRESULT code,
                            ErrorContext context) {
  loop_.Post([this, job, owner_uid, code, context] {
    if (JobAdaptor* object = objects_.Find(job)) {
      object->SendJobError(callers_.ConnectionsOf(owner_uid), code, context);
    }
  });
}

void BusEventSink::JobModified(const Guid& job, std::uint32_t owner_uid, JobState state) {
  loop_.Post([this, job, owner_uid, state] {
    if (JobAdaptor* object = objects_.Find(job)) {
      object->SendJobModification(callers_.ConnectionsOf(owner_uid), state);
    }
  });
}

void BusEventSink::FileTransferred(const Guid& job, std::uint32_t owner_uid,
                                   std::uint32_t file_index) {
  loop_.Post([this, job, owner_uid, file_index] {
    if (JobAdaptor* object = objects_.Find(job)) {
      object->SendFileTransferred(callers_.ConnectionsOf(owner_uid), file_index);
    }
  });
}

void BusEventSink::JobRemoved(const Guid& job) {
  loop_.Post([this, job] { objects_.Unpublish(job); });
}

}  // namespace openbits::ipc
