// Requests beside the transfers: PAC scripts for the proxy resolver, and the nexus and login
// server of Passport for the auth layer. Both are direct GETs (never through a proxy, as
// WinHTTP fetches PAC files) with the daemon's TLS trust, a time limit and a size limit.
#pragma once

#include <string>

#include "auth/mechanism.h"
#include "proxy/resolver.h"
#include "transfer/tls_policy.h"

namespace openbits::transfer {

class CurlPacFetcher : public proxy::PacFetcher {
 public:
  CurlPacFetcher(const TlsTrust* trust, std::string user_agent, long timeout_s)
      : trust_(trust), user_agent_(std::move(user_agent)), timeout_s_(timeout_s) {}
  // A connection failure or a 5xx is transient (the PAC server is down for now); a 4xx, an
  // empty or oversized body is BG_E_INVALID_PROXY_INFO. Context GENERAL_TRANSPORT.
  Result<std::string> Fetch(const std::string& url) override;

 private:
  const TlsTrust* trust_;
  const std::string user_agent_;
  const long timeout_s_;
};

class CurlSideChannel : public auth::SideChannel {
 public:
  CurlSideChannel(const TlsTrust* trust, std::string user_agent, long timeout_s)
      : trust_(trust), user_agent_(std::move(user_agent)), timeout_s_(timeout_s) {}
  Result<auth::HttpReply> Get(const std::string& url, const SecretString& authorization) override;

 private:
  const TlsTrust* trust_;
  const std::string user_agent_;
  const long timeout_s_;
};

}  // namespace openbits::transfer
