// The one place where bitsd's concrete parts are chosen and connected (DESIGN.md 1).
#pragma once

#include <memory>
#include <string>

#include "daemon/config.h"
#include "openbits/result.h"

namespace openbits::daemon {

struct DaemonOptions {
  std::string bus;        // "system", "session" or a D-Bus address
  std::string state_dir;  // jobs.db lives here
  Config config;
};

// Runs bitsd until SIGTERM/SIGINT: opens the store, takes the bus name, recovers and publishes
// the queue, then serves. Returns when every transfer has been checkpointed and stopped.
Status RunDaemon(const DaemonOptions& options);

}  // namespace openbits::daemon
