// openbits-pac-helper: evaluates a PAC script (untrusted JavaScript) for bitsd, out of the
// daemon's process and without its privileges (DESIGN.md 2).
//
//   openbits-pac-helper [--memory-mb N] [--cpu-s N] < input
//
// The input is the queries, a line for the URL and a line for the host each, then an empty
// line, then the script. URLs are never arguments: /proc/<pid>/cmdline is readable by every
// user, and a URL may carry tokens.
// Prints one line per URL: FindProxyForURL's answer, or "ERROR". Exit status 2: the script
// does not parse or the input is malformed; 3: pacparser cannot start; 4: privileges could
// not be dropped.
// As root it becomes nobody first; it always limits its memory and CPU time, and bitsd kills
// it when it does not answer in time.
#include <grp.h>
#include <pacparser.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kMaxScriptBytes = 1 << 20;
// The queries before the script (URLs and hosts).
constexpr std::size_t kMaxQueryBytes = 64 * 1024;

int PrintError(const char* format, va_list arguments) {
  return std::vfprintf(stderr, format, arguments);
}

bool DropPrivileges() {
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (geteuid() != 0) return true;
  const passwd* nobody = getpwnam("nobody");
  const uid_t uid = nobody ? nobody->pw_uid : 65534;
  const gid_t gid = nobody ? nobody->pw_gid : 65534;
  return setgroups(0, nullptr) == 0 && setresgid(gid, gid, gid) == 0 &&
         setresuid(uid, uid, uid) == 0 && geteuid() == uid;
}

void Limit(int resource, rlim_t value) {
  const rlimit limit{value, value};
  setrlimit(resource, &limit);
}

}  // namespace

int main(int argc, char** argv) {
  if (!DropPrivileges()) {
    std::fprintf(stderr, "cannot drop privileges\n");
    return 4;
  }
  rlim_t memory_mb = 256, cpu_s = 10;
  int first = 1;
  while (first + 1 < argc && std::strncmp(argv[first], "--", 2) == 0) {
    const std::string option = argv[first];
    const rlim_t value = std::strtoull(argv[first + 1], nullptr, 10);
    if (option == "--memory-mb") memory_mb = value;
    if (option == "--cpu-s") cpu_s = value;
    first += 2;
  }
#if !defined(__SANITIZE_ADDRESS__)
  // (An ASan build maps terabytes of shadow memory: there the CPU limit and bitsd's deadline
  // remain.)
  Limit(RLIMIT_AS, memory_mb << 20);
#else
  (void)memory_mb;
#endif
  Limit(RLIMIT_CPU, cpu_s);
  Limit(RLIMIT_NOFILE, 16);
  Limit(RLIMIT_CORE, 0);

  std::string input;
  char buffer[65536];
  for (std::size_t got; (got = std::fread(buffer, 1, sizeof buffer, stdin)) > 0;) {
    input.append(buffer, got);
    if (input.size() > kMaxScriptBytes + kMaxQueryBytes) {
      std::fprintf(stderr, "the PAC script is larger than 1 MiB\n");
      return 2;
    }
  }
  std::vector<std::string> queries;  // URL, host, URL, host...
  std::size_t at = 0;
  for (std::size_t end; (end = input.find('\n', at)) != std::string::npos && end > at;
       at = end + 1) {
    queries.emplace_back(input, at, end - at);
  }
  if (at >= input.size() || input[at] != '\n' || queries.size() % 2 != 0 || at > kMaxQueryBytes) {
    std::fprintf(stderr, "malformed input: URL and host lines, an empty line, the script\n");
    return 2;
  }
  const std::string script = input.substr(at + 1);
  pacparser_set_error_printer(PrintError);
  if (!pacparser_init()) return 3;
  pacparser_enable_microsoft_extensions();
  if (!pacparser_parse_pac_string(script.c_str())) {
    std::fprintf(stderr, "the PAC script does not parse\n");
    return 2;
  }
  for (std::size_t i = 0; i + 1 < queries.size(); i += 2) {
    // Owned by pacparser (it is sometimes JS memory, sometimes not: never freed here).
    const char* answer = pacparser_find_proxy(queries[i].c_str(), queries[i + 1].c_str());
    std::printf("%s\n", answer && *answer ? answer : "ERROR");
  }
  std::fflush(stdout);
  pacparser_cleanup();
  return 0;
}
