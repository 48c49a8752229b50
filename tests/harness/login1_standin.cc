// login1_standin ADDRESS [UID...]: a stand-in for systemd-logind on a private bus, for the
// logon gating tests. It owns org.freedesktop.login1 and serves, on /org/freedesktop/login1,
// the parts of org.freedesktop.login1.Manager that bitsd uses, with logind's signatures:
//   ListUsers() -> a(uso)         (uid, user name, user object path)
//   ListSessions() -> a(susso)    (session id, uid, user name, seat, session object path)
//   signals UserNew(u, o), UserRemoved(u, o), SessionNew(s, o), SessionRemoved(s, o)
// The UIDs given start logged on, with one session each. The test drives logons on the
// interface org.openbits.test.Login1 of the same object:
//   LogOn(u uid): SessionNew, then UserNew when it is the uid's first session
//   LogOff(u uid): SessionRemoved for each of the uid's sessions, then UserRemoved
// (logind's order). Prints "ready" once the name is owned.
#include <pwd.h>
#include <systemd/sd-bus.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

namespace {

struct Session {
  std::string id;
  std::uint32_t uid;
};

std::map<std::string, Session> g_sessions;  // by id
unsigned g_next_session = 1;

std::string UserName(std::uint32_t uid) {
  const passwd* entry = getpwuid(uid);
  return entry ? entry->pw_name : std::to_string(uid);
}
std::string UserPath(std::uint32_t uid) {
  return "/org/freedesktop/login1/user/_" + std::to_string(uid);
}
std::string SessionPath(const std::string& id) { return "/org/freedesktop/login1/session/_3" + id; }
bool HasSession(std::uint32_t uid) {
  for (const auto& [id, session] : g_sessions) {
    if (session.uid == uid) return true;
  }
  return false;
}

constexpr const char* kPath = "/org/freedesktop/login1";
constexpr const char* kManager = "org.freedesktop.login1.Manager";

int ListUsers(sd_bus_message* call, void*, sd_bus_error*) {
  sd_bus_message* reply = nullptr;
  int r = sd_bus_message_new_method_return(call, &reply);
  if (r >= 0) r = sd_bus_message_open_container(reply, 'a', "(uso)");
  std::map<std::uint32_t, bool> users;
  for (const auto& [id, session] : g_sessions) users[session.uid] = true;
  for (const auto& [uid, unused] : users) {
    if (r >= 0) {
      r = sd_bus_message_append(reply, "(uso)", uid, UserName(uid).c_str(), UserPath(uid).c_str());
    }
  }
  if (r >= 0) r = sd_bus_message_close_container(reply);
  if (r >= 0) r = sd_bus_send(nullptr, reply, nullptr);
  sd_bus_message_unref(reply);
  return r;
}

int ListSessions(sd_bus_message* call, void*, sd_bus_error*) {
  sd_bus_message* reply = nullptr;
  int r = sd_bus_message_new_method_return(call, &reply);
  if (r >= 0) r = sd_bus_message_open_container(reply, 'a', "(susso)");
  for (const auto& [id, session] : g_sessions) {
    if (r >= 0) {
      r = sd_bus_message_append(reply, "(susso)", id.c_str(), session.uid,
                                UserName(session.uid).c_str(), "", SessionPath(id).c_str());
    }
  }
  if (r >= 0) r = sd_bus_message_close_container(reply);
  if (r >= 0) r = sd_bus_send(nullptr, reply, nullptr);
  sd_bus_message_unref(reply);
  return r;
}

int LogOn(sd_bus_message* call, void*, sd_bus_error*) {
  std::uint32_t uid = 0;
  int r = sd_bus_message_read(call, "u", &uid);
  if (r < 0) return r;
  sd_bus* bus = sd_bus_message_get_bus(call);
  const bool first = !HasSession(uid);
  const std::string id = std::to_string(g_next_session++);
  g_sessions[id] = Session{id, uid};
  if (first) {
    r = sd_bus_emit_signal(bus, kPath, kManager, "UserNew", "uo", uid, UserPath(uid).c_str());
    if (r < 0) return r;
  }
  r = sd_bus_emit_signal(bus, kPath, kManager, "SessionNew", "so", id.c_str(),
                         SessionPath(id).c_str());
  if (r < 0) return r;
  std::printf("logon %u session %s\n", uid, id.c_str());
  std::fflush(stdout);
  return sd_bus_reply_method_return(call, "");
}

int LogOff(sd_bus_message* call, void*, sd_bus_error*) {
  std::uint32_t uid = 0;
  int r = sd_bus_message_read(call, "u", &uid);
  if (r < 0) return r;
  sd_bus* bus = sd_bus_message_get_bus(call);
  const bool had = HasSession(uid);
  for (auto it = g_sessions.begin(); it != g_sessions.end();) {
    if (it->second.uid != uid) {
      ++it;
      continue;
    }
    r = sd_bus_emit_signal(bus, kPath, kManager, "SessionRemoved", "so", it->first.c_str(),
                           SessionPath(it->first).c_str());
    if (r < 0) return r;
    it = g_sessions.erase(it);
  }
  if (had) {
    r = sd_bus_emit_signal(bus, kPath, kManager, "UserRemoved", "uo", uid, UserPath(uid).c_str());
    if (r < 0) return r;
  }
  std::printf("logoff %u\n", uid);
  std::fflush(stdout);
  return sd_bus_reply_method_return(call, "");
}

const sd_bus_vtable kManagerVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("ListUsers", "", "a(uso)", ListUsers, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("ListSessions", "", "a(susso)", ListSessions, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL("UserNew", "uo", 0),
    SD_BUS_SIGNAL("UserRemoved", "uo", 0),
    SD_BUS_SIGNAL("SessionNew", "so", 0),
    SD_BUS_SIGNAL("SessionRemoved", "so", 0),
    SD_BUS_VTABLE_END};

const sd_bus_vtable kControlVtable[] = {
    SD_BUS_VTABLE_START(0), SD_BUS_METHOD("LogOn", "u", "", LogOn, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("LogOff", "u", "", LogOff, SD_BUS_VTABLE_UNPRIVILEGED), SD_BUS_VTABLE_END};

int Fail(const char* what, int r) {
  std::fprintf(stderr, "login1_standin: %s: %s\n", what, std::strerror(-r));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: login1_standin ADDRESS [UID...]\n");
    return 2;
  }
  for (int i = 2; i < argc; ++i) {
    const std::string id = std::to_string(g_next_session++);
    g_sessions[id] = Session{id, static_cast<std::uint32_t>(std::strtoul(argv[i], nullptr, 10))};
  }
  sd_bus* bus = nullptr;
  int r = sd_bus_new(&bus);
  if (r >= 0) r = sd_bus_set_address(bus, argv[1]);
  if (r >= 0) r = sd_bus_set_bus_client(bus, 1);
  if (r >= 0) r = sd_bus_start(bus);
  if (r < 0) return Fail("connect", r);
  r = sd_bus_add_object_vtable(bus, nullptr, kPath, kManager, kManagerVtable, nullptr);
  if (r < 0) return Fail("manager object", r);
  r = sd_bus_add_object_vtable(bus, nullptr, kPath, "org.openbits.test.Login1", kControlVtable,
                               nullptr);
  if (r < 0) return Fail("control object", r);
  r = sd_bus_request_name(bus, "org.freedesktop.login1", 0);
  if (r < 0) return Fail("request name", r);
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) {
    r = sd_bus_process(bus, nullptr);
    if (r < 0) return Fail("process", r);
    if (r > 0) continue;
    r = sd_bus_wait(bus, UINT64_MAX);
    if (r < 0 && r != -EINTR) return Fail("wait", r);
  }
}
