// BusLoop: the bus thread. Runs the sdbus-c++ connection on our own poll loop so that other
// threads can post work to it (an eventfd) and SIGTERM/SIGINT end it cleanly (a signalfd).
// Every sdbus-c++ object is created, called and destroyed on this thread only.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

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
  // Processes bus messages and posted tasks until SIGTERM/SIGINT or Quit().
  void Run();
  void Quit();

 private:
  void RunPosted();

  sdbus::IConnection& connection_;
  int event_fd_ = -1;
  int signal_fd_ = -1;
  std::mutex mutex_;
  std::vector<std::function<void()>> posted_;  // guarded by mutex_
  bool quit_ = false;                          // guarded by mutex_
};

}  // namespace openbits::ipc
