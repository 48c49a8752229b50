#include "ipc/sd_bus_access.h"

#include <string>

namespace openbits::ipc {
namespace {

// Every message sdbus-c++ creates holds its sd_bus_message and the connection's ISdBus in
// the protected members Message::msg_ and Message::sdbus_. A pointer to such a member, formed
// through a derived class as C++ allows, reads it without depending on the object layout.
struct MessageInternals : sdbus::Message {
  static sd_bus_message* Raw(const sdbus::Message& message) {
    return static_cast<sd_bus_message*>(message.*(&MessageInternals::msg_));
  }
  static sdbus::internal::ISdBus* Interface(const sdbus::Message& message) {
    return message.*(&MessageInternals::sdbus_);
  }
};

// The constructors from an sd-bus message are protected (sdbus-c++ makes its messages through
// a factory of its own); a derived class may call them for its base.
struct WrappedCall : sdbus::MethodCall {
  WrappedCall(sd_bus_message* message, sdbus::internal::ISdBus* bus_interface)
      : sdbus::MethodCall(message, bus_interface) {}
};

struct AdoptedSignal : sdbus::Signal {
  AdoptedSignal(sd_bus_message* message, sdbus::internal::ISdBus* bus_interface)
      : sdbus::Signal(message, bus_interface, sdbus::adopt_message_t{}) {}
};

// A signal message made by sdbus-c++ on `connection`: it carries the connection's internals.
sdbus::Signal Probe(sdbus::IConnection& connection) {
  const auto object = sdbus::createObject(connection, "/org/openbits/bits1/probe");
  return object->createSignal("org.openbits.bits1.Probe", "Probe");
}

}  // namespace

sd_bus* SdBusOf(sdbus::IConnection& connection) {
  return sd_bus_message_get_bus(RawMessageOf(Probe(connection)));
}

sd_bus_message* RawMessageOf(const sdbus::Message& message) {
  return MessageInternals::Raw(message);
}

sdbus::internal::ISdBus* SdBusInterfaceOf(sdbus::IConnection& connection) {
  return MessageInternals::Interface(Probe(connection));
}

sdbus::MethodCall MethodCallOf(sd_bus_message* message, sdbus::internal::ISdBus* bus_interface) {
  return WrappedCall(message, bus_interface);
}

sdbus::Signal AdoptSignal(sd_bus_message* message, sdbus::internal::ISdBus* bus_interface) {
  return AdoptedSignal(message, bus_interface);
}

}  // namespace openbits::ipc
