#include "ipc/caller_registry.h"

#include <systemd/sd-bus.h>

#include <sdbus-c++/sdbus-c++.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "identity/users.h"

namespace openbits::ipc {
namespace {

// The umask of process `pid` if it runs as `uid` (real and effective), from the "Umask:" and
// "Uid:" lines of /proc/<pid>/status (Linux 4.7 and later). One read() of the file and a scan
// of its lines: this runs on the bus thread at every AddFile.
std::optional<std::uint32_t> UmaskOf(pid_t pid, std::uint32_t uid) {
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(pid));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buffer[8192];  // the status file is about 1.5 KiB
  std::size_t size = 0;
  for (ssize_t n;
       size < sizeof buffer - 1 && (n = read(fd, buffer + size, sizeof buffer - 1 - size)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    size += static_cast<std::size_t>(n);
  }
  close(fd);
  buffer[size] = '\0';
  std::optional<std::uint32_t> umask;
  bool same_uid = false;
  for (const char* line = buffer; line < buffer + size;) {
    const char* end = std::strchr(line, '\n');
    if (!end) end = buffer + size;
    if (std::strncmp(line, "Umask:", 6) == 0) {
      char* parsed = nullptr;
      const unsigned long value = std::strtoul(line + 6, &parsed, 8);
      if (parsed != line + 6 && value <= 0777) umask = static_cast<std::uint32_t>(value);
    } else if (std::strncmp(line, "Uid:", 4) == 0) {
      char* after_real = nullptr;
      char* after_effective = nullptr;
      const unsigned long real = std::strtoul(line + 4, &after_real, 10);
      const unsigned long effective = std::strtoul(after_real, &after_effective, 10);
      same_uid = after_real != line + 4 && after_effective != after_real && real == uid &&
                 effective == uid;
    }
    line = end + 1;
  }
  if (!same_uid) return std::nullopt;
  return umask;
}

}  // namespace

CallerRegistry::CallerRegistry(sdbus::IConnection& connection, std::string admin_group)
    : admin_group_(std::move(admin_group)) {
  bus_driver_ = sdbus::createProxy(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus");
  bus_driver_->uponSignal("NameOwnerChanged")
      .onInterface("org.freedesktop.DBus")
      .call([this](const std::string& name, const std::string&, const std::string& new_owner) {
        if (new_owner.empty()) callers_.erase(name);
      });
  bus_driver_->finishRegistration();
}

CallerRegistry::~CallerRegistry() = default;

CallerRegistry::Connection& CallerRegistry::ConnectionOf(const sdbus::Message& message) {
  const std::string sender = message.getSender();
  if (auto it = callers_.find(sender); it != callers_.end()) return it->second;
  return Remember(sender, static_cast<std::uint32_t>(message.getCredsUid()));
}

core::Caller CallerRegistry::Resolve(const sdbus::Message& message) {
  return ConnectionOf(message).caller;
}

std::optional<core::Caller> CallerRegistry::Resolve(sd_bus_message* message) {
  const char* sender = sd_bus_message_get_sender(message);
  if (!sender) return std::nullopt;
  if (auto it = callers_.find(sender); it != callers_.end()) return it->second.caller;
  // As sdbus::Message::getCredsUid asks: the uid, from the bus when the message lacks it.
  sd_bus_creds* creds = nullptr;
  uid_t uid = 0;
  const bool known =
      sd_bus_query_sender_creds(message, SD_BUS_CREDS_UID | SD_BUS_CREDS_AUGMENT, &creds) >= 0 &&
      sd_bus_creds_get_uid(creds, &uid) >= 0;
  sd_bus_creds_unref(creds);
  if (!known) return std::nullopt;
  return Remember(sender, static_cast<std::uint32_t>(uid)).caller;
}

bool CallerRegistry::IsAdmin(std::uint32_t uid) const {
  return identity::IsAdmin(uid, admin_group_);
}

CallerRegistry::Connection& CallerRegistry::Remember(const std::string& sender, std::uint32_t uid) {
  Connection connection;
  connection.caller.uid = uid;
  connection.caller.gid = identity::PrimaryGid(uid);
  connection.caller.is_admin = identity::IsAdmin(uid, admin_group_);
  return callers_.insert_or_assign(sender, connection).first->second;
}

std::uint32_t CallerRegistry::FileCreationMode(const sdbus::Message& message) {
  Connection& connection = ConnectionOf(message);
  if (!connection.pid) {
    try {
      connection.pid = message.getCredsPid();
    } catch (const sdbus::Error&) {
      connection.pid = 0;  // no pid from the bus (e.g. a peer across a proxy): the default
    }
  }
  std::optional<std::uint32_t> umask;
  if (*connection.pid > 0) umask = UmaskOf(*connection.pid, connection.caller.uid);
  return umask ? (0666 & ~*umask) : core::kDefaultFileMode;
}

std::vector<std::string> CallerRegistry::ConnectionsOf(std::uint32_t uid) const {
  std::vector<std::string> names;
  for (const auto& [name, connection] : callers_) {
    if (connection.caller.uid == uid) names.push_back(name);
  }
  return names;
}

}  // namespace openbits::ipc
