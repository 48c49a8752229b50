// CurlTransport: HTTP(S) downloads with libcurl. A session owns one easy handle, so the
// files of a job reuse their connections.
//
// Protocol (DESIGN.md 6): every request is a GET with "Range: bytes=<offset>-", which tells
// size and range support in one round trip (206 + Content-Range); a resume adds If-Range with
// the strong ETag or Last-Modified, so a changed file comes back whole (200) and restarts.
#pragma once

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

class CurlTransport : public core::Transport {
 public:
  // Fails when extra_ca_file or crl_file cannot be read or hold nothing.
  // `certificates` resolves jobs' client certificates (may be null: none are usable).
  // `account_proxies`: the accounts' own proxy settings, for PRECONFIG (may be null).
  static Result<std::unique_ptr<CurlTransport>> Create(
      CurlTransportOptions options, core::CertificateStore* certificates,
      const core::AccountProxies* account_proxies = nullptr);
  ~CurlTransport() override;
  std::unique_ptr<core::TransferSession> OpenSession() override;

 private:
  CurlTransport(CurlTransportOptions options, const core::AccountProxies* account_proxies);

  CurlTransportOptions options_;
  proxy::Resolver proxies_;
  std::unique_ptr<TlsTrust> trust_;
  std::unique_ptr<proxy::PacFetcher> pac_fetcher_;
  std::unique_ptr<auth::SideChannel> side_channel_;
  core::CertificateStore* certificates_ = nullptr;
};

}  // namespace openbits::transfer
