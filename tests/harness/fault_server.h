// tests/harness/fault_server.py: a server that fails downloads on purpose (resets, truncated
// bodies, hangs, error statuses, ignored ranges, changed files). See the script for its paths.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/harness.h"

namespace openbits::harness {

class FaultServer {
 public:
  explicit FaultServer(const TempDir& dir, const std::string& host = "127.0.0.1");
  int port() const { return port_; }
  std::string Url(const std::string& path_and_query) const;
  // The requests received, one JSON line each (method, path, range, if_range, status).
  std::vector<std::string> LogLines() const;
  // The bytes /file?len=`length`&seed=`seed` serves (the script's generate()).
  static std::string Content(std::uint32_t seed, std::size_t length);

 private:
  std::string host_;
  std::string log_path_;
  int port_ = 0;
  Process process_;
};

}  // namespace openbits::harness
