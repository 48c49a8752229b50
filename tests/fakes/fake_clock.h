// A clock the test moves by hand. Whatever sleeps until a deadline on it is told of each move
// (OnAdvance; JobManager::OnClockChanged for the scheduler), so timers of minutes or days fire
// as soon as the test moves past them, without real waiting.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

#include "core/ports.h"

namespace openbits::fakes {

class FakeClock : public core::Clock {
 public:
  // Starts at a real time: jobs loaded with real timestamps keep sensible ages.
  FakeClock()
      : now_us_(std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count()) {}

  std::int64_t NowUs() const override { return now_us_; }

  void Advance(std::chrono::microseconds by) {
    now_us_ += by.count();
    std::vector<std::function<void()>> listeners;
    {
      std::lock_guard lock(mutex_);
      listeners = listeners_;
    }
    for (auto& listener : listeners) listener();
  }
  // Called after every Advance, on the advancing thread. The listener must outlive the clock's
  // use (or be cleared).
  void OnAdvance(std::function<void()> listener) {
    std::lock_guard lock(mutex_);
    listeners_.push_back(std::move(listener));
  }
  void ClearListeners() {
    std::lock_guard lock(mutex_);
    listeners_.clear();
  }

 private:
  std::atomic<std::int64_t> now_us_;
  std::mutex mutex_;
  std::vector<std::function<void()>> listeners_;
};

}  // namespace openbits::fakes
