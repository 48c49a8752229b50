// The real wall clock, for the daemon and for tests that run real threads.
#pragma once

#include <chrono>

#include "core/ports.h"

namespace openbits::core {

class SystemClock : public Clock {
 public:
  std::int64_t NowUs() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace openbits::core
