#include "ipc/job_subtree_visibility.h"

#include <systemd/sd-bus.h>

#include <sdbus-c++/sdbus-c++.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "ipc/error_names.h"
#include "ipc/job_paths.h"
#include "ipc/sd_bus_access.h"

namespace openbits::ipc {
namespace {

constexpr const char* kUnidentified = "bitsd cannot tell which user is calling";

}  // namespace

JobSubtreeVisibility::JobSubtreeVisibility(sdbus::IConnection& connection,
                                           const core::JobManager& manager, CallerRegistry& callers)
    : manager_(manager), callers_(callers) {
  sd_bus* bus = SdBusOf(connection);
  int r = sd_bus_add_filter(bus, &filter_slot_, &Filter, this);
  if (r < 0) throw sdbus::createError(-r, "cannot filter calls on the job subtree");
  r = sd_bus_add_node_enumerator(bus, &enumerator_slot_, std::string(kJobSubtree).c_str(),
                                 &Enumerate, this);
  if (r < 0) throw sdbus::createError(-r, "cannot list the job subtree");
}

JobSubtreeVisibility::~JobSubtreeVisibility() {
  sd_bus_slot_unref(enumerator_slot_);
  sd_bus_slot_unref(filter_slot_);
}

int JobSubtreeVisibility::Filter(sd_bus_message* message, void* self, sd_bus_error*) {
  if (!sd_bus_message_is_method_call(message, nullptr, nullptr)) return 0;
  const char* path = sd_bus_message_get_path(message);
  if (!path || !std::string_view(path).starts_with(dbus::kJobPathPrefix)) return 0;
  return static_cast<JobSubtreeVisibility*>(self)->Gate(message, path);
}

// A refused call is handled even when sd-bus sent no error (a call flagged
// NO_REPLY_EXPECTED): it never reaches sd-bus's own Properties/Introspect/Peer answers or
// the job handler.
static int Handled(int replied) { return replied < 0 ? replied : 1; }

int JobSubtreeVisibility::Gate(sd_bus_message* message, std::string_view path) {
  const auto id = JobIdOfPath(path);
  if (!id) {
    // No job can live here: what sd-bus answers for a path with no object.
    return Handled(sd_bus_reply_method_errorf(message, SD_BUS_ERROR_UNKNOWN_OBJECT,
                                              "Unknown object '%s'.", std::string(path).c_str()));
  }
  const auto caller = callers_.Resolve(message);
  if (!caller) {
    return Handled(
        sd_bus_reply_method_errorf(message, SD_BUS_ERROR_ACCESS_DENIED, "%s", kUnidentified));
  }
  // What GetJob would answer, without copying the job (every call on a job path comes here).
  const Status visible = manager_.ReadJob(*caller, *id, [](const core::Job&) {});
  if (visible) return 0;  // the owner or an administrator: sd-bus and the job handler answer
  // Someone else's job, or no job at all: the same BG_E_NOT_FOUND either way, whatever the
  // interface, as the manager's GetJob answers.
  const sdbus::Error error = ToDbusError(visible.error());
  return Handled(sd_bus_reply_method_errorf(message, error.getName().c_str(), "%s",
                                            error.getMessage().c_str()));
}

int JobSubtreeVisibility::Enumerate(sd_bus* bus, const char* prefix, void* self_pointer,
                                    char*** nodes, sd_bus_error* error) {
  auto* self = static_cast<JobSubtreeVisibility*>(self_pointer);
  *nodes = nullptr;
  // Jobs have no children: listing under a job path (an Introspect of a job) lists nothing.
  if (std::string_view(prefix).starts_with(dbus::kJobPathPrefix)) return 0;
  sd_bus_message* message = sd_bus_get_current_message(bus);
  const auto caller = message ? self->callers_.Resolve(message) : std::nullopt;
  if (!caller) return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, kUnidentified);
  const auto jobs = self->manager_.EnumJobs(*caller, caller->is_admin);
  if (!jobs) return 0;
  // sd-bus takes a NULL-terminated array of malloc'ed paths and frees it.
  char** paths = static_cast<char**>(calloc(jobs->size() + 1, sizeof(char*)));
  if (!paths) return -ENOMEM;
  for (std::size_t i = 0; i < jobs->size(); ++i) {
    paths[i] = strdup(dbus::JobPath((*jobs)[i]).c_str());
    if (!paths[i]) {
      for (std::size_t j = 0; j < i; ++j) free(paths[j]);
      free(paths);
      return -ENOMEM;
    }
  }
  *nodes = paths;
  return 0;
}

}  // namespace openbits::ipc
