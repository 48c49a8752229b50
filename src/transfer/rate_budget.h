// RateBudget: the bytes per second one download may receive, as a token bucket that the
// transfer consults before it hands body bytes to the sink. libcurl's own limit
// (CURLOPT_MAX_RECV_SPEED_LARGE) reads whatever the socket buffer holds before it waits, which
// on a fast link is megabytes over budget; pausing at the write callback is exact.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace openbits::transfer {

class RateBudget {
 public:
  using Clock = std::chrono::steady_clock;
  // Any thread, any moment; 0: no limit.
  void SetRate(std::uint64_t bytes_per_second) { rate_.store(bytes_per_second); }
  std::uint64_t rate() const { return rate_.load(std::memory_order_relaxed); }

  // The transfer's thread: whether `length` bytes may be taken now (then they are), else how
  // long to wait before asking again.
  Clock::duration Take(std::size_t length, Clock::time_point now) {
    const std::uint64_t rate = rate_.load(std::memory_order_relaxed);
    if (rate == 0) {
      tokens_ = 0;
      last_ = now;
      return Clock::duration::zero();
    }
    if (last_ != Clock::time_point{}) {
      const double seconds = std::chrono::duration<double>(now - last_).count();
      // A burst of at most a quarter of a second's budget after an idle spell.
      tokens_ =
          std::min(tokens_ + seconds * static_cast<double>(rate), static_cast<double>(rate) / 4);
    }
    last_ = now;
    if (tokens_ < 0) {
      return std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(-tokens_ / static_cast<double>(rate)));
    }
    // The debt of a large read is paid by waiting afterwards.
    tokens_ -= static_cast<double>(length);
    return Clock::duration::zero();
  }

 private:
  std::atomic<std::uint64_t> rate_{0};
  double tokens_ = 0;       // may go negative: bytes taken ahead of the budget
  Clock::time_point last_;  // when tokens_ was last brought up to date
};

}  // namespace openbits::transfer
