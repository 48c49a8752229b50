#include "ipc/job_subtree_visibility.h"

#include <systemd/sd-bus.h>

#include <sdbus-c++/sdbus-c++.h>
#include <string>

#include "ipc/error_names.h"
#include "openbits/dbus_names.h"

namespace openbits::ipc {
namespace {

constexpr std::string_view kSubtree = "/org/openbits/bits1/job";

// sdbus-c++ 1.2.0 does not expose the sd_bus of a connection. Every message it creates holds
// its sd_bus_message in the protected Message::msg_; a pointer to that member, formed through
// a derived class as C++ allows, reads it without depending on the object layout.
struct RawMessage : sdbus::Message {
  static sd_bus_message* Of(const sdbus::Message& message) {
    return static_cast<sd_bus_message*>(message.*(&RawMessage::msg_));
  }
};

sd_bus* BusOf(sdbus::IConnection& connection) {
  const auto object = sdbus::createObject(connection, std::string(kSubtree));
  const auto probe = object->createSignal(dbus::kJobInterface, "JobModification");
  return sd_bus_message_get_bus(RawMessage::Of(probe));
}

constexpr const char* kHeader =
    "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n"
    " \"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n"
    "<node>\n"
    " <interface name=\"org.freedesktop.DBus.Peer\">\n"
    "  <method name=\"Ping\"/>\n"
    "  <method name=\"GetMachineId\">\n"
    "   <arg type=\"s\" name=\"machine_uuid\" direction=\"out\"/>\n"
    "  </method>\n"
    " </interface>\n"
    " <interface name=\"org.freedesktop.DBus.Introspectable\">\n"
    "  <method name=\"Introspect\">\n"
    "   <arg name=\"xml_data\" type=\"s\" direction=\"out\"/>\n"
    "  </method>\n"
    " </interface>\n";

int ReplyUnidentified(sd_bus_message* message) {
  return sd_bus_reply_method_errorf(message, SD_BUS_ERROR_ACCESS_DENIED,
                                    "bitsd cannot tell which user is calling");
}

}  // namespace

JobSubtreeVisibility::JobSubtreeVisibility(sdbus::IConnection& connection,
                                           const core::JobManager& manager, CallerRegistry& callers)
    : manager_(manager), callers_(callers) {
  const int r = sd_bus_add_filter(BusOf(connection), &slot_, &Filter, this);
  if (r < 0) throw sdbus::createError(-r, "cannot filter introspection of the job subtree");
}

JobSubtreeVisibility::~JobSubtreeVisibility() { sd_bus_slot_unref(slot_); }

int JobSubtreeVisibility::Filter(sd_bus_message* message, void* self, sd_bus_error*) {
  if (!sd_bus_message_is_method_call(message, nullptr, nullptr)) return 0;
  const char* path = sd_bus_message_get_path(message);
  if (!path || !std::string_view(path).starts_with(kSubtree)) return 0;
  return static_cast<JobSubtreeVisibility*>(self)->Answer(message, path);
}

int JobSubtreeVisibility::Answer(sd_bus_message* message, std::string_view path) {
  if (path == kSubtree) {
    if (!sd_bus_message_is_method_call(message, "org.freedesktop.DBus.Introspectable",
                                       "Introspect")) {
      return 0;
    }
    return ReplyWithCallersJobs(message);
  }
  const std::string_view prefix = dbus::kJobPathPrefix;
  if (!path.starts_with(prefix)) return 0;  // e.g. /org/openbits/bits1/jobs
  const std::string_view hex = path.substr(prefix.size());
  const auto id = Guid::Parse(hex);
  if (!id || id->ToHex() != hex) {
    // No job can live here: what sd-bus answers for a path with no object.
    return sd_bus_reply_method_errorf(message, SD_BUS_ERROR_UNKNOWN_OBJECT, "Unknown object '%s'.",
                                      std::string(path).c_str());
  }
  const auto caller = callers_.Resolve(message);
  if (!caller) return ReplyUnidentified(message);
  const auto job = manager_.GetJob(*caller, *id);
  if (job) return 0;  // the owner or an administrator: sd-bus and the adaptor answer
  // Someone else's job, or no job at all: the same BG_E_NOT_FOUND either way, whatever the
  // interface, as the manager's GetJob answers.
  const sdbus::Error error = ToDbusError(job.error());
  return sd_bus_reply_method_errorf(message, error.getName().c_str(), "%s",
                                    error.getMessage().c_str());
}

int JobSubtreeVisibility::ReplyWithCallersJobs(sd_bus_message* message) {
  const auto caller = callers_.Resolve(message);
  if (!caller) return ReplyUnidentified(message);
  std::string xml = kHeader;
  if (auto jobs = manager_.EnumJobs(*caller, caller->is_admin)) {
    for (const Guid& id : *jobs) xml += " <node name=\"" + id.ToHex() + "\"/>\n";
  }
  xml += "</node>\n";
  return sd_bus_reply_method_return(message, "s", xml.c_str());
}

}  // namespace openbits::ipc
