// What sdbus-c++ 1.2.0 keeps to itself and the job subtree needs from sd-bus: the sd_bus of a
// connection, the sd_bus_message under an sdbus::Message, and sdbus::Message objects made
// from sd-bus messages that sd-bus hands to our own callbacks (fallback vtables).
#pragma once

#include <systemd/sd-bus.h>

#include <sdbus-c++/sdbus-c++.h>

namespace openbits::ipc {

// The bus of `connection` (a new reference is not taken: it lives as long as the connection).
sd_bus* SdBusOf(sdbus::IConnection& connection);

// The sd_bus_message under `message`.
sd_bus_message* RawMessageOf(const sdbus::Message& message);

// sdbus-c++'s wrapper of the sd-bus calls of `connection`, which every sdbus::Message holds.
sdbus::internal::ISdBus* SdBusInterfaceOf(sdbus::IConnection& connection);

// An sdbus::MethodCall over `message` (a new reference), as sdbus-c++ hands to a method
// handler; `bus_interface` from SdBusInterfaceOf.
sdbus::MethodCall MethodCallOf(sd_bus_message* message, sdbus::internal::ISdBus* bus_interface);

// An sdbus::Signal that takes over `message` (no new reference).
sdbus::Signal AdoptSignal(sd_bus_message* message, sdbus::internal::ISdBus* bus_interface);

}  // namespace openbits::ipc
