// LogonSessions: who is logged on, from systemd-logind (org.freedesktop.login1), for owner
// logon gating (core/job_logon.cc). A uid is logged on while logind has a user object for
// it: from its first session until UserRemoved (after its last session closed), and all the
// time while it lingers (`loginctl enable-linger`). It lists the users at start (ListUsers)
// and follows the Manager's UserNew and UserRemoved signals on an sd-bus connection and a
// thread of its own: no polling, and the daemon's own bus never waits on logind.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "openbits/result.h"

typedef struct sd_bus sd_bus;  // NOLINT(modernize-use-using): as sd-bus.h declares it

namespace openbits::ipc {

class LogonSessions {
 public:
  using Listener = std::function<void(std::uint32_t uid, bool logged_on)>;
  // The connection to logind's bus was lost: logons are no longer followed.
  using LostListener = std::function<void(const std::string& why)>;

  LogonSessions() = default;
  ~LogonSessions();
  LogonSessions(const LogonSessions&) = delete;
  LogonSessions& operator=(const LogonSessions&) = delete;

  // Connects to `bus` ("system" or a D-Bus address), subscribes to UserNew and UserRemoved,
  // then lists the uids logged on now. An error (with the cause) when no logind answers
  // there within a few seconds.
  Result<std::vector<std::uint32_t>> Connect(const std::string& bus);
  // Follows logons and logoffs; the listeners run on the watcher's thread. Signals that
  // arrived since Connect are delivered first. REQUIRES: Connect succeeded.
  void Watch(Listener listener, LostListener lost);
  void Stop();

 private:
  friend struct LogindSignals;  // the sd-bus callback (logon_sessions.cc)
  void Run();

  sd_bus* bus_ = nullptr;
  int stop_fd_ = -1;
  Listener listener_;
  LostListener lost_;
  std::thread thread_;
};

}  // namespace openbits::ipc
