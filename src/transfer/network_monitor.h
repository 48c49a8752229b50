// NetworkMonitor: tells when the machine loses and regains its network, the way BITS
// moves jobs to TRANSIENT_ERROR (BG_E_NETWORK_DISCONNECTED) and back. Listens to rtnetlink
// link and address events on a thread of its own (no polling); "connected" means some
// interface other than loopback is up and running, or the machine has no such interface at
// all (a loopback-only host can still transfer from itself).
#pragma once

#include <functional>
#include <thread>

namespace openbits::transfer {

class NetworkMonitor {
 public:
  using Listener = std::function<void(bool connected)>;

  ~NetworkMonitor();
  // Starts watching; `listener` runs on the monitor's thread at every change. Returns the
  // current state, or true (and watches nothing) when netlink is unavailable.
  bool Start(Listener listener);
  void Stop();

  // The state right now, from the interface flags.
  static bool Connected();

 private:
  void Run();

  Listener listener_;
  int netlink_fd_ = -1;
  int stop_fd_ = -1;
  bool connected_ = true;
  std::thread thread_;
};

}  // namespace openbits::transfer
