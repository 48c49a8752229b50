#include "daemon/wiring.h"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <sdbus-c++/sdbus-c++.h>
#include <algorithm>
#include <chrono>
#include <filesystem>

#include "auth/user_ccache.h"
#include "base/log.h"
#include "core/job_manager.h"
#include "core/system_clock.h"
#include "identity/posix_local_file_system.h"
#include "identity/process_launcher.h"
#include "identity/users.h"
#include "ipc/bus_event_sink.h"
#include "ipc/bus_loop.h"
#include "ipc/caller_registry.h"
#include "ipc/job_objects.h"
#include "ipc/logon_sessions.h"
#include "ipc/manager_adaptor.h"
#include "openbits/dbus_names.h"
#include "store/sqlite_job_store.h"
#include "transfer/certificate_store.h"
#include "transfer/curl_multi_engine.h"
#include "transfer/network_monitor.h"

namespace openbits::daemon {
namespace {

Result<std::unique_ptr<sdbus::IConnection>> ConnectToBus(const std::string& bus) {
  try {
    std::unique_ptr<sdbus::IConnection> connection;
    if (bus == "system") {
      connection = sdbus::createSystemBusConnection();
    } else if (bus == "session") {
      connection = sdbus::createSessionBusConnection();
    } else {
      connection = sdbus::createSessionBusConnectionWithAddress(bus);
    }
    connection->requestName(dbus::kBusName);
    return connection;
  } catch (const sdbus::Error& error) {
    return Error(hr::E_FAIL, ErrorContext::kGeneralQueueManager,
                 "cannot own " + std::string(dbus::kBusName) + " on the " + bus +
                     " bus (is another bitsd running?): " + error.getMessage());
  }
}

}  // namespace

Status RunDaemon(const DaemonOptions& options) {
  const auto logger = log::Get("daemon");

  // 1. The machine key and the job store.
  auto secrets = store::SecretBox::OpenOrCreate(options.state_dir + "/secret.key");
  if (!secrets) return secrets.error();
  auto store = store::SqliteJobStore::Open(options.state_dir + "/jobs.db", std::move(*secrets));
  if (!store) return store.error();

  // 2. The bus name: exactly one bitsd per bus.
  auto connection = ConnectToBus(options.bus);
  if (!connection) return connection.error();
  // Blocks SIGTERM/SIGINT before any other thread exists, so they all inherit the mask.
  ipc::BusLoop loop(**connection);

  // 3. The concrete parts.
  transfer::FileCertificateStore certificates(options.config.certificates);
  core::AccountProxies account_proxies(**store);
  OPENBITS_RETURN_IF_ERROR(account_proxies.Load());
  transfer::CurlTransportOptions curl = options.config.curl;
  if (curl.proxy.pac.helper_path.empty()) {
    // openbits-pac-helper is installed beside bitsd.
    std::error_code ignored;
    curl.proxy.pac.helper_path =
        (std::filesystem::read_symlink("/proc/self/exe", ignored).parent_path() /
         "openbits-pac-helper")
            .string();
  }
  // Built once and shared by every transfer: TLS trust, proxy resolver with its PAC
  // fetcher, the side channel of authentication and the certificate stores.
  auto network_services = transfer::NetworkServices::Create(curl, &certificates, &account_proxies);
  if (!network_services) return network_services.error();
  if (options.config.curl.auth.allow_basic_over_http) {
    logger->warn(
        "[auth] allow_basic_over_http is set: Basic passwords may cross the network "
        "in the clear");
  }
  identity::PosixLocalFileSystem files;
  identity::ProcessLauncher commands;
  core::SystemClock clock;
  ipc::CallerRegistry callers(**connection, options.config.admin_group);
  ipc::BusEventSink events(loop, callers);
  core::ManagerOptions manager_options = options.config.manager;
  manager_options.daemon_uid = static_cast<std::uint32_t>(geteuid());
  manager_options.helper_token_digest = store::Sha256;
  manager_options.user_exists = identity::UserExists;
  manager_options.credential_cache_check = auth::CheckCredentialCache;
  // The engine: downloads in flight over every job, each engine thread with its own
  // connections. Declared before the manager, which it outlives.
  std::uint32_t engine_threads = options.config.engine_threads;
  if (engine_threads == 0) {
    engine_threads = std::max<std::uint32_t>(
        16, manager_options.max_background_jobs * manager_options.parallel_files);
  }
  transfer::CurlMultiEngineOptions engine_options;
  engine_options.blocking_workers = engine_threads;
  transfer::CurlMultiEngine engine(**network_services, engine_options);
  core::JobManager manager(manager_options, **store, engine, files, events, commands, clock);

  // The network: jobs wait in TRANSIENT_ERROR while it is gone.
  transfer::NetworkMonitor network;
  if (options.config.watch_network) {
    manager.SetNetworkConnected(
        network.Start([&manager](bool connected) { manager.SetNetworkConnected(connected); }));
  }

  // Owner logon gating: set before the queue starts, so that no job of a logged-off owner
  // runs in between. Without logind (containers, minimal servers) it is off.
  ipc::LogonSessions logons;
  if (options.config.logon_gating) {
    auto logged_on = logons.Connect(options.config.login1_bus);
    if (logged_on) {
      manager.SetLogonGating(true, *logged_on);
      logons.Watch([&manager](std::uint32_t uid, bool on) { manager.SetLoggedOn(uid, on); },
                   [&manager, logger](const std::string& why) {
                     logger->warn("Owner logon gating is off from now on ({})", why);
                     manager.SetLogonGating(false);
                   });
    } else {
      logger->warn("Owner logon gating is off: {}; every owner's jobs run at any time",
                   logged_on.error().message());
    }
  } else {
    logger->info("Owner logon gating is off ([logon] gating = false)");
  }

  // 4. Recover the queue and serve it: one handler for every job path, nothing per job.
  OPENBITS_RETURN_IF_ERROR(manager.Start());
  ipc::JobObjects objects(**connection, manager, callers, loop);
  events.Serve(objects);
  ipc::ManagerAdaptor manager_object(**connection, manager, callers, certificates, account_proxies);

  // 5. Serve.
  sd_notify(0, "READY=1");
  logger->info("bitsd ready on the {} bus as uid {}, state in {}", options.bus, geteuid(),
               options.state_dir);
  // Ends on SIGTERM/SIGINT (Ok) or when the bus is lost (an error: bitsd exits non-zero and
  // the service manager restarts it; the queue is on disk).
  const Status served = loop.Run();

  // 6. Stop: every transfer checkpoints before the threads end.
  sd_notify(0, "STOPPING=1");
  network.Stop();
  logons.Stop();
  manager.Stop();
  engine.Shutdown();
  logger->info("bitsd stopped");
  return served;
}

}  // namespace openbits::daemon
