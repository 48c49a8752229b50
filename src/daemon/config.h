// bitsd.conf: INI ("[section]", "key = value", "#" comments). Every key, with its default,
// is documented in service/bitsd.conf; an unknown key or a bad value is an error with its
// line number, never silently ignored.
#pragma once

#include <cstdint>
#include <string>

#include "core/job_manager.h"
#include "openbits/result.h"
#include "transfer/certificate_store.h"
#include "transfer/curl_transport.h"

namespace openbits::daemon {

struct Config {
  // [limits], [transfer]; [tls] local_machine_cert_uids (manager.access)
  core::ManagerOptions manager;
  transfer::CurlTransportOptions curl;             // [transfer]
  transfer::CertificateStoreOptions certificates;  // [tls] user/machine_store_root
  std::string admin_group = "bitsadmin";           // [identity]
  bool watch_network = true;  // [transfer]: jobs wait while the network is gone
  // [engine] threads: downloads in flight at once on the engine (0: max(16,
  // max_background_jobs x parallel_files)).
  std::uint32_t engine_threads = 0;
  std::string log_level = "info";  // [log]
  // [logon] gating: a human uid's jobs run only while it is logged on (logind). Off by
  // itself when no logind answers on login1_bus ("system" or a D-Bus address, for tests).
  bool logon_gating = true;
  std::string login1_bus = "system";
};

Result<Config> ParseConfig(const std::string& text, const std::string& source);
Result<Config> LoadConfigFile(const std::string& path);

}  // namespace openbits::daemon
