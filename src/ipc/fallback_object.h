// FallbackObject: one sdbus::IObject serving every object path under a prefix, through
// sd-bus's fallback vtables. sdbus-c++ 1.2.0 has no fallback objects: each of its objects is
// one sd-bus registration per path, with its own vtables and method tables, so one object per
// job made bitsd's memory and start time grow with the queue. A generated adaptor (from idl/)
// registers its methods and signals here exactly as on an sdbus-c++ object, so the interface
// and the (de)serialization of its arguments stay the generated ones; its handlers learn
// which object was called from getCurrentlyProcessedMessage()->getPath(). Bus thread only.
#pragma once

#include <systemd/sd-bus.h>

#include <sdbus-c++/sdbus-c++.h>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace openbits::ipc {

class FallbackObject final : public sdbus::IObject {
 public:
  // Whether `path` (under the prefix) names an object; asked by sd-bus before every call on a
  // path under the prefix and when it introspects one.
  using Exists = std::function<bool(std::string_view path)>;

  FallbackObject(sdbus::IConnection& connection, std::string prefix, Exists exists);
  ~FallbackObject() override;
  FallbackObject(const FallbackObject&) = delete;
  FallbackObject& operator=(const FallbackObject&) = delete;

  // A signal of `interface` from the object at `path`, to send with Signal::send().
  sdbus::Signal CreateSignalAt(const std::string& path, const std::string& interface,
                               const std::string& name);

  // sdbus::IObject: what generated adaptors use.
  void registerMethod(const std::string& interface, std::string method, std::string input,
                      std::string output, sdbus::method_callback callback,
                      sdbus::Flags flags) override;
  void registerMethod(const std::string& interface, std::string method, std::string input,
                      const std::vector<std::string>& input_names, std::string output,
                      const std::vector<std::string>& output_names, sdbus::method_callback callback,
                      sdbus::Flags flags) override;
  void registerSignal(const std::string& interface, std::string signal, std::string signature,
                      sdbus::Flags flags) override;
  void registerSignal(const std::string& interface, std::string signal, std::string signature,
                      const std::vector<std::string>& names, sdbus::Flags flags) override;
  void setInterfaceFlags(const std::string& interface, sdbus::Flags flags) override;
  // Installs one fallback vtable per interface.
  void finishRegistration() override;
  void unregister() override;
  sdbus::IConnection& getConnection() const override { return connection_; }
  // The prefix: this object has no single path.
  const std::string& getObjectPath() const override { return prefix_; }
  const sdbus::Message* getCurrentlyProcessedMessage() const override { return current_; }
  void emitSignal(const sdbus::Signal& message) override { message.send(); }

  // sdbus::IObject: what no adaptor of a fallback object may use (properties would bypass
  // the per-call checks; signals need a path): each throws.
  void registerProperty(const std::string& interface, std::string property, std::string signature,
                        sdbus::property_get_callback get, sdbus::Flags flags) override;
  void registerProperty(const std::string& interface, std::string property, std::string signature,
                        sdbus::property_get_callback get, sdbus::property_set_callback set,
                        sdbus::Flags flags) override;
  sdbus::Signal createSignal(const std::string& interface, const std::string& name) override;
  void emitPropertiesChangedSignal(const std::string& interface,
                                   const std::vector<std::string>& properties) override;
  void emitPropertiesChangedSignal(const std::string& interface) override;
  void emitInterfacesAddedSignal() override;
  void emitInterfacesAddedSignal(const std::vector<std::string>& interfaces) override;
  void emitInterfacesRemovedSignal() override;
  void emitInterfacesRemovedSignal(const std::vector<std::string>& interfaces) override;
  void addObjectManager() override;
  void removeObjectManager() override;
  bool hasObjectManager() const override { return false; }

 private:
  struct Method {
    std::string name;
    std::string input;
    std::string output;
    std::string names;  // sd-bus's form: each input then each output name, NUL-terminated
    sdbus::method_callback callback;
    std::uint64_t flags;
  };
  struct Signal {
    std::string name;
    std::string signature;
    std::string names;
    std::uint64_t flags;
  };
  struct Interface {
    std::vector<Method> methods;
    std::vector<Signal> signals;
    std::uint64_t flags = 0;
    std::vector<sd_bus_vtable> vtable;  // points into methods and signals
    sd_bus_slot* slot = nullptr;
  };

  static int Find(sd_bus* bus, const char* path, const char* interface, void* self, void** found,
                  sd_bus_error* error);
  static int OnMethodCall(sd_bus_message* message, void* self, sd_bus_error* error);
  [[noreturn]] static void Unsupported(const char* what);

  sdbus::IConnection& connection_;
  sd_bus* bus_;
  sdbus::internal::ISdBus* bus_interface_;
  const std::string prefix_;
  const Exists exists_;
  std::map<std::string, Interface> interfaces_;
  // "interface.method" -> the method, for OnMethodCall.
  std::unordered_map<std::string, const Method*> methods_;
  const sdbus::Message* current_ = nullptr;
};

}  // namespace openbits::ipc
