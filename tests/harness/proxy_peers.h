// Proxy peers for the integration tests: squid as an open proxy or one that demands Basic,
// Negotiate (Kerberos, from harness::Kdc) or NTLM (Samba's ntlm_auth). Recipe after
// shared/testenv/start-squid.sh; everything in the test's temp directory, on 127.0.0.1.
#pragma once

#include <string>
#include <vector>

#include "harness/auth_peers.h"
#include "harness/harness.h"

namespace openbits::harness {

class Squid {
 public:
  // `schemes`: "none" for an open proxy, else a comma list of basic, digest, negotiate and
  // ntlm, offered in that order. Basic and Digest users: alice/alicepw, bob/bobpw; NTLM: any user
  // with the password alicepw (ntlm_auth --password); Negotiate: tickets of `kdc` (required then).
  // Only loopback destinations are allowed.
  Squid(const TempDir& dir, const std::string& name, const std::string& schemes,
        const Kdc* kdc = nullptr);
  static bool Installed();
  int port() const { return port_; }
  // "localhost:PORT": the proxy's Kerberos principal is HTTP/localhost.
  std::string Address() const { return "localhost:" + std::to_string(port_); }
  // squid's access log, one line a request: "... CODE/STATUS BYTES METHOD URL USER ...".
  std::vector<std::string> AccessLog() const;
  // The user squid logged for an admitted (not 407) request whose line contains `needle`:
  // "" when none got through.
  std::string UserOf(const std::string& needle) const;
  // The same among the requests squid answered: a line with status 000 (the client went
  // away before an answer, as a closed CONNECT tunnel may be logged) is passed over.
  std::string UserOfAnswered(const std::string& needle) const;

 private:
  std::string home_;
  int port_ = 0;
  Process process_;
};

}  // namespace openbits::harness
