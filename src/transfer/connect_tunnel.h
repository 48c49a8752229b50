// ConnectTunnel: a CONNECT tunnel through an http proxy that the engine opens and
// authenticates itself, then hands to libcurl as an already-connected socket (DESIGN.md 7).
// libcurl drops the connection after a 407 to CONNECT, which breaks connection-bound schemes
// (NTLM's three legs, multi-leg SPNEGO); here every leg stays on one connection as long as
// the proxy keeps it open, and a new one is opened when it does not.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "auth/authenticator.h"
#include "openbits/result.h"
#include "proxy/proxy_list.h"

namespace openbits::transfer {

struct TunnelOutcome {
  int fd = -1;  // the connected socket, the tunnel established (on success)
  std::optional<Error> error;
  bool proxy_unreachable = false;  // no TCP connection to the proxy: try the next one
};

// A proxy's answer to CONNECT: the header block (untrusted; at most kMaxResponseHeaderBytes).
struct ProxyResponse {
  int status = 0;
  std::string headers;  // the header block, status line first
  std::optional<std::size_t> content_length;
  bool keep_alive = true;  // whether the connection can carry the next leg
};
// nullopt when `block` is not an HTTP/1.x response.
std::optional<ProxyResponse> ParseProxyResponse(const std::string& block);

// Opens a tunnel to `authority` ("host:port") through `proxy`, answering the proxy's 407s
// with `authenticator` (which keeps what was accepted for the next tunnel).
// `proxy_url` names the proxy in messages.
TunnelOutcome OpenConnectTunnel(const proxy::ProxyServer& proxy, const std::string& authority,
                                auth::Authenticator& authenticator, const std::string& user_agent,
                                std::chrono::seconds timeout);

}  // namespace openbits::transfer
