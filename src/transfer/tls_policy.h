// TLS for one job's connections: the machine's extra trust ([tls] extra_ca_file, crl_file),
// the job's BG_SSL_* security flags, and the BITS error a failed handshake becomes.
// Verification is always on; the flags only excuse the specific failures they name.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>
#include <vector>

#include "openbits/result.h"

typedef struct x509_st X509;
typedef struct X509_crl_st X509_CRL;
typedef struct x509_store_st X509_STORE;

namespace openbits::transfer {

// Loaded once at start-up and shared read-only by every connection.
class TlsTrust {
 public:
  // Either path may be empty. A file that cannot be read or holds nothing is an error.
  static Result<std::unique_ptr<TlsTrust>> Load(const std::string& extra_ca_file,
                                                const std::string& crl_file);
  ~TlsTrust();
  const std::vector<X509*>& extra_cas() const { return extra_cas_; }
  const std::vector<X509_CRL*>& crls() const { return crls_; }
  // libcurl's default CAs (its CA bundle and directory) plus the extra CAs and the CRLs, in
  // one store that every connection shares: parsing the CA bundle for each new connection
  // (what libcurl does when a TLS context callback is set) costs tens of milliseconds.
  X509_STORE* store() const { return store_; }

 private:
  std::vector<X509*> extra_cas_;
  std::vector<X509_CRL*> crls_;
  X509_STORE* store_ = nullptr;
};

// What one request's TLS handshakes do. Lives as long as the request.
struct TlsRequest {
  const TlsTrust* trust = nullptr;
  std::uint32_t security_flags = 0;
  bool server_asked_for_certificate = false;  // set during the handshake
  bool presented_certificate = false;         // the job sent a client certificate
};

// Points the easy handle's TLS setup at `request` (verification, flags, trust).
void ConfigureTls(CURL* curl, TlsRequest* request);

// The BITS/WinHTTP error of a TLS failure: CERT_DATE_INVALID, CERT_CN_INVALID, INVALID_CA,
// CERT_WRONG_USAGE, CERT_REVOKED, CERT_REV_FAILED, CLIENT_AUTH_CERT_NEEDED or
// SECURE_FAILURE; nullopt when `code` is no TLS failure.
std::optional<Error> TlsError(CURL* curl, CURLcode code, const std::string& detail,
                              const TlsRequest& request, const std::string& redacted_url);

}  // namespace openbits::transfer
