#include "pipeline.h"

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "openbits/dbus_names.h"

namespace bench {

Pipeline::Pipeline(const std::string& address, std::size_t window) : window_(window) {
  if (window == 0) Die("the window must be at least 1");
  int r = sd_bus_new(&bus_);
  if (r >= 0) r = sd_bus_set_address(bus_, address.c_str());
  if (r >= 0) r = sd_bus_set_bus_client(bus_, 1);
  if (r >= 0) r = sd_bus_start(bus_);
  if (r < 0) Die("cannot connect to " + address + ": " + std::strerror(-r));
}

Pipeline::~Pipeline() { sd_bus_flush_close_unref(bus_); }

void Pipeline::Call(std::string path, const char* interface, const char* member, Append append,
                    OnReply on_reply) {
  queued_.push_back({std::move(path), interface, member, std::move(append), std::move(on_reply)});
}

void Pipeline::OnSignal(const char* interface, const char* member,
                        std::function<void(sd_bus_message*)> on_signal) {
  signals_.push_back({std::move(on_signal)});
  // No sender in the rule: bitsd sends from its unique name, and sd-bus matches the sender
  // locally against the name as written.
  const int r = sd_bus_match_signal(bus_, nullptr, nullptr, nullptr, interface, member, &Signalled,
                                    &signals_.back());
  if (r < 0) Die(std::string("cannot subscribe to ") + member + ": " + std::strerror(-r));
}

void Pipeline::Send(Queued& call) {
  sd_bus_message* message = nullptr;
  int r = sd_bus_message_new_method_call(bus_, &message, openbits::dbus::kBusName,
                                         call.path.c_str(), call.interface, call.member);
  if (r >= 0 && call.append) r = call.append(message);
  // The callback owns its Outstanding; a floating slot (nullptr) lives until the reply.
  auto* outstanding = new Outstanding{this, std::move(call.on_reply)};
  if (r >= 0) r = sd_bus_call_async(bus_, nullptr, message, &Replied, outstanding, 0);
  sd_bus_message_unref(message);
  if (r < 0) {
    delete outstanding;
    Die(std::string("cannot call ") + call.member + ": " + std::strerror(-r));
  }
  ++in_flight_;
}

int Pipeline::Replied(sd_bus_message* reply, void* userdata, sd_bus_error*) {
  auto* outstanding = static_cast<Outstanding*>(userdata);
  --outstanding->pipeline->in_flight_;
  if (sd_bus_message_is_method_error(reply, nullptr)) {
    const sd_bus_error* error = sd_bus_message_get_error(reply);
    Die(std::string(error->name) + ": " + (error->message ? error->message : ""));
  }
  if (outstanding->on_reply) outstanding->on_reply(reply);
  delete outstanding;
  return 1;
}

int Pipeline::Signalled(sd_bus_message* message, void* userdata, sd_bus_error*) {
  static_cast<Signal*>(userdata)->on_signal(message);
  return 0;
}

void Pipeline::Step() {
  bool worked = false;
  while (!queued_.empty() && in_flight_ < window_) {
    Send(queued_.front());
    queued_.pop_front();
    worked = true;
  }
  for (;;) {
    const int r = sd_bus_process(bus_, nullptr);
    if (r < 0) Die(std::string("lost the bus: ") + std::strerror(-r));
    if (r == 0) break;
    worked = true;
  }
  if (!worked) {
    const int r = sd_bus_wait(bus_, UINT64_MAX);
    if (r < 0 && r != -EINTR) Die(std::string("cannot wait on the bus: ") + std::strerror(-r));
  }
}

}  // namespace bench
