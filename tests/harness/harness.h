// The integration-test harness: real peers on loopback, each in a private temp directory,
// each stopped by PID. A private dbus-daemon, the project's range-capable HTTP server and
// bitsd itself; later peers (Apache, squid, KDC) join here.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace openbits::harness {

using namespace std::chrono_literals;

// Polls `condition` until it holds or `timeout` passes. Waiting on observable state with a
// deadline, never a bare sleep.
// How much slower a sanitized build (ASan/UBSan at -O0, TSan) runs than the release build.
// Bounds that a test asserts on the daemon's response time are multiplied by it: the bound
// still catches a stall (seconds of blocking in the release build), while the sanitizers'
// constant overhead (marshalling a 12 MB message at -O0 takes seconds) is not taken for one.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr int kTimeScale = 8;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr int kTimeScale = 8;
#else
inline constexpr int kTimeScale = 1;
#endif
#else
inline constexpr int kTimeScale = 1;
#endif
// Memory a sanitized daemon may hold beyond what it uses: ASan keeps freed blocks in a
// quarantine (256 MiB by default) before reusing them, so its RSS grows with the bytes freed,
// not with what is live. Bounds on the daemon's memory growth add it.
inline constexpr long kSanitizerSlackKib = kTimeScale > 1 ? 256L * 1024 : 0;

// Polls `condition` every `poll` until it holds (true) or `timeout` passed (false).
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 20s,
               std::chrono::milliseconds poll = 20ms);

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);
// Writes `size` pseudo-random bytes (seeded, so failures are reproducible).
void WriteRandomFile(const std::string& path, std::uint64_t size, std::uint32_t seed);
std::string Sha256OfFile(const std::string& path);
// A TCP port on 127.0.0.1 that nothing listens on (bound, then released).
int UnusedPort();
// Whether something accepts TCP connections on 127.0.0.1:port.
bool IsListening(int port);

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Who a child process runs as (root only can switch).
struct RunAs {
  uid_t uid;
  gid_t gid;
};

// The two ordinary local users of the multi-user tests, openbits-alice and openbits-bob
// (tests/run.sh creates them; dbus-daemon only admits uids that exist).
struct TestUsers {
  RunAs alice;
  RunAs bob;
};
// The users, or nullopt with why a test cannot act as them (not root, or missing): a reason
// to skip.
std::optional<TestUsers> FindTestUsers(std::string* why_not);

// A child process, killed (TERM, then KILL) when the object dies.
class Process {
 public:
  Process() = default;
  // Starts argv[0] with its output appended to `log_path` (or /dev/null when empty).
  static Process Start(const std::vector<std::string>& argv, const std::string& log_path,
                       std::optional<RunAs> run_as = std::nullopt);
  ~Process();
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;

  pid_t pid() const { return pid_; }
  bool running();
  void Signal(int signal);
  // Waits for exit; returns the exit status (128+signal when killed), or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout = 10s);
  // TERM, wait, then KILL. Returns the exit status, if the process was started.
  std::optional<int> Stop();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a command to completion; throws with its output when it fails (peer set-up steps).
void MustRun(const std::vector<std::string>& argv);

// Runs a command to completion (with a deadline) and captures its output.
// `cwd`: the working directory of the command (empty: this process's).
CommandResult Run(const std::vector<std::string>& argv, std::optional<RunAs> run_as = std::nullopt,
                  std::chrono::milliseconds timeout = 60s, const std::string& cwd = "");

// A CA and a server certificate signed by it, made with the openssl command line in
// `dir`/`name`-*.pem. ca_key and the CA's database let IssueServerCertificate and MakeCrl add
// more certificates and revoke them.
struct TestPki {
  std::string ca_cert;
  std::string server_cert;
  std::string server_key;
  std::string ca_key;
  std::string ca_config;  // for `openssl ca` (revocation, CRLs)
  // TLS server options for range_server.py: a CA whose clients it checks, and how.
  std::string client_ca;
  std::string client_verify;  // "", "optional" or "required"
  std::string max_tls;        // "", "1.2"
};
struct ServerCertificateOptions {
  std::string host = "localhost";  // the SAN: DNS:host (and IP:127.0.0.1 for localhost)
  bool expired = false;
  bool client_auth_only = false;  // extendedKeyUsage=clientAuth instead of serverAuth
};
TestPki MakeTestPki(const TempDir& dir, const std::string& name);
// Another server certificate of `ca`'s authority, under `name`.
TestPki IssueServerCertificate(const TempDir& dir, const TestPki& ca, const std::string& name,
                               const ServerCertificateOptions& options);
// A client certificate (clientAuth) of `ca`'s authority with its key, as `dir`/`name`.pem and
// .key (mode 0600), and the same as a password-less PKCS#12 `name`.p12.
struct ClientCertificateFiles {
  std::string certificate;
  std::string key;
  std::string pkcs12;
  std::string sha1;  // 40 lower-case hex digits of the DER certificate's SHA-1
};
ClientCertificateFiles IssueClientCertificate(const TempDir& dir, const TestPki& ca,
                                              const std::string& name);

// Revokes `certificate` (if not empty) and writes the CA's CRL; returns its path.
std::string MakeCrl(const TempDir& dir, const TestPki& ca, const std::string& certificate);

// A private dbus-daemon that any local uid may use.
class PrivateBus {
 public:
  explicit PrivateBus(const TempDir& dir);
  const std::string& address() const { return address_; }

 private:
  std::string address_;
  Process process_;
};

// tests/harness/range_server.py serving `root`; every request is logged as a JSON line.
class RangeServer {
 public:
  // Serves https with `tls` (server certificate and key) when given.
  // `port` 0: any free port.
  RangeServer(const TempDir& dir, const std::string& root,
              const std::optional<TestPki>& tls = std::nullopt,
              const std::string& host = "127.0.0.1", int port = 0);
  int port() const { return port_; }
  std::string Url(const std::string& path) const;
  // The "Range: bytes=N-" start offsets of the GET requests for `path`, in order.
  std::vector<std::uint64_t> RangeStarts(const std::string& path) const;
  std::vector<std::string> LogLines() const;

 private:
  std::string log_path_;
  std::string scheme_ = "http";
  std::string host_;
  int port_ = 0;
  Process process_;
};

// Apache httpd with mod_ssl serving `root` on two TLS ports of 127.0.0.1: one that requires a
// client certificate of `pki`'s CA, one that accepts one optionally. Every response carries
// X-Client-Cert: the subject DN of the client's certificate (empty without one).
class Apache {
 public:
  Apache(const TempDir& dir, const std::string& root, const TestPki& pki);
  static bool Installed();
  std::string RequireUrl(const std::string& path) const;
  std::string OptionalUrl(const std::string& path) const;
  std::string ErrorLog() const { return ReadFile(error_log_); }
  // One line per request served: "<begin us> <end us> <path>" (the times since the epoch at
  // which Apache began reading the request and finished answering it).
  std::string AccessLog() const { return ReadFile(access_log_); }

 private:
  int require_port_ = 0;
  int optional_port_ = 0;
  std::string error_log_;
  std::string access_log_;
  Process process_;
};

// bitsd on a private bus, with its own state directory and configuration.
class Bitsd {
 public:
  // `launcher` prefixes the command line (e.g. "ip netns exec NAME").
  Bitsd(const TempDir& dir, const std::string& bus_address, const std::string& config = "",
        std::vector<std::string> launcher = {});
  ~Bitsd();
  void Start();
  // SIGTERM and wait: the clean shutdown path. Returns bitsd's exit status (0 when clean),
  // or nullopt if it was not running or did not exit in time.
  std::optional<int> Stop();
  // SIGKILL: the crash path.
  void Kill();
  const std::string& state_dir() const { return state_dir_; }
  pid_t pid() const { return process_.pid(); }
  const std::string& log_path() const { return log_path_; }
  std::string Log() const { return ReadFile(log_path_); }

 private:
  std::string bus_address_;
  std::string state_dir_;
  std::string config_path_;
  std::string log_path_;
  std::vector<std::string> launcher_;
  Process process_;
};

// A network namespace joined to this one by a veth pair: this side 198.18.77.(4s+1), the
// namespace side 198.18.77.(4s+2) for slot s (a /30 of the project's own test hosts, one per
// slot so that tests in parallel do not meet). `etc_files` (name -> content, e.g. "hosts",
// "resolv.conf") replace those of /etc for processes started with Launcher(), as
// `ip netns exec` does with /etc/netns/NAME/. Removed on destruction.
class NetworkNamespace {
 public:
  explicit NetworkNamespace(int slot = 0, const std::map<std::string, std::string>& etc_files = {});
  ~NetworkNamespace();
  static bool Supported();  // root with iproute2
  const std::string& name() const { return name_; }
  std::string host_address() const { return "198.18.77." + std::to_string(4 * slot_ + 1); }
  // Whether a TCP connection from inside the namespace to host:port succeeds.
  bool CanReach(const std::string& host, int port) const;
  // Takes the namespace's link down or up, as if its cable were pulled or plugged in.
  void SetLinkUp(bool up);
  std::vector<std::string> Launcher() const { return {"/usr/sbin/ip", "netns", "exec", name_}; }

 private:
  int slot_;
  std::string name_;
  std::string veth_;
};

std::string BitsdPath();
std::string BitsadminPath();
std::string SignalListenerPath();

}  // namespace openbits::harness
