// Waiting on observable state with a deadline, for the core's tests (which do not link the
// harness): polls `condition` until it holds or `timeout` passes, never a bare sleep.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace openbits::fakes {

inline bool WaitUntil(const std::function<bool()>& condition,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace openbits::fakes
