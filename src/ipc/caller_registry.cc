#include "ipc/caller_registry.h"

#include <systemd/sd-bus.h>

#include <sdbus-c++/sdbus-c++.h>

#include <fstream>
#include <optional>
#include <sstream>

#include "identity/users.h"

namespace openbits::ipc {
namespace {

// The umask of process `pid` if it runs as `uid` (real and effective), from the "Umask:" and
// "Uid:" lines of /proc/<pid>/status (Linux 4.7 and later).
std::optional<std::uint32_t> UmaskOf(pid_t pid, std::uint32_t uid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::optional<std::uint32_t> umask;
  bool same_uid = false;
  for (std::string line; std::getline(status, line);) {
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    if (key == "Umask:") {
      std::uint32_t value = 0;
      if (fields >> std::oct >> value && value <= 0777) umask = value;
    } else if (key == "Uid:") {
      std::uint32_t real = 0, effective = 0;
      same_uid = (fields >> real >> effective) && real == uid && effective == uid;
    }
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
