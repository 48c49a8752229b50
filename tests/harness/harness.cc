#include "harness/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace openbits::harness {

std::optional<TestUsers> FindTestUsers(std::string* why_not) {
  if (geteuid() != 0) {
    *why_not = "needs root to run clients as other uids";
    return std::nullopt;
  }
  TestUsers users{};
  // getpwnam answers in a static buffer: each entry is copied before the next lookup.
  for (auto [name, user] :
       {std::pair{"openbits-alice", &users.alice}, std::pair{"openbits-bob", &users.bob}}) {
    const passwd* entry = getpwnam(name);
    if (!entry) {
      *why_not = std::string("user ") + name + " is missing (tests/run.sh makes it)";
      return std::nullopt;
    }
    *user = {entry->pw_uid, entry->pw_gid};
  }
  return users;
}
namespace fs = std::filesystem;

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
               std::chrono::milliseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << content;
}

void WriteRandomFile(const std::string& path, std::uint64_t size, std::uint32_t seed) {
  std::mt19937_64 random(seed);
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  std::vector<std::uint64_t> block(8192);
  std::uint64_t written = 0;
  while (written < size) {
    for (auto& word : block) word = random();
    const std::uint64_t n = std::min<std::uint64_t>(size - written, block.size() * 8);
    file.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
    written += n;
  }
}

std::string Sha256OfFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return "missing:" + path;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 20);
  while (file) {
    file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    EVP_DigestUpdate(ctx, buffer.data(), static_cast<std::size_t>(file.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest, &length);
  EVP_MD_CTX_free(ctx);
  std::string hex;
  char byte[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "openbits-test.XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
  // Children that run as other uids (isolation tests) must reach the bus socket.
  fs::permissions(path_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
}

TempDir::~TempDir() {
  if (std::getenv("OPENBITS_KEEP_TEST_DIRS")) return;
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

namespace {

// fork + exec with stdout/stderr redirected (appended), optionally in `cwd` and as `run_as`.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path,
            const std::string& err_path, std::optional<RunAs> run_as, const std::string& cwd) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid > 0) return pid;
  // Child: only async-signal-safe calls from here on.
  const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  const int err =
      err_path == out_path ? out : open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  dup2(out, STDOUT_FILENO);
  dup2(err, STDERR_FILENO);
  const int in = open("/dev/null", O_RDONLY);
  dup2(in, STDIN_FILENO);
  setpgid(0, 0);
  if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(125);
  if (run_as) {
    if (setgroups(0, nullptr) != 0 || setresgid(run_as->gid, run_as->gid, run_as->gid) != 0 ||
        setresuid(run_as->uid, run_as->uid, run_as->uid) != 0) {
      _exit(126);
    }
  }
  execv(args[0], args.data());
  _exit(127);
}

}  // namespace

Process Process::Start(const std::vector<std::string>& argv, const std::string& log_path,
                       std::optional<RunAs> run_as) {
  const std::string log = log_path.empty() ? "/dev/null" : log_path;
  Process process;
  process.pid_ = Spawn(argv, log, log, run_as, "");
  return process;
}

Process::~Process() { Stop(); }

Process::Process(Process&& other) noexcept : pid_(other.pid_), status_(other.status_) {
  other.pid_ = -1;
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    Stop();
    pid_ = other.pid_;
    status_ = other.status_;
    other.pid_ = -1;
  }
  return *this;
}

bool Process::running() {
  if (pid_ <= 0 || status_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

void Process::Signal(int signal) {
  if (running()) kill(pid_, signal);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return status_;
  WaitUntil([&] { return !running(); }, timeout);
  return status_;
}

std::optional<int> Process::Stop() {
  if (pid_ <= 0) return std::nullopt;
  if (running()) {
    kill(pid_, SIGTERM);
    if (!Wait(10s)) {
      kill(pid_, SIGKILL);
      Wait(10s);
    }
  }
  pid_ = -1;
  return status_;
}

CommandResult Run(const std::vector<std::string>& argv, std::optional<RunAs> run_as,
                  std::chrono::milliseconds timeout, const std::string& cwd) {
  TempDir dir;
  const std::string out = dir / "out", err = dir / "err";
  const pid_t pid = Spawn(argv, out, err, run_as, cwd);
  int status = 0;
  const bool exited = WaitUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadFile(out);
  result.err = ReadFile(err);
  return result;
}

PrivateBus::PrivateBus(const TempDir& dir) {
  const std::string socket = dir / "bus";
  address_ = "unix:path=" + socket;
  process_ =
      Process::Start({"/usr/bin/dbus-daemon", "--config-file=" HARNESS_DIR "/dbus-private.conf",
                      "--address=" + address_, "--nofork"},
                     dir / "dbus.log");
  if (!WaitUntil([&] { return fs::exists(socket); }, 10s)) {
    throw std::runtime_error("dbus-daemon did not start: " + ReadFile(dir / "dbus.log"));
  }
  fs::permissions(socket, fs::perms::all);
}

namespace {

void Openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "/usr/bin/openssl");
  const CommandResult result = Run(args);
  if (result.exit_code != 0)
    throw std::runtime_error("openssl " + args[1] + " failed: " + result.err);
}

}  // namespace

TestPki MakeTestPki(const TempDir& dir, const std::string& name) {
  TestPki ca;
  ca.ca_cert = dir / (name + "-ca.pem");
  ca.ca_key = dir / (name + "-ca.key");
  ca.ca_config = dir / (name + "-ca.cnf");
  const std::string database = dir / (name + "-ca");
  std::filesystem::create_directories(database);
  WriteFile(database + "/index.txt", "");
  WriteFile(database + "/crlnumber", "01\n");
  WriteFile(ca.ca_config, "[ca]\ndefault_ca = test\n[test]\ndatabase = " + database +
                              "/index.txt\ncrlnumber = " + database +
                              "/crlnumber\ndefault_md = sha256\ndefault_crl_days = 2\n");
  Openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
           "/CN=OpenBITS test CA " + name, "-keyout", ca.ca_key, "-out", ca.ca_cert});
  TestPki server = IssueServerCertificate(dir, ca, name, {});
  return server;
}

TestPki IssueServerCertificate(const TempDir& dir, const TestPki& ca, const std::string& name,
                               const ServerCertificateOptions& options) {
  TestPki pki = ca;
  pki.server_cert = dir / (name + "-server.pem");
  pki.server_key = dir / (name + "-server.key");
  const std::string csr = dir / (name + "-server.csr"), extensions = dir / (name + "-ext.cnf");
  WriteFile(
      extensions,
      "subjectAltName=DNS:" + options.host + (options.host == "localhost" ? ",IP:127.0.0.1" : "") +
          "\nextendedKeyUsage=" + (options.client_auth_only ? "clientAuth" : "serverAuth") + "\n");
  Openssl({"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + options.host, "-keyout",
           pki.server_key, "-out", csr});
  Openssl({"x509", "-req", "-in", csr, "-CA", ca.ca_cert, "-CAkey", ca.ca_key, "-CAcreateserial",
           "-days", options.expired ? "0" : "2", "-extfile", extensions, "-out", pki.server_cert});
  return pki;
}

ClientCertificateFiles IssueClientCertificate(const TempDir& dir, const TestPki& ca,
                                              const std::string& name) {
  ClientCertificateFiles files{dir / (name + ".pem"), dir / (name + ".key"), dir / (name + ".p12"),
                               ""};
  const std::string csr = dir / (name + ".csr"), extensions = dir / (name + "-ext.cnf");
  WriteFile(extensions, "extendedKeyUsage=clientAuth\n");
  Openssl({"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name + "/O=OpenBITS Test",
           "-keyout", files.key, "-out", csr});
  Openssl({"x509", "-req", "-in", csr, "-CA", ca.ca_cert, "-CAkey", ca.ca_key, "-CAcreateserial",
           "-days", "2", "-extfile", extensions, "-out", files.certificate});
  Openssl({"pkcs12", "-export", "-in", files.certificate, "-inkey", files.key, "-passout",
           "pass:", "-out", files.pkcs12});
  std::filesystem::permissions(
      files.key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::filesystem::permissions(
      files.pkcs12, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const CommandResult fingerprint = Run(
      {"/usr/bin/openssl", "x509", "-in", files.certificate, "-noout", "-fingerprint", "-sha1"});
  for (char c : fingerprint.out.substr(fingerprint.out.find('=') + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      files.sha1 += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return files;
}

std::string MakeCrl(const TempDir& dir, const TestPki& ca, const std::string& certificate) {
  if (!certificate.empty()) {
    Openssl({"ca", "-config", ca.ca_config, "-keyfile", ca.ca_key, "-cert", ca.ca_cert, "-revoke",
             certificate});
  }
  const std::string crl = dir / (std::filesystem::path(ca.ca_cert).stem().string() + "-crl.pem");
  Openssl({"ca", "-config", ca.ca_config, "-keyfile", ca.ca_key, "-cert", ca.ca_cert, "-gencrl",
           "-out", crl});
  return crl;
}

RangeServer::RangeServer(const TempDir& dir, const std::string& root,
                         const std::optional<TestPki>& tls, const std::string& host, int port)
    : host_(host) {
  static int servers = 0;
  const std::string name = "http" + std::to_string(servers++);
  log_path_ = dir / (name + "-requests.log");
  const std::string port_file = dir / (name + ".port");
  std::vector<std::string> argv = {"/usr/bin/python3",
                                   HARNESS_DIR "/range_server.py",
                                   "--root",
                                   root,
                                   "--port-file",
                                   port_file,
                                   "--log",
                                   log_path_,
                                   "--host",
                                   host,
                                   "--port",
                                   std::to_string(port)};
  if (tls) {
    argv.insert(argv.end(), {"--tls-cert", tls->server_cert, "--tls-key", tls->server_key});
    if (!tls->client_verify.empty()) {
      argv.insert(argv.end(),
                  {"--tls-client-ca", tls->client_ca, "--tls-client-verify", tls->client_verify});
    }
    if (!tls->max_tls.empty()) argv.insert(argv.end(), {"--tls-max", tls->max_tls});
    scheme_ = "https";
  }
  process_ = Process::Start(argv, dir / (name + ".log"));
  if (!WaitUntil([&] { return fs::exists(port_file); }, 10s)) {
    throw std::runtime_error("range server did not start: " + ReadFile(dir / (name + ".log")));
  }
  port_ = std::stoi(ReadFile(port_file));
}

std::string RangeServer::Url(const std::string& path) const {
  return scheme_ + "://" + host_ + ":" + std::to_string(port_) + path;
}

std::vector<std::string> RangeServer::LogLines() const {
  std::vector<std::string> lines;
  std::istringstream content(ReadFile(log_path_));
  for (std::string line; std::getline(content, line);) lines.push_back(line);
  return lines;
}

std::vector<std::uint64_t> RangeServer::RangeStarts(const std::string& path) const {
  std::vector<std::uint64_t> starts;
  const std::regex range(
      R"re("method": "GET", "path": "([^"?]*)[^"]*", "range": "bytes=(\d+)-")re");
  for (const std::string& line : LogLines()) {
    std::smatch match;
    if (std::regex_search(line, match, range) && match[1] == path) {
      starts.push_back(std::stoull(match[2]));
    }
  }
  return starts;
}

Bitsd::Bitsd(const TempDir& dir, const std::string& bus_address, const std::string& config,
             std::vector<std::string> launcher)
    : bus_address_(bus_address),
      state_dir_(dir / "state"),
      config_path_(dir / "bitsd.conf"),
      log_path_(dir / "bitsd.log"),
      launcher_(std::move(launcher)) {
  // Tests do not depend on the host's logind: owner logon gating only where a test asks.
  WriteFile(config_path_, config.find("[logon]") == std::string::npos
                              ? config + "\n[logon]\ngating = false\n"
                              : config);
}

Bitsd::~Bitsd() { (void)Stop(); }

void Bitsd::Start() {
  auto ready_lines = [&] {
    const std::string log = Log();
    std::size_t count = 0;
    for (auto at = log.find("bitsd ready"); at != std::string::npos;
         at = log.find("bitsd ready", at + 1)) {
      ++count;
    }
    return count;
  };
  const std::size_t before = ready_lines();
  std::vector<std::string> argv = launcher_;
  argv.insert(argv.end(), {BitsdPath(), "--bus=" + bus_address_, "--state-dir=" + state_dir_,
                           "--config=" + config_path_, "--log-level=debug"});
  process_ = Process::Start(argv, log_path_);
  // Ready when the log says so (the bus name is taken before that line is written).
  const bool ready = WaitUntil([&] { return ready_lines() > before || !process_.running(); });
  if (!ready || !process_.running()) {
    throw std::runtime_error("bitsd did not start: " + Log());
  }
}

std::optional<int> Bitsd::Stop() { return process_.Stop(); }

void Bitsd::Kill() {
  process_.Signal(SIGKILL);
  process_.Wait(10s);
}

void MustRun(const std::vector<std::string>& argv) {
  const CommandResult result = Run(argv);
  if (result.exit_code != 0) {
    throw std::runtime_error(argv[0] + " failed: " + result.out + result.err);
  }
}

bool IsListening(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return ok;
}

bool Apache::Installed() { return std::filesystem::exists("/usr/sbin/apache2"); }

Apache::Apache(const TempDir& dir, const std::string& root, const TestPki& pki) {
  const std::string home = dir / "apache";
  std::filesystem::create_directories(home + "/run");
  require_port_ = UnusedPort();
  optional_port_ = UnusedPort();
  error_log_ = home + "/error.log";
  access_log_ = home + "/access.log";
  const std::string modules = "/usr/lib/apache2/modules";
  std::string config = "ServerRoot \"" + home + "\"\nServerName localhost\nPidFile \"" + home +
                       "/run/httpd.pid\"\nDefaultRuntimeDir \"" + home +
                       "/run\"\nMutex file:" + home + "/run default\n" +
                       (geteuid() == 0 ? "User www-data\nGroup www-data\n" : "") +
                       "Listen 127.0.0.1:" + std::to_string(require_port_) +
                       "\nListen 127.0.0.1:" + std::to_string(optional_port_) + "\n";
  for (const char* module :
       {"mpm_event", "authz_core", "ssl", "socache_shmcb", "mime", "headers"}) {
    config +=
        std::string("LoadModule ") + module + "_module " + modules + "/mod_" + module + ".so\n";
  }
  config +=
      "StartServers 1\nServerLimit 1\nThreadsPerChild 8\nMaxRequestWorkers 8\n"
      "TypesConfig /etc/mime.types\nErrorLog \"" +
      error_log_ + "\"\nLogLevel info\nCustomLog \"" + access_log_ +
      "\" \"%{begin:usec}t %{end:usec}t %U\"\nDocumentRoot \"" + root +
      "\"\n<Directory />\n  Require all "
      "granted\n</Directory>\nHeader always set X-Client-Cert \"expr=%{SSL_CLIENT_S_DN}\"\n"
      "SSLSessionCache \"shmcb:" +
      home + "/run/ssl_scache(512000)\"\n";
  for (const auto& [port, verify] :
       {std::pair{require_port_, "require"}, std::pair{optional_port_, "optional"}}) {
    config += "<VirtualHost 127.0.0.1:" + std::to_string(port) +
              ">\n  SSLEngine on\n  SSLCertificateFile \"" + pki.server_cert +
              "\"\n  SSLCertificateKeyFile \"" + pki.server_key + "\"\n  SSLCACertificateFile \"" +
              pki.ca_cert + "\"\n  SSLVerifyClient " + verify +
              "\n  SSLVerifyDepth 2\n</VirtualHost>\n";
  }
  WriteFile(home + "/httpd.conf", config);
  process_ = Process::Start({"/usr/sbin/apache2", "-f", home + "/httpd.conf", "-DFOREGROUND"},
                            home + "/apache.out");
  if (!WaitUntil([&] { return IsListening(require_port_) && IsListening(optional_port_); }, 15s)) {
    throw std::runtime_error("apache did not start: " + ReadFile(home + "/apache.out") +
                             ReadFile(error_log_));
  }
}

std::string Apache::RequireUrl(const std::string& path) const {
  return "https://localhost:" + std::to_string(require_port_) + path;
}

std::string Apache::OptionalUrl(const std::string& path) const {
  return "https://localhost:" + std::to_string(optional_port_) + path;
}

bool NetworkNamespace::Supported() {
  return geteuid() == 0 && std::filesystem::exists("/usr/sbin/ip");
}

NetworkNamespace::NetworkNamespace(int slot, const std::map<std::string, std::string>& etc_files)
    : slot_(slot),
      name_("openbits-net-test-" + std::to_string(slot)),
      veth_("obnet" + std::to_string(2 * slot)) {
  auto ip = [](std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/sbin/ip");
    return Run(args);
  };
  const std::string peer = "obnet" + std::to_string(2 * slot + 1);
  const std::string base = "198.18.77.";
  // Leftovers of an interrupted run go first.
  ip({"link", "del", veth_});
  ip({"netns", "del", name_});
  const std::string etc = "/etc/netns/" + name_;
  std::filesystem::remove_all(etc);
  if (!etc_files.empty()) {
    std::filesystem::create_directories(etc);
    for (const auto& [file, content] : etc_files) WriteFile(etc + "/" + file, content);
  }
  const std::vector<std::vector<std::string>> steps = {
      {"netns", "add", name_},
      {"link", "add", veth_, "type", "veth", "peer", "name", peer},
      {"link", "set", peer, "netns", name_},
      {"addr", "add", base + std::to_string(4 * slot + 1) + "/30", "dev", veth_},
      {"link", "set", veth_, "up"},
      {"netns", "exec", name_, "ip", "addr", "add", base + std::to_string(4 * slot + 2) + "/30",
       "dev", peer},
      {"netns", "exec", name_, "ip", "link", "set", "lo", "up"},
      {"netns", "exec", name_, "ip", "link", "set", peer, "up"},
  };
  for (const auto& step : steps) {
    const CommandResult result = ip(step);
    if (result.exit_code != 0) throw std::runtime_error("ip " + step[0] + " failed: " + result.err);
  }
}

NetworkNamespace::~NetworkNamespace() {
  Run({"/usr/sbin/ip", "link", "del", veth_});
  Run({"/usr/sbin/ip", "netns", "del", name_});
  std::error_code ignored;
  std::filesystem::remove_all("/etc/netns/" + name_, ignored);
}

bool NetworkNamespace::CanReach(const std::string& host, int port) const {
  const std::string probe = "import socket; socket.create_connection(('" + host + "', " +
                            std::to_string(port) + "), 1).close()";
  const CommandResult result =
      Run({"/usr/sbin/ip", "netns", "exec", name_, "/usr/bin/python3", "-c", probe});
  if (result.exit_code != 0 && std::getenv("OPENBITS_DEBUG_NETNS")) std::cerr << result.err;
  return result.exit_code == 0;
}

void NetworkNamespace::SetLinkUp(bool up) {
  Run({"/usr/sbin/ip", "netns", "exec", name_, "ip", "link", "set",
       "obnet" + std::to_string(2 * slot_ + 1), up ? "up" : "down"});
}

std::string BitsdPath() { return BITSD_PATH; }
std::string BitsadminPath() { return BITSADMIN_PATH; }
std::string SignalListenerPath() { return SIGNAL_LISTENER_PATH; }

}  // namespace openbits::harness
