// BusLoop: the bus thread. Runs the sdbus-c++ connection on our own poll loop so that other
// threads can post work to it (an eventfd) and SIGTERM/SIGINT end it cleanly (a signalfd).
// Every sdbus-c++ object is created, called and destroyed on this thread only.
//
// Losing the bus (dbus-daemon restarted or killed, socket reset) ends the loop with an error
// instead of an exception: bitsd then checkpoints its transfers and exits non-zero, and the
// service manager starts it again (service/bitsd.service has Restart=on-failure). The queue is
// persisted, so nothing is lost; re-registering every object on a new connection in-process
// would buy little over a restart and add a second, rarely exercised start-up path.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include "openbits/result.h"

namespace sdbus {
class IConnection;
}

namespace openbits::ipc {

class BusLoop {
 public:
  // Blocks SIGTERM and SIGINT in the calling thread (call before starting other threads, so
  // that they inherit the mask) and routes them to the loop.
  explicit BusLoop(sdbus::IConnection& connection);
  ~BusLoop();
  BusLoop(const BusLoop&) = delete;
  BusLoop& operator=(const BusLoop&) = delete;

  // Thread-safe: runs `task` on the bus thread soon.
  void Post(std::function<void()> task);
  // Processes bus messages and posted tasks until SIGTERM/SIGINT or Quit() (then Ok), or
  // until the bus connection fails (then an error that names the cause).
  Status Run();
  void Quit();

 private:
  // Runs the posted tasks. A task that fails on the bus (a signal that cannot be sent) is
  // logged and skipped; a dead connection shows at the next processPendingRequest.
  void RunPosted();

  sdbus::IConnection& connection_;
  int event_fd_ = -1;
  int signal_fd_ = -1;
  std::mutex mutex_;
  std::vector<std::function<void()>> posted_;  // guarded by mutex_
  bool quit_ = false;                          // guarded by mutex_
};

}  // namespace openbits::ipc
