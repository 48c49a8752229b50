// Pipeline: D-Bus calls with several in flight on one sd-bus connection, for bench_client's
// pipelined modes. A synchronous client waits a whole round trip through dbus-daemon (about
// 100-150 us here) for every call, so it measures that latency rather than bitsd; this one
// keeps up to `window` calls outstanding, as aria2's benchmark client batches its calls.
// One Pipeline per thread; not thread-safe.
#pragma once

#include <systemd/sd-bus.h>

#include <cstddef>
#include <deque>
#include <functional>
#include <string>

namespace bench {

[[noreturn]] void Die(const std::string& what);

class Pipeline {
 public:
  // Called with the method return; an error reply ends the program with its name and text.
  using OnReply = std::function<void(sd_bus_message* reply)>;
  // Fills in the arguments of a call (sd_bus_message_append...).
  using Append = std::function<int(sd_bus_message* call)>;

  // Connects to the bus at `address` (a D-Bus address). window >= 1.
  Pipeline(const std::string& address, std::size_t window);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Queues a call to bitsd; it is sent when fewer than `window` calls are in flight.
  void Call(std::string path, const char* interface, const char* member, Append append,
            OnReply on_reply);
  // Calls `on_signal` for each signal `member` of `interface` this connection receives.
  void OnSignal(const char* interface, const char* member,
                std::function<void(sd_bus_message*)> on_signal);
  // Sends what the window admits, then handles what arrived, waiting for at least one message
  // if nothing could be sent or handled.
  void Step();
  // Calls queued or in flight.
  std::size_t pending() const { return queued_.size() + in_flight_; }
  std::size_t window() const { return window_; }

 private:
  struct Queued {
    std::string path;
    const char* interface;
    const char* member;
    Append append;
    OnReply on_reply;
  };
  struct Outstanding {
    Pipeline* pipeline;
    OnReply on_reply;
  };
  struct Signal {
    std::function<void(sd_bus_message*)> on_signal;
  };
  static int Replied(sd_bus_message* reply, void* userdata, sd_bus_error* error);
  static int Signalled(sd_bus_message* message, void* userdata, sd_bus_error* error);
  void Send(Queued& call);

  sd_bus* bus_ = nullptr;
  const std::size_t window_;
  std::size_t in_flight_ = 0;
  std::deque<Queued> queued_;
  std::deque<Signal> signals_;  // stable addresses for sd-bus's userdata
};

// A reply's first argument of `type` ("u", "s", "o"...), or the end of the program.
template <typename T>
T ReadReply(sd_bus_message* reply, char type) {
  T value{};
  const char types[2] = {type, '\0'};
  if (sd_bus_message_read(reply, types, &value) < 0) Die("malformed reply");
  return value;
}

}  // namespace bench
