// The core module's logger and its shared error helpers.
#pragma once

#include <memory>

#include "base/log.h"
#include "openbits/guid.h"
#include "openbits/result.h"

namespace openbits::core {

inline std::shared_ptr<spdlog::logger> Log() {
  static const auto logger = log::Get("core");
  return logger;
}

// The answer for a job that does not exist or that the caller may not see: the two are
// indistinguishable on purpose.
inline Error JobNotFound(const Guid& id) {
  return Error::NotFound("no job " + id.ToString() + " is visible to the caller");
}

}  // namespace openbits::core
