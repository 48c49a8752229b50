#include "ipc/fallback_object.h"

#include "ipc/sd_bus_access.h"

namespace openbits::ipc {
namespace {

// sd-bus's form of argument names: each name NUL-terminated, one after the other.
std::string JoinNames(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) {
    joined += name;
    joined.push_back('\0');
  }
  return joined;
}

}  // namespace

FallbackObject::FallbackObject(sdbus::IConnection& connection, std::string prefix, Exists exists)
    : connection_(connection),
      bus_(SdBusOf(connection)),
      bus_interface_(SdBusInterfaceOf(connection)),
      prefix_(std::move(prefix)),
      exists_(std::move(exists)) {}

FallbackObject::~FallbackObject() { unregister(); }

void FallbackObject::registerMethod(const std::string& interface, std::string method,
                                    std::string input, std::string output,
                                    sdbus::method_callback callback, sdbus::Flags flags) {
  registerMethod(interface, std::move(method), std::move(input), {}, std::move(output), {},
                 std::move(callback), flags);
}

void FallbackObject::registerMethod(const std::string& interface, std::string method,
                                    std::string input, const std::vector<std::string>& input_names,
                                    std::string output,
                                    const std::vector<std::string>& output_names,
                                    sdbus::method_callback callback, sdbus::Flags flags) {
  interfaces_[interface].methods.push_back(Method{std::move(method), std::move(input),
                                                  std::move(output),
                                                  JoinNames(input_names) + JoinNames(output_names),
                                                  std::move(callback), flags.toSdBusMethodFlags()});
}

void FallbackObject::registerSignal(const std::string& interface, std::string signal,
                                    std::string signature, sdbus::Flags flags) {
  registerSignal(interface, std::move(signal), std::move(signature), {}, flags);
}

void FallbackObject::registerSignal(const std::string& interface, std::string signal,
                                    std::string signature, const std::vector<std::string>& names,
                                    sdbus::Flags flags) {
  interfaces_[interface].signals.push_back(Signal{std::move(signal), std::move(signature),
                                                  JoinNames(names), flags.toSdBusSignalFlags()});
}

void FallbackObject::setInterfaceFlags(const std::string& interface, sdbus::Flags flags) {
  interfaces_[interface].flags = flags.toSdBusInterfaceFlags();
}

void FallbackObject::finishRegistration() {
  for (auto& [name, interface] : interfaces_) {
    if (interface.slot) continue;
    std::vector<sd_bus_vtable>& vtable = interface.vtable;
    vtable.clear();
    const sd_bus_vtable start = SD_BUS_VTABLE_START(0);
    vtable.push_back(start);
    vtable.back().flags = interface.flags;
    for (const Method& method : interface.methods) {
      sd_bus_vtable entry{};
      entry.type = _SD_BUS_VTABLE_METHOD;
      entry.flags = method.flags;
      entry.x.method.member = method.name.c_str();
      entry.x.method.signature = method.input.c_str();
      entry.x.method.result = method.output.c_str();
      entry.x.method.handler = &OnMethodCall;
      entry.x.method.offset = 0;
      entry.x.method.names = method.names.c_str();
      vtable.push_back(entry);
      methods_[name + "." + method.name] = &method;
    }
    for (const Signal& signal : interface.signals) {
      sd_bus_vtable entry{};
      entry.type = _SD_BUS_VTABLE_SIGNAL;
      entry.flags = signal.flags;
      entry.x.signal.member = signal.name.c_str();
      entry.x.signal.signature = signal.signature.c_str();
      entry.x.signal.names = signal.names.c_str();
      vtable.push_back(entry);
    }
    const sd_bus_vtable end = SD_BUS_VTABLE_END;
    vtable.push_back(end);
    const int r = sd_bus_add_fallback_vtable(bus_, &interface.slot, prefix_.c_str(), name.c_str(),
                                             vtable.data(), &Find, this);
    if (r < 0) {
      throw sdbus::createError(-r, "cannot serve " + name + " under " + prefix_);
    }
  }
}

void FallbackObject::unregister() {
  for (auto& [name, interface] : interfaces_) {
    interface.slot = sd_bus_slot_unref(interface.slot);
  }
}

sdbus::Signal FallbackObject::CreateSignalAt(const std::string& path, const std::string& interface,
                                             const std::string& name) {
  sd_bus_message* message = nullptr;
  const int r =
      sd_bus_message_new_signal(bus_, &message, path.c_str(), interface.c_str(), name.c_str());
  if (r < 0) throw sdbus::createError(-r, "cannot create signal " + interface + "." + name);
  return AdoptSignal(message, bus_interface_);
}

int FallbackObject::Find(sd_bus*, const char* path, const char*, void* self, void** found,
                         sd_bus_error*) {
  if (!static_cast<FallbackObject*>(self)->exists_(path)) return 0;
  *found = self;
  return 1;
}

int FallbackObject::OnMethodCall(sd_bus_message* message, void* self_pointer, sd_bus_error* error) {
  auto* self = static_cast<FallbackObject*>(self_pointer);
  const auto method = self->methods_.find(std::string(sd_bus_message_get_interface(message)) + "." +
                                          sd_bus_message_get_member(message));
  if (method == self->methods_.end()) {
    // sd-bus calls this only for members of the vtables built above.
    return sd_bus_error_set(error, SD_BUS_ERROR_UNKNOWN_METHOD, "unknown method");
  }
  const sdbus::MethodCall call = MethodCallOf(message, self->bus_interface_);
  const sdbus::Message* outer = std::exchange(self->current_, &call);
  // As sdbus-c++'s own objects do: an sdbus::Error thrown by the handler is the reply.
  try {
    method->second->callback(call);
  } catch (const sdbus::Error& thrown) {
    sd_bus_error_set(error, thrown.getName().c_str(), thrown.getMessage().c_str());
  } catch (const std::exception& thrown) {
    sd_bus_error_set(error, SD_BUS_ERROR_FAILED, thrown.what());
  }
  self->current_ = outer;
  return 1;
}

void FallbackObject::Unsupported(const char* what) {
  throw sdbus::Error(SD_BUS_ERROR_NOT_SUPPORTED,
                     std::string(what) + " is not supported on a fallback object");
}

void FallbackObject::registerProperty(const std::string&, std::string, std::string,
                                      sdbus::property_get_callback, sdbus::Flags) {
  Unsupported("a property");
}
void FallbackObject::registerProperty(const std::string&, std::string, std::string,
                                      sdbus::property_get_callback, sdbus::property_set_callback,
                                      sdbus::Flags) {
  Unsupported("a property");
}
sdbus::Signal FallbackObject::createSignal(const std::string&, const std::string&) {
  Unsupported("a signal without a path (CreateSignalAt)");
}
void FallbackObject::emitPropertiesChangedSignal(const std::string&,
                                                 const std::vector<std::string>&) {
  Unsupported("PropertiesChanged");
}
void FallbackObject::emitPropertiesChangedSignal(const std::string&) {
  Unsupported("PropertiesChanged");
}
void FallbackObject::emitInterfacesAddedSignal() { Unsupported("InterfacesAdded"); }
void FallbackObject::emitInterfacesAddedSignal(const std::vector<std::string>&) {
  Unsupported("InterfacesAdded");
}
void FallbackObject::emitInterfacesRemovedSignal() { Unsupported("InterfacesRemoved"); }
void FallbackObject::emitInterfacesRemovedSignal(const std::vector<std::string>&) {
  Unsupported("InterfacesRemoved");
}
void FallbackObject::addObjectManager() { Unsupported("an object manager"); }
void FallbackObject::removeObjectManager() { Unsupported("an object manager"); }

}  // namespace openbits::ipc
