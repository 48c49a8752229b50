// PacEvaluator: runs FindProxyForURL of a PAC script in openbits-pac-helper, a process of
// its own without privileges, with a memory and CPU limit and a wall-clock deadline, so that
// a hostile or looping script can neither harm nor stall bitsd.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "openbits/result.h"

namespace openbits::proxy {

struct PacEvaluatorOptions {
  std::string helper_path;  // openbits-pac-helper
  // A script that has not answered by then is killed. Default: 5 s.
  std::chrono::milliseconds timeout{5000};
  std::uint64_t memory_limit_mb = 256;
};

class PacEvaluator {
 public:
  explicit PacEvaluator(PacEvaluatorOptions options) : options_(std::move(options)) {}
  // The answer of FindProxyForURL(url, host). BG_E_INVALID_PROXY_INFO (context
  // GENERAL_TRANSPORT) when the script does not parse, fails, or runs out of time.
  Result<std::string> Evaluate(const std::string& script, const std::string& url,
                               const std::string& host) const;

 private:
  PacEvaluatorOptions options_;
};

}  // namespace openbits::proxy
