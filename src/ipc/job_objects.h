// JobObjects: the job objects published on the bus, one per job in the queue. Bus thread only.
#pragma once

#include <map>
#include <memory>

#include "ipc/job_adaptor.h"

namespace openbits::ipc {

class JobObjects {
 public:
  JobObjects(sdbus::IConnection& connection, CallerRegistry& callers)
      : connection_(connection), callers_(callers) {}

  void Publish(const Guid& id, core::JobManager& manager) {
    if (!objects_.contains(id)) {
      objects_.emplace(id, std::make_unique<JobAdaptor>(connection_, id, manager, callers_));
    }
  }
  void Unpublish(const Guid& id) { objects_.erase(id); }
  JobAdaptor* Find(const Guid& id) {
    auto it = objects_.find(id);
    return it == objects_.end() ? nullptr : it->second.get();
  }

 private:
  sdbus::IConnection& connection_;
  CallerRegistry& callers_;
  std::map<Guid, std::unique_ptr<JobAdaptor>> objects_;
};

}  // namespace openbits::ipc
