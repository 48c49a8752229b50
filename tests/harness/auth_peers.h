// Authentication peers for the integration tests: an MIT Kerberos KDC and an Apache httpd
// whose locations demand Basic, Digest, Negotiate (Kerberos, NTLM inside SPNEGO) or a choice
// of them. Recipes after shared/testenv (start-kdc.sh, start-apache.sh); everything lives in
// the test's temp directory, listens on 127.0.0.1 and is stopped by PID.
#pragma once

#include <optional>
#include <string>

#include "harness/harness.h"

namespace openbits::harness {

// Realm TEST.LOCAL with users alice/alicepw and bob/bobpw and the service principals
// HTTP/localhost and HTTP/127.0.0.1 (in keytab()). Exports KRB5_CONFIG and an empty default
// KRB5CCNAME into this process's environment, so that bitsd started afterwards uses this
// realm and never a ticket of the machine.
class Kdc {
 public:
  explicit Kdc(const TempDir& dir);
  static bool Installed();
  const std::string& keytab() const { return keytab_; }
  // A new FILE: credential cache holding a ticket of `user`, owned by `owner` if given.
  std::string Kinit(const std::string& user, const std::string& cache_name,
                    std::optional<RunAs> owner = std::nullopt) const;

 private:
  std::string home_;
  std::string keytab_;
  Process process_;
};

// Apache httpd on one plain-HTTP port of 127.0.0.1 serving `root` under every location:
//   /public/     no authentication
//   /basic/      Basic (htpasswd: alice/alicepw, bob/bobpw)
//   /digest/     Digest MD5, realm "bits-digest"
//   /negotiate/  Negotiate, Kerberos only (mod_auth_gssapi)
//   /ntlm/       Negotiate, NTLM inside SPNEGO only (gss-ntlmssp, users in ntlm_users)
//   /spnego/     Negotiate, Kerberos or NTLM inside SPNEGO (gss-ntlmssp, connection-bound)
//   /multi/      offers Negotiate, NTLM and Basic (Basic checked against the KDC)
// Every response carries X-Remote-User, X-Auth-Type and X-Gss-Mech, and the access log
// records each request's user and Authorization scheme.
class AuthApache {
 public:
  AuthApache(const TempDir& dir, const std::string& root, const Kdc& kdc);
  static bool Installed();
  std::string Url(const std::string& path) const;
  // The access log: one line a request, "<status> <user> <auth type> <GSS mech> <path>"
  // ("-" for what is unset).
  std::vector<std::string> AccessLog() const;
  std::string ErrorLog() const { return ReadFile(home_ + "/error.log"); }

 private:
  std::string home_;
  int port_ = 0;
  Process process_;
};

}  // namespace openbits::harness
