#include "ipc/logon_sessions.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cstring>
#include <ctime>

#include "base/log.h"

namespace openbits::ipc {
namespace {

constexpr const char* kLogind = "org.freedesktop.login1";
constexpr const char* kManagerPath = "/org/freedesktop/login1";
constexpr const char* kManagerInterface = "org.freedesktop.login1.Manager";
// logind answers at once when it runs; a bus without it answers ServiceUnknown at once.
constexpr std::uint64_t kCallTimeoutUs = 5'000'000;

Error NoLogind(const std::string& bus, const std::string& why) {
  return Error(hr::E_FAIL, ErrorContext::kGeneralQueueManager,
               "no logind (" + std::string(kLogind) + ") answers on the " +
                   (bus == "system" ? std::string("system bus") : "bus " + bus) + ": " + why);
}

std::string ErrorText(int r, const sd_bus_error* error) {
  if (error && sd_bus_error_is_set(error)) {
    return std::string(error->name) + (error->message ? ": " + std::string(error->message) : "");
  }
  return std::strerror(-r);
}

}  // namespace

struct LogindSignals {
  // UserNew(u uid, o path) and UserRemoved(u uid, o path) of org.freedesktop.login1.Manager.
  static int OnUser(sd_bus_message* message, void* self, sd_bus_error*) {
    auto* sessions = static_cast<LogonSessions*>(self);
    std::uint32_t uid = 0;
    const char* path = nullptr;
    if (sd_bus_message_read(message, "uo", &uid, &path) < 0) return 0;  // not logind's shape
    const bool logged_on = std::strcmp(sd_bus_message_get_member(message), "UserNew") == 0;
    if (sessions->listener_) sessions->listener_(uid, logged_on);
    return 0;
  }
};

LogonSessions::~LogonSessions() { Stop(); }

Result<std::vector<std::uint32_t>> LogonSessions::Connect(const std::string& bus) {
  sd_bus* connection = nullptr;
  int r = 0;
  if (bus == "system") {
    r = sd_bus_open_system(&connection);
  } else if ((r = sd_bus_new(&connection)) >= 0) {
    if ((r = sd_bus_set_address(connection, bus.c_str())) >= 0 &&
        (r = sd_bus_set_bus_client(connection, 1)) >= 0) {
      r = sd_bus_start(connection);
    }
  }
  if (r < 0) {
    sd_bus_flush_close_unref(connection);
    return NoLogind(bus, std::string("cannot connect: ") + std::strerror(-r));
  }
  bus_ = connection;
  // Subscribed before listing, so that no logon falls between the list and the signals.
  for (const char* member : {"UserNew", "UserRemoved"}) {
    r = sd_bus_match_signal(bus_, nullptr, kLogind, kManagerPath, kManagerInterface, member,
                            &LogindSignals::OnUser, this);
    if (r < 0) {
      Stop();
      return NoLogind(bus, std::string("cannot subscribe to ") + member + ": " + std::strerror(-r));
    }
  }
  sd_bus_message* call = nullptr;
  sd_bus_message* reply = nullptr;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  r = sd_bus_message_new_method_call(bus_, &call, kLogind, kManagerPath, kManagerInterface,
                                     "ListUsers");
  if (r >= 0) r = sd_bus_call(bus_, call, kCallTimeoutUs, &error, &reply);
  sd_bus_message_unref(call);
  std::vector<std::uint32_t> users;
  if (r >= 0) r = sd_bus_message_enter_container(reply, 'a', "(uso)");
  while (r >= 0) {
    std::uint32_t uid = 0;
    const char* name = nullptr;
    const char* path = nullptr;
    r = sd_bus_message_read(reply, "(uso)", &uid, &name, &path);
    if (r <= 0) break;
    users.push_back(uid);
  }
  const std::string why = ErrorText(r, &error);
  sd_bus_error_free(&error);
  sd_bus_message_unref(reply);
  if (r < 0) {
    Stop();
    return NoLogind(bus, "ListUsers: " + why);
  }
  return users;
}

void LogonSessions::Watch(Listener listener, LostListener lost) {
  listener_ = std::move(listener);
  lost_ = std::move(lost);
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  thread_ = std::thread(&LogonSessions::Run, this);
}

void LogonSessions::Stop() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  if (stop_fd_ >= 0) close(stop_fd_);
  stop_fd_ = -1;
  bus_ = sd_bus_flush_close_unref(bus_);
}

void LogonSessions::Run() {
  for (;;) {
    int r = 0;
    while ((r = sd_bus_process(bus_, nullptr)) > 0) {
    }
    if (r < 0) {
      const std::string why =
          std::string("lost the connection to logind's bus: ") + std::strerror(-r);
      log::Get("ipc")->warn("{}", why);
      if (lost_) lost_(why);
      return;
    }
    pollfd fds[2] = {{sd_bus_get_fd(bus_), static_cast<short>(sd_bus_get_events(bus_)), 0},
                     {stop_fd_, POLLIN, 0}};
    // sd-bus's own deadline (absolute, CLOCK_MONOTONIC); none while only signals arrive.
    std::uint64_t deadline_us = 0;
    int timeout_ms = -1;
    if (sd_bus_get_timeout(bus_, &deadline_us) > 0 && deadline_us != UINT64_MAX) {
      timespec now{};
      clock_gettime(CLOCK_MONOTONIC, &now);
      const std::uint64_t now_us =
          std::uint64_t(now.tv_sec) * 1'000'000 + std::uint64_t(now.tv_nsec) / 1000;
      timeout_ms = deadline_us > now_us ? int((deadline_us - now_us + 999) / 1000) : 0;
    }
    if (poll(fds, 2, timeout_ms) < 0 && errno != EINTR) return;
    if (fds[1].revents & POLLIN) return;
  }
}

}  // namespace openbits::ipc
