// NetworkServices: what every HTTP transfer of bitsd shares, built once by daemon/wiring and
// handed to both transfer paths (CurlTransport's blocking sessions and CurlMultiEngine): the
// TLS trust, the proxy resolver with its PAC fetcher, the side channel of authentication
// (Passport) and the certificate stores. Nothing here picks its own collaborators.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

#include "auth/authenticator.h"
#include "core/ports.h"
#include "proxy/resolver.h"
#include "transfer/tls_policy.h"

namespace openbits::transfer {

struct CurlTransportOptions {
  long connect_timeout_s = 30;
  // A transfer that moves less than 1 byte/s for this long is a timeout (transient).
  long low_speed_time_s = 60;
  std::string user_agent = "Microsoft BITS/7.8 OpenBITS/0.1";
  // PEM bundle of CAs trusted in addition to the system store ([tls] extra_ca_file).
  std::string extra_ca_file;
  // PEM CRLs used when a job sets BG_SSL_ENABLE_CRL_CHECK ([tls] crl_file).
  std::string crl_file;
  // [auth]: implicit credentials and Basic over http.
  auth::AuthPolicy auth;
  // [proxy]: what PRECONFIG jobs use.
  proxy::ResolverOptions proxy;
};

class NetworkServices {
 public:
  // Fails when extra_ca_file or crl_file cannot be read or hold nothing.
  // `certificates` resolves jobs' client certificates (may be null: none are usable).
  // `account_proxies`: the accounts' own proxy settings, for PRECONFIG (may be null).
  static Result<std::unique_ptr<NetworkServices>> Create(
      CurlTransportOptions options, core::CertificateStore* certificates,
      const core::AccountProxies* account_proxies);
  ~NetworkServices();
  NetworkServices(const NetworkServices&) = delete;
  NetworkServices& operator=(const NetworkServices&) = delete;

  const CurlTransportOptions& options() const { return options_; }
  const TlsTrust* trust() const { return trust_.get(); }
  proxy::Resolver& proxies() const { return *proxies_; }
  auth::SideChannel* side_channel() const { return side_channel_.get(); }
  core::CertificateStore* certificates() const { return certificates_; }
  const core::AccountProxies* account_proxies() const { return account_proxies_; }

 private:
  NetworkServices(CurlTransportOptions options, core::CertificateStore* certificates,
                  const core::AccountProxies* account_proxies);

  CurlTransportOptions options_;
  core::CertificateStore* certificates_;
  const core::AccountProxies* account_proxies_;
  std::unique_ptr<TlsTrust> trust_;
  std::unique_ptr<proxy::PacFetcher> pac_fetcher_;
  std::unique_ptr<auth::SideChannel> side_channel_;
  std::unique_ptr<proxy::Resolver> proxies_;
};

// The options every easy handle of a transfer starts with (both paths).
void ConfigureEasyDefaults(CURL* curl, const CurlTransportOptions& options);

}  // namespace openbits::transfer
