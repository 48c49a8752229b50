#include "harness/apache_http2.h"

#include <filesystem>
#include <sstream>
#include <stdexcept>

#include <unistd.h>

namespace openbits::harness {
namespace {

constexpr const char* kModules = "/usr/lib/apache2/modules";

}  // namespace

bool Http2Apache::Installed() {
  return std::filesystem::exists("/usr/sbin/apache2") &&
         std::filesystem::exists(std::string(kModules) + "/mod_http2.so");
}

Http2Apache::Http2Apache(const TempDir& dir, const std::string& root, const TestPki& pki) {
  const std::string home = dir / "apache-http2";
  std::filesystem::create_directories(home + "/run");
  tls_port_ = UnusedPort();
  cleartext_port_ = UnusedPort();
  error_log_ = home + "/error.log";
  access_log_ = home + "/access.log";
  std::string config = "ServerRoot \"" + home + "\"\nServerName localhost\nPidFile \"" + home +
                       "/run/httpd.pid\"\nDefaultRuntimeDir \"" + home +
                       "/run\"\nMutex file:" + home + "/run default\n" +
                       (geteuid() == 0 ? "User www-data\nGroup www-data\n" : "") +
                       "Listen 127.0.0.1:" + std::to_string(tls_port_) +
                       "\nListen 127.0.0.1:" + std::to_string(cleartext_port_) + "\n";
  // mod_http2 runs under the event MPM (not prefork).
  for (const char* module : {"mpm_event", "authz_core", "ssl", "socache_shmcb", "mime", "http2"}) {
    config +=
        std::string("LoadModule ") + module + "_module " + kModules + "/mod_" + module + ".so\n";
  }
  // %H: the protocol of the request ("HTTP/2.0" for a stream of an h2 connection);
  // %{remote}p: the client's port, which names the connection the request came on.
  config +=
      "StartServers 1\nServerLimit 1\nThreadsPerChild 16\nMaxRequestWorkers 16\n"
      "TypesConfig /etc/mime.types\nErrorLog \"" +
      error_log_ + "\"\nLogLevel info http2:info\nCustomLog \"" + access_log_ +
      "\" \"%H %{remote}p %{begin:usec}t %{end:usec}t %U %>s\"\nDocumentRoot \"" + root +
      "\"\n<Directory />\n  Require all granted\n</Directory>\n"
      "SSLSessionCache \"shmcb:" +
      home + "/run/ssl_scache(512000)\"\n";
  config += "<VirtualHost 127.0.0.1:" + std::to_string(tls_port_) +
            ">\n  Protocols h2 http/1.1\n  SSLEngine on\n  SSLCertificateFile \"" +
            pki.server_cert + "\"\n  SSLCertificateKeyFile \"" + pki.server_key +
            "\"\n</VirtualHost>\n";
  config += "<VirtualHost 127.0.0.1:" + std::to_string(cleartext_port_) +
            ">\n  Protocols h2c http/1.1\n</VirtualHost>\n";
  WriteFile(home + "/httpd.conf", config);
  process_ = Process::Start({"/usr/sbin/apache2", "-f", home + "/httpd.conf", "-DFOREGROUND"},
                            home + "/apache.out");
  if (!WaitUntil([&] { return IsListening(tls_port_) && IsListening(cleartext_port_); }, 15s)) {
    throw std::runtime_error("apache (http2) did not start: " + ReadFile(home + "/apache.out") +
                             ReadFile(error_log_));
  }
}

std::string Http2Apache::TlsUrl(const std::string& path) const {
  return "https://localhost:" + std::to_string(tls_port_) + path;
}

std::string Http2Apache::CleartextUrl(const std::string& path) const {
  return "http://localhost:" + std::to_string(cleartext_port_) + path;
}

std::vector<Http2Apache::Request> Http2Apache::Requests() const {
  std::vector<Request> requests;
  std::istringstream lines(ReadFile(access_log_));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    Request request;
    if (fields >> request.protocol >> request.client_port >> request.begin_us >> request.end_us >>
        request.path >> request.status) {
      requests.push_back(request);
    }
  }
  return requests;
}

}  // namespace openbits::harness
