// CallerRegistry: who is calling. Resolves the uid of a bus sender (cached per unique name,
// dropped when the name leaves the bus) and remembers each uid's connections, so that
// signals go unicast to the job owner and nobody else.
#pragma once

#include <sys/types.h>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/job_manager.h"

namespace sdbus {
class IConnection;
class IProxy;
class Message;
}  // namespace sdbus
struct sd_bus_message;

namespace openbits::ipc {

class CallerRegistry {
 public:
  CallerRegistry(sdbus::IConnection& connection, std::string admin_group);
  ~CallerRegistry();

  // The caller of the message being processed. Bus thread only.
  core::Caller Resolve(const sdbus::Message& message);
  // The same for a raw sd-bus message (a filter that runs before sdbus-c++ sees it); nullopt
  // when the bus cannot say who sent it.
  std::optional<core::Caller> Resolve(sd_bus_message* message);
  // The mode a file created now by the caller's process would get without a default ACL:
  // 0666 & ~umask, with the umask read from /proc/<pid>/status of the sender's process (its
  // pid from the bus, asked once per connection: it is the pid dbus-daemon recorded when the
  // connection was made, so it cannot change). kDefaultFileMode (umask 022) when the pid or
  // umask cannot be read or the process is no longer the caller's uid (a pid reused since it
  // connected). The umask is read at every call, not cached: a process may change it. Bus
  // thread only.
  std::uint32_t FileCreationMode(const sdbus::Message& message);
  // Whether `uid` is an administrator (root or a member of the admin group).
  bool IsAdmin(std::uint32_t uid) const;
  // Unique names of the connections of `uid` that have called us and are still on the bus.
  std::vector<std::string> ConnectionsOf(std::uint32_t uid) const;

 private:
  struct Connection {
    core::Caller caller;
    // The sender's pid: asking the bus for it is a round trip to dbus-daemon
    // (GetConnectionUnixProcessID) that would stall the bus thread at every AddFile.
    std::optional<pid_t> pid;  // nullopt: not asked yet
  };
  Connection& Remember(const std::string& sender, std::uint32_t uid);
  Connection& ConnectionOf(const sdbus::Message& message);

  std::string admin_group_;
  std::unique_ptr<sdbus::IProxy> bus_driver_;
  std::map<std::string, Connection> callers_;  // by unique name
};

}  // namespace openbits::ipc
