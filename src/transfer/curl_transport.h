// CurlTransport: HTTP(S) downloads with libcurl, one blocking request at a time. A session
// owns one easy handle, so the files of a job reuse their connections.
//
// Protocol (DESIGN.md 6): every request is a GET with "Range: bytes=<offset>-", which tells
// size and range support in one round trip (206 + Content-Range); a resume adds If-Range with
// the strong ETag or Last-Modified, so a changed file comes back whole (200) and restarts.
// The checks of one request live in HttpExchange (shared with CurlMultiEngine); a session
// adds what blocks: proxy routes (PAC), authentication legs, tunnels, client certificates.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "auth/authenticator.h"
#include "core/ports.h"
#include "transfer/network_services.h"
#include "transfer/rate_budget.h"
#include "transfer/url_parts.h"

namespace openbits::transfer {

class CurlSession : public core::TransferSession {
 public:
  explicit CurlSession(const NetworkServices& services);
  ~CurlSession() override;
  CurlSession(const CurlSession&) = delete;
  CurlSession& operator=(const CurlSession&) = delete;

  Status Download(const core::DownloadRequest& request, core::DownloadSink& sink) override;
  // Where the rate budget of the following downloads is read from while they run (null:
  // none); the budget may change mid-transfer.
  void set_budget(RateBudget* budget) { budget_ = budget; }

 private:
  class Tunnels;
  // The download over the routes the resolver gives, in order.
  Status DownloadRoutes(const core::DownloadRequest& request, core::DownloadSink& sink);
  // The download over one route: the request, then one more per authentication leg, for
  // the server (401) and for the proxy (407).
  Status DownloadVia(const core::DownloadRequest& request, core::DownloadSink& sink,
                     const proxy::Route& route, const UrlParts& first);
  // The authenticator of an origin or a proxy, made on first use from the job's credentials.
  auth::Authenticator& AuthenticatorFor(AuthTarget target, const core::DownloadRequest& request,
                                        const std::string& origin);

  CURL* curl_;
  const NetworkServices& services_;
  RateBudget* budget_ = nullptr;
  TlsRequest tls_;  // read by the handshakes of the handle's connections
  // Per origin (and per proxy), for the whole session: a scheme accepted once is sent ahead
  // afterwards.
  std::map<std::pair<AuthTarget, std::string>, auth::Authenticator> authenticators_;
  CURLcode last_code_ = CURLE_OK;  // of the last request
  std::optional<std::string> resume_mismatch_;
  bool restarting_ = false;
};

class CurlTransport : public core::Transport {
 public:
  // `services` must outlive the transport.
  explicit CurlTransport(const NetworkServices& services) : services_(services) {}
  std::unique_ptr<core::TransferSession> OpenSession() override;

 private:
  const NetworkServices& services_;
};

}  // namespace openbits::transfer
