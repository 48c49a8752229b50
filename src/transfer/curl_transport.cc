#include "transfer/curl_transport.h"

#include <curl/curl.h>

#include "auth/challenge.h"
#include "base/log.h"
#include "transfer/connect_tunnel.h"
#include "transfer/http_exchange.h"
#include "transfer/url_parts.h"

namespace openbits::transfer {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static const auto logger = log::Get("transfer");
  return logger;
}

// Requests for one download at most: the first and one per authentication leg (NTLM and
// SPNEGO take three; a refused answer is retried once, then another scheme may be tried).
constexpr int kMaxAuthLegs = 8;

}  // namespace

// The CONNECT tunnels of one request's route, answered by the session's proxy authenticator.
class CurlSession::Tunnels : public TunnelOpener {
 public:
  Tunnels(CurlSession& session, const core::DownloadRequest& request, const proxy::Route& route)
      : session_(session), request_(request), route_(route) {}
  TunnelOutcome Open(const std::string& authority) override {
    return OpenConnectTunnel(*route_, authority,
                             session_.AuthenticatorFor(AuthTarget::kProxy, request_, route_->Url()),
                             session_.services_.options().user_agent,
                             std::chrono::seconds(session_.services_.options().connect_timeout_s));
  }

 private:
  CurlSession& session_;
  const core::DownloadRequest& request_;
  const proxy::Route& route_;
};

CurlSession::CurlSession(const NetworkServices& services)
    : curl_(curl_easy_init()), services_(services) {
  ConfigureEasyDefaults(curl_, services_.options());
}

CurlSession::~CurlSession() { curl_easy_cleanup(curl_); }

auth::Authenticator& CurlSession::AuthenticatorFor(AuthTarget target,
                                                   const core::DownloadRequest& request,
                                                   const std::string& origin) {
  const auto key = std::pair{target, origin};
  auto it = authenticators_.find(key);
  if (it == authenticators_.end()) {
    it = authenticators_
             .emplace(key,
                      auth::Authenticator(target, request.credentials, services_.options().auth,
                                          {request.network.uid, request.network.credential_cache},
                                          services_.side_channel()))
             .first;
  }
  return it->second;
}

Status CurlSession::Download(const core::DownloadRequest& request, core::DownloadSink& sink) {
  resume_mismatch_.reset();
  Status status = DownloadRoutes(request, sink);
  if (status || !resume_mismatch_ || sink.StopRequested()) return status;
  // Never splice two versions of a file: the whole file again, from byte 0.
  Log()->info("Remote file {} changed under a resumed request ({}): restarting it from zero",
              log::RedactUrl(request.url), *resume_mismatch_);
  core::DownloadRequest whole = request;
  whole.offset = 0;
  whole.validators = {};
  whole.known_total = kSizeUnknown;
  restarting_ = true;
  status = DownloadRoutes(whole, sink);
  restarting_ = false;
  return status;
}

Status CurlSession::DownloadRoutes(const core::DownloadRequest& request, core::DownloadSink& sink) {
  const auto first = SplitUrl(request.url);
  if (!first) {
    return Error(hr::E_INVALIDARG, ErrorContext::kRemoteFile,
                 "the URL cannot be parsed: " + log::RedactUrl(request.url));
  }
  auto routes =
      services_.proxies().Routes({request.proxy, request.proxy_environment, request.network.uid},
                                 {PacUrl(*first), first->scheme, first->host, first->port});
  if (!routes) {
    return Error(routes.error().code(), routes.error().context(),
                 routes.error().message() + " (for " + log::RedactUrl(request.url) + ")");
  }
  // Proxies are tried in order; one that cannot be reached hands over to the next.
  std::string unreachable;
  std::optional<Error> last;
  for (const proxy::Route& route : *routes) {
    Status status = DownloadVia(request, sink, route, *first);
    const bool proxy_down =
        route && (last_code_ == CURLE_COULDNT_CONNECT || last_code_ == CURLE_COULDNT_RESOLVE_PROXY);
    if (status || !proxy_down || sink.StopRequested()) return status;
    Log()->info("Proxy {} cannot be reached: {}", route->Url(), status.error().message());
    unreachable += (unreachable.empty() ? "" : ", ") + route->Url();
    last = status.error();
  }
  return Error(last->code(), ErrorContext::kGeneralTransport,
               "no proxy of the list could be reached (" + unreachable + ") for " +
                   log::RedactUrl(request.url));
}

Status CurlSession::DownloadVia(const core::DownloadRequest& request, core::DownloadSink& sink,
                                const proxy::Route& route, const UrlParts& first) {
  auth::RequestInfo info{request.http_method.empty() ? "GET" : request.http_method, first.target,
                         first.host, first.secure, request.url};
  // What the proxy authenticates: the CONNECT of a tunnel (https), else the request itself,
  // whose target is then the absolute URL.
  const bool tunnel = first.secure;
  auth::RequestInfo proxy_info{tunnel ? "CONNECT" : info.method,
                               tunnel ? first.host + ":" + std::to_string(first.port) : request.url,
                               route ? route->host : "", route && route->scheme == "https",
                               request.url};
  const std::string proxy_key = route ? route->Url() : "";
  std::string url = request.url;
  UrlParts parts = first;  // of `url`
  std::optional<SecretString> authorization =
      AuthenticatorFor(AuthTarget::kServer, request, first.origin).Preemptive(info);
  std::optional<SecretString> proxy_authorization;
  if (route) {
    proxy_authorization =
        AuthenticatorFor(AuthTarget::kProxy, request, proxy_key).Preemptive(proxy_info);
  }
  const std::string where = log::RedactUrl(request.url);
  for (int leg = 1;; ++leg) {
    std::optional<core::ClientCredential> credential;
    if (request.client_certificate) {
      // Looked up for every request, so that a changed store takes effect.
      if (!services_.certificates()) {
        return Error(hr::CRYPT_E_NOT_FOUND, ErrorContext::kLocalFile, "no certificate stores");
      }
      auto resolved = services_.certificates()->Resolve(request.owner, *request.client_certificate);
      if (!resolved) return resolved.error();
      credential = std::move(*resolved);
    }
    HttpExchange exchange(services_.trust(),
                          {&request, &sink, url, parts, authorization, proxy_authorization, route,
                           std::move(credential), &tls_, restarting_, budget_, nullptr});
    Tunnels tunnels(*this, request, route);
    exchange.Configure(curl_, &tunnels);
    Status status = exchange.Finish(curl_easy_perform(curl_));
    last_code_ = exchange.last_code();
    if (exchange.resume_mismatch()) resume_mismatch_ = exchange.resume_mismatch();
    const long challenged = exchange.challenged();
    const ResponseHeaders& headers = exchange.headers();
    const char* effective = nullptr;
    curl_easy_getinfo(curl_, CURLINFO_EFFECTIVE_URL, &effective);
    const auto answered = SplitUrl(effective ? effective : url);
    if (!challenged) {
      if (status && authorization && answered && answered->origin == first.origin) {
        AuthenticatorFor(AuthTarget::kServer, request, first.origin).Accepted();
      }
      if (status && proxy_authorization) {
        AuthenticatorFor(AuthTarget::kProxy, request, proxy_key).Accepted();
      }
      return status;
    }
    if (challenged == 407) {
      auto refuse = [&](const std::string& why) {
        return Error(HttpStatusToHresult(407), ErrorContext::kGeneralTransport,
                     "HTTP status 407 (proxy authentication required) from the proxy " + proxy_key +
                         " for " + where + ": " + why);
      };
      if (leg >= kMaxAuthLegs) return refuse("the authentication exchange did not end");
      auto answer =
          AuthenticatorFor(AuthTarget::kProxy, request, proxy_key)
              .Answer(auth::ChallengesFromHeaders(headers.raw, "Proxy-Authenticate"), proxy_info);
      if (!answer) return refuse(answer.error().message());
      proxy_authorization = std::move(*answer);
      continue;
    }
    auto refuse = [&](const std::string& why) {
      return Error(HttpStatusToHresult(401), ErrorContext::kRemoteFile,
                   "HTTP status 401 (authentication required) for " + where + ": " + why);
    };
    if (!answered || answered->origin != first.origin) {
      // Credentials never follow a redirect to another origin (DESIGN.md 6).
      return refuse("a redirect led to another origin, which gets no credentials");
    }
    if (leg >= kMaxAuthLegs) return refuse("the authentication exchange did not end");
    // A same-origin redirect: authenticate where it led.
    url = effective;
    parts = *answered;
    info.uri = parts.target;
    auto answer = AuthenticatorFor(AuthTarget::kServer, request, first.origin)
                      .Answer(auth::ChallengesFromHeaders(headers.raw, "WWW-Authenticate"), info);
    if (!answer) return refuse(answer.error().message());
    authorization = std::move(*answer);
  }
}

std::unique_ptr<core::TransferSession> CurlTransport::OpenSession() {
  Log()->debug("Opened transfer session");
  return std::make_unique<CurlSession>(services_);
}

}  // namespace openbits::transfer
