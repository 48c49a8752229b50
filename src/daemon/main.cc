// bitsd: the OpenBITS service.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string_view>

#include "base/log.h"
#include "daemon/state_directory.h"
#include "daemon/wiring.h"

namespace {

constexpr const char* kUsage = R"(Usage: bitsd [OPTIONS]
The OpenBITS Background Intelligent Transfer Service.

  --bus=system|session|ADDRESS  bus to serve (default: system as root, else session)
  --state-dir=DIR               job database directory
                                (default: /var/lib/openbits as root,
                                 else $XDG_STATE_HOME/openbits or ~/.local/state/openbits)
  --config=FILE                 configuration (default: /etc/openbits/bitsd.conf if present)
  --log-level=LEVEL             trace, debug, info, warn, error or off (default: info)
  --help, --version
)";

std::string DefaultStateDir() {
  if (geteuid() == 0) return "/var/lib/openbits";
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) {
    return std::string(xdg) + "/openbits";
  }
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/tmp") + "/.local/state/openbits";
}

bool TakeOption(std::string_view arg, std::string_view name, std::string& out) {
  if (!arg.starts_with(name) || arg.size() <= name.size() || arg[name.size()] != '=') {
    return false;
  }
  out = std::string(arg.substr(name.size() + 1));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  openbits::daemon::DaemonOptions options;
  options.bus = geteuid() == 0 ? "system" : "session";
  options.state_dir = DefaultStateDir();
  std::string config_path, log_level;
  bool config_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (arg == "--version") {
      std::cout << "bitsd (OpenBITS) 0.1.0\n";
      return 0;
    }
    if (TakeOption(arg, "--bus", options.bus) ||
        TakeOption(arg, "--state-dir", options.state_dir) ||
        TakeOption(arg, "--log-level", log_level)) {
      continue;
    }
    if (TakeOption(arg, "--config", config_path)) {
      config_given = true;
      continue;
    }
    std::cerr << "bitsd: unknown argument '" << arg << "'\n" << kUsage;
    return 2;
  }
  if (!config_given && std::filesystem::exists("/etc/openbits/bitsd.conf")) {
    config_path = "/etc/openbits/bitsd.conf";
  }
  if (!config_path.empty()) {
    auto config = openbits::daemon::LoadConfigFile(config_path);
    if (!config) {
      std::cerr << "bitsd: " << config.error().message() << "\n";
      return 2;
    }
    options.config = std::move(*config);
  }
  if (log_level.empty()) log_level = options.config.log_level;
  if (!openbits::log::Init(log_level)) {
    std::cerr << "bitsd: unknown log level '" << log_level << "'\n";
    return 2;
  }
  // Held until bitsd exits: one bitsd per queue.
  auto state_dir = openbits::daemon::StateDirectory::Acquire(options.state_dir);
  if (!state_dir) {
    std::cerr << "bitsd: " << state_dir.error().message() << "\n";
    return 1;
  }
  openbits::Status status = openbits::Ok();
  try {
    status = openbits::daemon::RunDaemon(options);
  } catch (const std::exception& error) {
    // The last net under the bus (sdbus::Error is one): a failure while setting up or
    // tearing down objects on a connection that just dropped ends bitsd with a logged cause
    // and a failure status the service manager restarts on, never with std::terminate.
    status = openbits::Error(openbits::hr::E_FAIL, openbits::ErrorContext::kGeneralQueueManager,
                             error.what());
  }
  if (!status) {
    openbits::log::Get("daemon")->error("Failed to run bitsd: {}", status.error().ToString());
    return 1;
  }
  return 0;
}
