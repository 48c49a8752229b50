// The live progress line of `bitsadmin /transfer` on a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "openbits/types.h"

namespace openbits::cli {

// "1.5 GiB", "12.0 MiB", "512 B".
std::string FormatBytes(std::uint64_t bytes);

class ProgressBar {
 public:
  explicit ProgressBar(bool terminal) : terminal_(terminal) {}
  // Redraws the line on a terminal; elsewhere prints a line per state change and per 10%.
  void Update(JobState state, const JobProgress& progress);
  // Ends the line.
  void Finish();

 private:
  bool terminal_;
  bool drawn_ = false;
  JobState last_state_ = JobState::kSuspended;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace openbits::cli
