#include "cli/progress_bar.h"

#include <cstdio>

namespace openbits::cli {

std::string FormatBytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, unit == 0 ? "%.0f %s" : "%.1f %s", value, kUnits[unit]);
  return buffer;
}

void ProgressBar::Update(JobState state, const JobProgress& progress) {
  const bool size_known = progress.bytes_total != kSizeUnknown && progress.bytes_total > 0;
  const double fraction = size_known ? static_cast<double>(progress.bytes_transferred) /
                                           static_cast<double>(progress.bytes_total)
                                     : 0.0;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const double rate = seconds > 0 ? static_cast<double>(progress.bytes_transferred) / seconds : 0;
  if (terminal_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '-');
    std::printf("\r[%s] %5.1f%%  %s / %s  %s/s  %u/%u files  %-15s", bar.c_str(), fraction * 100.0,
                FormatBytes(progress.bytes_transferred).c_str(),
                size_known ? FormatBytes(progress.bytes_total).c_str() : "?",
                FormatBytes(static_cast<std::uint64_t>(rate)).c_str(), progress.files_transferred,
                progress.files_total, std::string(JobStateName(state)).c_str());
    std::fflush(stdout);
    drawn_ = true;
    return;
  }
  const int decile = static_cast<int>(fraction * 10);
  if (state != last_state_ || decile != last_decile_) {
    std::printf("%s: %s / %s (%d%%)\n", std::string(JobStateName(state)).c_str(),
                FormatBytes(progress.bytes_transferred).c_str(),
                size_known ? FormatBytes(progress.bytes_total).c_str() : "?", decile * 10);
    std::fflush(stdout);
  }
  last_state_ = state;
  last_decile_ = decile;
}

void ProgressBar::Finish() {
  if (terminal_ && drawn_) std::printf("\n");
  drawn_ = false;
}

}  // namespace openbits::cli
