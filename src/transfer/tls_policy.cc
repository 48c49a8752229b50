#include "transfer/tls_policy.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cstdio>

#include "openbits/types.h"

namespace openbits::transfer {
namespace {

// Where a connection's SSL_CTX keeps its TlsRequest for the callbacks.
int RequestIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

TlsRequest* RequestOf(SSL_CTX* context) {
  return static_cast<TlsRequest*>(SSL_CTX_get_ex_data(context, RequestIndex()));
}

// The verification errors that mean "issued by an authority we do not trust".
bool IsUnknownCa(long error) {
  switch (error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
      return true;
    default:
      return false;
  }
}

bool IsDateError(long error) {
  return error == X509_V_ERR_CERT_HAS_EXPIRED || error == X509_V_ERR_CERT_NOT_YET_VALID;
}

bool Excused(int error, std::uint32_t flags) {
  if (IsDateError(error)) return flags & kSslIgnoreCertDateInvalid;
  if (IsUnknownCa(error)) return flags & kSslIgnoreUnknownCa;
  if (error == X509_V_ERR_INVALID_PURPOSE) return flags & kSslIgnoreCertWrongUsage;
  return false;
}

int VerifyCallback(int preverified, X509_STORE_CTX* store) {
  if (preverified) return 1;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  const TlsRequest* request = ssl ? RequestOf(SSL_get_SSL_CTX(ssl)) : nullptr;
  if (request && Excused(X509_STORE_CTX_get_error(store), request->security_flags)) {
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
  }
  return 0;
}

// Called when the server sends a CertificateRequest. No client certificate yet: remember
// that one was wanted, so that a failed handshake can say so (0x80072F0C).
int ClientCertificateCallback(SSL* ssl, X509**, EVP_PKEY**) {
  if (TlsRequest* request = RequestOf(SSL_get_SSL_CTX(ssl))) {
    request->server_asked_for_certificate = true;
  }
  return 0;
}

CURLcode SetUpContext(CURL*, void* ssl_context, void* request_ptr) {
  auto* context = static_cast<SSL_CTX*>(ssl_context);
  auto* request = static_cast<TlsRequest*>(request_ptr);
  SSL_CTX_set_ex_data(context, RequestIndex(), request);
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, VerifyCallback);
  SSL_CTX_set_client_cert_cb(context, ClientCertificateCallback);
  if (request->trust) {
    SSL_CTX_set1_cert_store(context, request->trust->store());
  }
  if (request->security_flags & kSslEnableCrlCheck) {
    // Revocation of the whole chain; without a CRL for an issuer the check fails (fatal).
    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(context),
                                X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }
  return CURLE_OK;
}

Error Secure(HRESULT code, const std::string& what, const std::string& url) {
  return Error(code, ErrorContext::kRemoteFile, what + " (" + url + ")");
}

}  // namespace

Result<std::unique_ptr<TlsTrust>> TlsTrust::Load(const std::string& extra_ca_file,
                                                 const std::string& crl_file) {
  auto trust = std::make_unique<TlsTrust>();
  auto read = [](const std::string& path, const char* key, auto reader, auto& into) -> Status {
    if (path.empty()) return Ok();
    FILE* file = std::fopen(path.c_str(), "r");
    if (!file) {
      return Error(hr::ERROR_FILE_NOT_FOUND, ErrorContext::kGeneralTransport,
                   std::string("cannot read [tls] ") + key + " " + path);
    }
    while (auto* item = reader(file, nullptr, nullptr, nullptr)) into.push_back(item);
    std::fclose(file);
    if (into.empty()) {
      return Error(hr::E_INVALIDARG, ErrorContext::kGeneralTransport,
                   std::string("[tls] ") + key + " " + path + " holds no PEM object");
    }
    return Ok();
  };
  OPENBITS_RETURN_IF_ERROR(read(extra_ca_file, "extra_ca_file", PEM_read_X509, trust->extra_cas_));
  OPENBITS_RETURN_IF_ERROR(read(crl_file, "crl_file", PEM_read_X509_CRL, trust->crls_));
  trust->store_ = X509_STORE_new();
  if (CURL* curl = curl_easy_init()) {
    // The CAs libcurl trusts by default, read once.
    char* bundle = nullptr;
    char* directory = nullptr;
    curl_easy_getinfo(curl, CURLINFO_CAINFO, &bundle);
    curl_easy_getinfo(curl, CURLINFO_CAPATH, &directory);
    if (bundle) X509_STORE_load_file(trust->store_, bundle);
    if (directory) X509_STORE_load_path(trust->store_, directory);
    curl_easy_cleanup(curl);
  }
  for (X509* certificate : trust->extra_cas_) X509_STORE_add_cert(trust->store_, certificate);
  for (X509_CRL* crl : trust->crls_) X509_STORE_add_crl(trust->store_, crl);
  return trust;
}

TlsTrust::~TlsTrust() {
  X509_STORE_free(store_);
  for (X509* certificate : extra_cas_) X509_free(certificate);
  for (X509_CRL* crl : crls_) X509_CRL_free(crl);
}

void ConfigureTls(CURL* curl, TlsRequest* request) {
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST,
                   request->security_flags & kSslIgnoreCertCnInvalid ? 0L : 2L);
  if (request->trust) {
    // The trust store comes whole from TlsTrust (SetUpContext): libcurl loads nothing.
    curl_easy_setopt(curl, CURLOPT_CAINFO, nullptr);
    curl_easy_setopt(curl, CURLOPT_CAPATH, nullptr);
  }
  curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, &SetUpContext);
  curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, request);
}

std::optional<Error> TlsError(CURL* curl, CURLcode code, const std::string& detail,
                              const TlsRequest& request, const std::string& url) {
  if (code == CURLE_PEER_FAILED_VERIFICATION) {
    long result = X509_V_OK;
    curl_easy_getinfo(curl, CURLINFO_SSL_VERIFYRESULT, &result);
    // curl checks the host name itself after OpenSSL accepted the chain, and says so only in
    // its message ("no alternative certificate subject name matches target host name").
    if (detail.find("subject name") != std::string::npos ||
        detail.find("target host") != std::string::npos) {
      result = X509_V_ERR_HOSTNAME_MISMATCH;
    }
    if (IsDateError(result)) {
      return Secure(hr::WINHTTP_SECURE_CERT_DATE_INVALID,
                    "the server certificate has expired or is not yet valid", url);
    }
    if (IsUnknownCa(result)) {
      return Secure(hr::WINHTTP_SECURE_INVALID_CA,
                    "the server certificate is issued by an untrusted authority", url);
    }
    switch (result) {
      case X509_V_OK:  // the chain was fine: curl's own host name check failed
      case X509_V_ERR_HOSTNAME_MISMATCH:
      case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return Secure(hr::WINHTTP_SECURE_CERT_CN_INVALID,
                      "the server certificate is not for this host name", url);
      case X509_V_ERR_INVALID_PURPOSE:
        return Secure(hr::WINHTTP_SECURE_CERT_WRONG_USAGE,
                      "the server certificate is not for server authentication", url);
      case X509_V_ERR_CERT_REVOKED:
        return Secure(hr::WINHTTP_SECURE_CERT_REVOKED, "the server certificate is revoked", url);
      case X509_V_ERR_UNABLE_TO_GET_CRL:
      case X509_V_ERR_CRL_HAS_EXPIRED:
      case X509_V_ERR_CRL_NOT_YET_VALID:
        return Secure(hr::WINHTTP_SECURE_CERT_REV_FAILED,
                      "the revocation of the server certificate could not be checked", url);
      default:
        return Secure(hr::WINHTTP_SECURE_FAILURE,
                      std::string("the server certificate failed verification: ") +
                          X509_verify_cert_error_string(result),
                      url);
    }
  }
  const bool tls_failure = code == CURLE_SSL_CONNECT_ERROR || code == CURLE_SSL_CERTPROBLEM ||
                           code == CURLE_SSL_CIPHER || code == CURLE_SSL_ISSUER_ERROR;
  // A server that asked for a client certificate and then refused the connection (in the
  // handshake with TLS 1.2, with the first read under TLS 1.3).
  const bool refused = tls_failure || code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR ||
                       code == CURLE_GOT_NOTHING;
  if (refused && request.server_asked_for_certificate) {
    return Secure(hr::WINHTTP_CLIENT_AUTH_CERT_NEEDED,
                  "the server requires a client certificate (" + detail + ")", url);
  }
  // The server ended the session before any HTTP answer although (or because) we presented
  // a client certificate, or it sent a TLS alert: no retry helps.
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (refused && ((request.presented_certificate && status == 0) ||
                  detail.find("alert") != std::string::npos)) {
    return Secure(hr::WINHTTP_SECURE_FAILURE, "the server refused the TLS session (" + detail + ")",
                  url);
  }
  if (tls_failure) {
    return Secure(hr::WINHTTP_SECURE_FAILURE, "the TLS handshake failed (" + detail + ")", url);
  }
  return std::nullopt;
}

}  // namespace openbits::transfer
