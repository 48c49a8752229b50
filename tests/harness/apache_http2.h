// Apache httpd offering HTTP/2 (mod_http2): h2 over TLS on one port, h2c (cleartext, by
// Upgrade or prior knowledge) on another, HTTP/1.1 on both for clients that do not ask. Its
// access log names each request's protocol and the connection that carried it, so a test
// can tell whether several files shared one multiplexed connection.
#pragma once

#include <string>
#include <vector>

#include "harness/harness.h"

namespace openbits::harness {

class Http2Apache {
 public:
  // Serves `root` with the server certificate of `pki`; no client certificate asked.
  Http2Apache(const TempDir& dir, const std::string& root, const TestPki& pki);
  // Apache and its mod_http2 are installed.
  static bool Installed();
  std::string TlsUrl(const std::string& path) const;        // https://localhost:PORT/path (h2)
  std::string CleartextUrl(const std::string& path) const;  // http://localhost:PORT/path (h2c)

  // One request served, from the access log.
  struct Request {
    std::string protocol;  // "HTTP/2.0", "HTTP/1.1"
    int client_port = 0;   // the connection's client side: one connection, one port
    long long begin_us = 0;
    long long end_us = 0;
    std::string path;
    int status = 0;
  };
  std::vector<Request> Requests() const;
  std::string ErrorLog() const { return ReadFile(error_log_); }
  std::string AccessLog() const { return ReadFile(access_log_); }

 private:
  int tls_port_ = 0;
  int cleartext_port_ = 0;
  std::string error_log_;
  std::string access_log_;
  Process process_;
};

}  // namespace openbits::harness
