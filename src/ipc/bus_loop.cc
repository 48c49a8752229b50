#include "ipc/bus_loop.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <sdbus-c++/Error.h>
#include <sdbus-c++/IConnection.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "base/log.h"

namespace openbits::ipc {

BusLoop::BusLoop(sdbus::IConnection& connection) : connection_(connection) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal_fd_ = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

BusLoop::~BusLoop() {
  close(event_fd_);
  close(signal_fd_);
}

void BusLoop::Post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    posted_.push_back(std::move(task));
  }
  const std::uint64_t one = 1;
  (void)!write(event_fd_, &one, sizeof one);
}

void BusLoop::Quit() {
  {
    std::lock_guard lock(mutex_);
    quit_ = true;
  }
  const std::uint64_t one = 1;
  (void)!write(event_fd_, &one, sizeof one);
}

void BusLoop::RunPosted() {
  std::uint64_t count;
  (void)!read(event_fd_, &count, sizeof count);
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(mutex_);
    tasks.swap(posted_);
  }
  for (auto& task : tasks) {
    try {
      task();
    } catch (const sdbus::Error& error) {
      log::Get("ipc")->warn("Failed to send a bus message: {}: {}", error.getName(),
                            error.getMessage());
    }
  }
}

Status BusLoop::Run() {
  const auto logger = log::Get("ipc");
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (quit_) return Ok();
    }
    sdbus::IConnection::PollData poll_data;
    try {
      // Method handlers turn their own exceptions into error replies, so what escapes here
      // is the connection itself failing (sd_bus_process or the poll data).
      while (connection_.processPendingRequest()) {
      }
      poll_data = connection_.getEventLoopPollData();
    } catch (const sdbus::Error& error) {
      logger->error("Lost the bus connection: {}: {}", error.getName(), error.getMessage());
      return Error(hr::E_FAIL, ErrorContext::kGeneralQueueManager,
                   "lost the bus connection (" + error.getMessage() +
                       "); exiting so that the service manager restarts bitsd");
    }
    int timeout_ms = -1;
    if (poll_data.timeout_usec != UINT64_MAX) {
      timespec now{};
      clock_gettime(CLOCK_MONOTONIC, &now);
      const std::uint64_t now_us =
          static_cast<std::uint64_t>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
      timeout_ms = poll_data.timeout_usec > now_us
                       ? static_cast<int>((poll_data.timeout_usec - now_us + 999) / 1000)
                       : 0;
    }
    pollfd fds[3] = {
        {poll_data.fd, poll_data.events, 0}, {event_fd_, POLLIN, 0}, {signal_fd_, POLLIN, 0}};
    if (poll(fds, 3, timeout_ms) < 0 && errno != EINTR) {
      const std::string reason = std::strerror(errno);
      logger->error("Failed to poll the bus: {}", reason);
      return Error(hr::E_FAIL, ErrorContext::kGeneralQueueManager,
                   "cannot poll the bus connection: " + reason);
    }
    if (fds[1].revents & POLLIN) RunPosted();
    if (fds[2].revents & POLLIN) {
      signalfd_siginfo info{};
      (void)!read(signal_fd_, &info, sizeof info);
      logger->info("Received signal {}, shutting down", info.ssi_signo);
      return Ok();
    }
  }
}

}  // namespace openbits::ipc
