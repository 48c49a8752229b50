#include "transfer/curl_transport.h"

#include <curl/curl.h>

#include <string.h>

#include <cctype>
#include <charconv>
#include <cstring>
#include <ctime>
#include <map>
#include <optional>

#include "auth/challenge.h"
#include "base/log.h"
#include "base/text.h"
#include "transfer/byte_ranges.h"
#include "transfer/connect_tunnel.h"
#include "transfer/curl_errors.h"
#include "transfer/response_headers.h"
#include "transfer/response_limits.h"
#include "transfer/side_requests.h"
#include "transfer/url_parts.h"

namespace openbits::transfer {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static const auto logger = log::Get("transfer");
  return logger;
}

constexpr long kBufferSize = 512 * 1024;
// Requests for one download at most: the first and one per authentication leg (NTLM and
// SPNEGO take three; a refused answer is retried once, then another scheme may be tried).
constexpr int kMaxAuthLegs = 8;

class CurlSession : public core::TransferSession {
 public:
  CurlSession(CURL* curl, const CurlTransportOptions& options, const TlsTrust* trust,
              core::CertificateStore* certificates, proxy::Resolver* proxies,
              auth::SideChannel* side_channel)
      : curl_(curl),
        options_(options),
        trust_(trust),
        certificates_(certificates),
        proxies_(proxies),
        side_channel_(side_channel) {}
  ~CurlSession() override { curl_easy_cleanup(curl_); }

  Status Download(const core::DownloadRequest& request, core::DownloadSink& sink) override;

 private:
  // The download over the routes the resolver gives, in order.
  Status DownloadRoutes(const core::DownloadRequest& request, core::DownloadSink& sink);

 private:
  // The download over one route (route_): the request, then one more per authentication
  // leg, for the server (401) and for the proxy (407).
  Status DownloadVia(const core::DownloadRequest& request, core::DownloadSink& sink,
                     const UrlParts& first);
  // One request of a download to `url` (the request's URL, or where a same-origin redirect
  // led), with the Authorization and Proxy-Authorization values when set. A 401 or 407 sets
  // challenged_.
  Status Perform(const core::DownloadRequest& request, core::DownloadSink& sink,
                 const std::string& url, const UrlParts& parts,
                 const std::optional<SecretString>& authorization,
                 const std::optional<SecretString>& proxy_authorization);
  // The authenticator of an origin or a proxy, made on first use from the job's credentials.
  auth::Authenticator& AuthenticatorFor(AuthTarget target, const core::DownloadRequest& request,
                                        const std::string& origin);
  // libcurl's opensocket callback for https through an http proxy: our own CONNECT tunnel.
  static curl_socket_t OpenTunnel(void* self, curlsocktype purpose, curl_sockaddr* address);
  static int AlreadyConnected(void*, curl_socket_t, curlsocktype) {
    return CURL_SOCKOPT_ALREADY_CONNECTED;
  }
  static size_t OnHeader(char* data, size_t size, size_t count, void* self);
  static size_t OnBody(char* data, size_t size, size_t count, void* self);
  static int OnProgress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
  // Decides, once the headers are in, whether the body is the one we asked for.
  Status AcceptResponse();
  // Tells the sink where a redirect led when the policy reports (or refuses) redirects.
  void ReportRedirect(std::uint32_t policy);
  // Hands the certificate and key to TLS as in-memory blobs (or clears them).
  void SetClientCredential(const std::optional<core::ClientCredential>& credential);
  // Range mode: checks the 206 and sets up the multipart parser or the single part.
  Status AcceptRangesResponse(core::DownloadResponse response);
  // Range mode: reports the remote size once, when the first part says it.
  Status ReportRanges(std::uint64_t total);
  Status OnRangesBody(const char* data, std::size_t length);

  CURL* curl_;
  const CurlTransportOptions& options_;
  const TlsTrust* trust_;
  core::CertificateStore* certificates_;
  proxy::Resolver* proxies_;
  auth::SideChannel* side_channel_;
  // Per origin (and per proxy), for the whole session: a scheme accepted once is sent ahead
  // afterwards.
  std::map<std::pair<AuthTarget, std::string>, auth::Authenticator> authenticators_;
  proxy::Route route_;            // the proxy of the current request, or direct
  std::string tunnel_authority_;  // host:port of the tunnel the current request needs
  TunnelOutcome tunnel_;          // how the last tunnel went
  TlsRequest tls_;  // the current request's TLS settings, read by the handshake callbacks
  // Per download:
  const core::DownloadRequest* request_ = nullptr;
  core::DownloadSink* sink_ = nullptr;
  ResponseHeaders headers_;
  bool accepted_ = false;
  std::uint64_t expected_end_ = kSizeUnknown;  // offset after the last byte of the body
  std::uint64_t position_ = 0;                 // offset of the next byte
  std::optional<Error> failure_;               // why a callback stopped the transfer
  // Set when a resumed 206 is of another version of the file (what changed); Download then
  // asks for the whole file again (restarting_), which the sink starts from byte 0.
  std::optional<std::string> resume_mismatch_;
  bool restarting_ = false;
  long challenged_ = 0;             // 401 or 407: the body is discarded, the challenges answered
  bool passport_redirect_ = false;  // a 3xx with a Passport challenge (taken as a 401)
  std::uint64_t challenge_drained_ = 0;  // bytes of a 401/407 body read so far
  bool challenge_body_cut_ = false;      // ... more than kMaxChallengeBodyBytes: hung up
  CURLcode last_code_ = CURLE_OK;
  // Range mode (AddFileWithRanges):
  std::optional<RangeCursor> cursor_;
  core::DownloadResponse pending_response_;
  std::optional<MultipartParser> multipart_;
  bool response_reported_ = false;
};

size_t CurlSession::OnHeader(char* data, size_t size, size_t count, void* self_ptr) {
  auto* self = static_cast<CurlSession*>(self_ptr);
  const std::string_view line(data, size * count);
  if (auto added = self->headers_.AddLine(line, log::RedactUrl(self->request_->url)); !added) {
    self->failure_ = added.error();
    return 0;  // stops the transfer
  }
  // A Passport site challenges with a redirect to its login server; like WinHTTP, take it as
  // a 401 instead of following it (the transfer stops here; Download answers).
  if (self->headers_.passport_challenge) {
    self->passport_redirect_ = true;
    return 0;
  }
  return size * count;
}

Status CurlSession::AcceptResponse() {
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &headers_.status);
  const std::string url = log::RedactUrl(request_->url);
  const long status = headers_.status;
  if (status == 401 || (status == 407 && route_)) {
    // Answered by Download with the challenges of the header block; the body is dropped
    // and the connection kept, as connection-bound schemes (NTLM) need.
    challenged_ = status;
    accepted_ = true;
    return Ok();
  }
  if (!headers_.retry_after.empty()) {
    // Seconds, or an HTTP date (RFC 9110 10.2.3).
    std::int64_t delay = -1;
    if (auto seconds = ParseDecimal(headers_.retry_after)) {
      delay = static_cast<std::int64_t>(*seconds);
    } else if (const time_t when = curl_getdate(headers_.retry_after.c_str(), nullptr); when > 0) {
      delay = std::max<std::int64_t>(when - std::time(nullptr), 0);
    }
    if (delay > 0) sink_->OnRetryAfter(std::chrono::seconds(std::min<std::int64_t>(delay, 86400)));
  }
  if (status == 416 && !request_->ranges.empty()) {
    return Error(hr::BG_E_INVALID_RANGE, ErrorContext::kRemoteFile,
                 "the server cannot satisfy the requested byte ranges of " + url);
  }
  if (status >= 400 || (status >= 300 && status < 400) || status < 200) {
    return HttpStatusError(status, headers_.retry_after, url);
  }
  core::DownloadResponse response;
  response.raw_headers = headers_.raw;
  response.validators = {headers_.etag, headers_.last_modified};
  if (!headers_.last_modified.empty()) {
    const time_t parsed = curl_getdate(headers_.last_modified.c_str(), nullptr);
    if (parsed > 0) response.remote_mtime_us = std::int64_t{parsed} * 1'000'000;
  }
  if (!request_->ranges.empty()) {
    OPENBITS_RETURN_IF_ERROR(AcceptRangesResponse(std::move(response)));
    accepted_ = true;
    return Ok();
  }
  std::uint64_t start = 0;
  if (request_->whole_body) {
    // Dynamic content or a custom verb: whatever the body is, from byte 0.
    if (status == 206) {
      return Error(hr::BG_E_INVALID_SERVER_RESPONSE, ErrorContext::kRemoteFile,
                   "the server sent a partial body without being asked for one: " + url);
    }
    response.bytes_total = headers_.content_length.value_or(kSizeUnknown);
    expected_end_ = response.bytes_total;
  } else if (status == 206) {
    auto range = headers_.content_range ? ParseContentRange(*headers_.content_range) : std::nullopt;
    if (!range || range->first != request_->offset) {
      return Error(hr::BG_E_INVALID_SERVER_RESPONSE, ErrorContext::kRemoteFile,
                   "the server answered a range request for byte " +
                       std::to_string(request_->offset) + " with Content-Range '" +
                       headers_.content_range.value_or("") + "' for " + url);
    }
    if (range->total == kSizeUnknown) {
      return Error(hr::BG_E_MISSING_FILE_SIZE, ErrorContext::kRemoteFile,
                   "the server did not say the size of " + url);
    }
    if (request_->offset > 0) {
      if (auto changed = ResumeMismatch(request_->validators, request_->known_total,
                                        response.validators, range->total)) {
        // The server ignored If-Range and sent the new version's bytes: Download starts
        // the file again instead of splicing them onto the old version's.
        resume_mismatch_ = *changed;
        return Error(hr::BG_E_REMOTE_FILE_CHANGED, ErrorContext::kRemoteFile,
                     "the server answered a resumed request for " + url +
                         " with bytes of another version of the file (" + *changed + ")");
      }
    }
    response.bytes_total = range->total;
    start = range->first;
    expected_end_ = range->last + 1;
  } else {
    // 200: the whole file. Fine from offset 0; from later on it means either the file changed
    // (If-Range failed) or the server ignores Range.
    if (!headers_.content_length) {
      return Error(hr::BG_E_MISSING_FILE_SIZE, ErrorContext::kRemoteFile,
                   "the server sent neither Content-Length nor Content-Range for " + url);
    }
    if (request_->offset > 0) {
      if (response.validators == request_->validators) {
        return Error(hr::BG_E_INSUFFICIENT_RANGE_SUPPORT, ErrorContext::kRemoteFile,
                     "the server ignored the Range header (status 200 instead of 206) for " + url);
      }
      response.restart_from_zero = true;
    }
    response.bytes_total = *headers_.content_length;
    expected_end_ = response.bytes_total;
  }
  position_ = start;
  response.restart_from_zero = response.restart_from_zero || restarting_;
  OPENBITS_RETURN_IF_ERROR(sink_->OnResponse(response));
  accepted_ = true;
  return Ok();
}

size_t CurlSession::OnBody(char* data, size_t size, size_t count, void* self_ptr) {
  auto* self = static_cast<CurlSession*>(self_ptr);
  const size_t length = size * count;
  if (!self->accepted_) {
    if (auto accepted = self->AcceptResponse(); !accepted) {
      self->failure_ = accepted.error();
      return CURL_WRITEFUNC_ERROR;
    }
  }
  if (self->challenged_) {
    // An error page nobody reads: drained (so that the connection carries the next leg) up
    // to a cap, past which the connection is dropped instead.
    self->challenge_drained_ += length;
    if (self->challenge_drained_ > kMaxChallengeBodyBytes) {
      self->challenge_body_cut_ = true;
      return CURL_WRITEFUNC_ERROR;
    }
    return length;
  }
  if (self->cursor_) {
    if (auto taken = self->OnRangesBody(data, length); !taken) {
      self->failure_ = taken.error();
      return CURL_WRITEFUNC_ERROR;
    }
    return length;
  }
  if (self->position_ + length > self->expected_end_) {
    self->failure_ = Error(hr::BG_E_INVALID_SERVER_RESPONSE, ErrorContext::kRemoteFile,
                           "the server sent more bytes than announced");
    return CURL_WRITEFUNC_ERROR;
  }
  if (auto written = self->sink_->OnData(data, length); !written) {
    self->failure_ = written.error();
    return CURL_WRITEFUNC_ERROR;
  }
  self->position_ += length;
  return length;
}

int CurlSession::OnProgress(void* self_ptr, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* self = static_cast<CurlSession*>(self_ptr);
  return self->sink_->StopRequested() ? 1 : 0;
}

void CurlSession::SetClientCredential(const std::optional<core::ClientCredential>& credential) {
  if (!credential) {
    curl_easy_setopt(curl_, CURLOPT_SSLCERT_BLOB, nullptr);
    curl_easy_setopt(curl_, CURLOPT_SSLKEY_BLOB, nullptr);
    return;
  }
  curl_blob certificate{const_cast<char*>(credential->certificate_pem.data()),
                        credential->certificate_pem.size(), CURL_BLOB_COPY};
  const std::string_view key_pem = credential->key_pem.reveal();
  curl_blob key{const_cast<char*>(key_pem.data()), key_pem.size(), CURL_BLOB_COPY};
  curl_easy_setopt(curl_, CURLOPT_SSLCERTTYPE, "PEM");
  curl_easy_setopt(curl_, CURLOPT_SSLCERT_BLOB, &certificate);
  curl_easy_setopt(curl_, CURLOPT_SSLKEYTYPE, "PEM");
  curl_easy_setopt(curl_, CURLOPT_SSLKEY_BLOB, &key);
}

void CurlSession::ReportRedirect(std::uint32_t policy) {
  if (policy == kRedirectPolicyAllowReport) {
    long redirects = 0;
    curl_easy_getinfo(curl_, CURLINFO_REDIRECT_COUNT, &redirects);
    const char* effective = nullptr;
    curl_easy_getinfo(curl_, CURLINFO_EFFECTIVE_URL, &effective);
    if (redirects > 0 && effective) sink_->OnRemoteNameChanged(effective);
  } else if (policy == kRedirectPolicyDisallow) {
    const char* target = nullptr;
    curl_easy_getinfo(curl_, CURLINFO_REDIRECT_URL, &target);
    if (target) sink_->OnRemoteNameChanged(target);
  }
}

Status CurlSession::AcceptRangesResponse(core::DownloadResponse response) {
  const std::string url = log::RedactUrl(request_->url);
  if (!request_->validators.empty() && response.validators != request_->validators) {
    return Error(hr::BG_E_REMOTE_FILE_CHANGED, ErrorContext::kRemoteFile,
                 "the remote file changed between range requests: " + url);
  }
  if (headers_.status != 206) {
    return Error(hr::BG_E_INSUFFICIENT_RANGE_SUPPORT, ErrorContext::kRemoteFile,
                 "the server answered a range request with status " +
                     std::to_string(headers_.status) + " for " + url);
  }
  pending_response_ = std::move(response);
  cursor_.emplace(request_->ranges);
  if (auto boundary = MultipartBoundary(headers_.content_type)) {
    multipart_.emplace(*boundary);
    return Ok();  // the parts say their ranges and the size
  }
  auto range = headers_.content_range ? ParseContentRange(*headers_.content_range) : std::nullopt;
  if (!range || range->total == kSizeUnknown) {
    return Error(hr::BG_E_INVALID_SERVER_RESPONSE, ErrorContext::kRemoteFile,
                 "a 206 response without a usable Content-Range for " + url);
  }
  OPENBITS_RETURN_IF_ERROR(ReportRanges(range->total));
  return cursor_->StartPart(range->first, range->last);
}

Status CurlSession::ReportRanges(std::uint64_t total) {
  if (response_reported_) return Ok();
  response_reported_ = true;
  cursor_->SetRemoteSize(total);
  pending_response_.bytes_total = total;
  return sink_->OnResponse(pending_response_);
}

Status CurlSession::OnRangesBody(const char* data, std::size_t length) {
  if (!multipart_) {
    OPENBITS_RETURN_IF_ERROR(cursor_->Consume(length));
    return sink_->OnData(data, length);
  }
  return multipart_->Feed(
      data, length,
      [&](std::uint64_t first, std::uint64_t last, std::uint64_t total) -> Status {
        if (total == kSizeUnknown) {
          return Error(hr::BG_E_INVALID_SERVER_RESPONSE, ErrorContext::kRemoteFile,
                       "a range part does not say the size of the file");
        }
        OPENBITS_RETURN_IF_ERROR(ReportRanges(total));
        return cursor_->StartPart(first, last);
      },
      [&](const char* part, std::size_t part_length) -> Status {
        OPENBITS_RETURN_IF_ERROR(cursor_->Consume(part_length));
        return sink_->OnData(part, part_length);
      });
}

auth::Authenticator& CurlSession::AuthenticatorFor(AuthTarget target,
                                                   const core::DownloadRequest& request,
                                                   const std::string& origin) {
  const auto key = std::pair{target, origin};
  auto it = authenticators_.find(key);
  if (it == authenticators_.end()) {
    it = authenticators_
             .emplace(key,
                      auth::Authenticator(target, request.credentials, options_.auth,
                                          {request.network.uid, request.network.credential_cache},
                                          side_channel_))
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
  auto routes = proxies_->Routes({request.proxy, request.proxy_environment, request.network.uid},
                                 {PacUrl(*first), first->scheme, first->host, first->port});
  if (!routes) {
    return Error(routes.error().code(), routes.error().context(),
                 routes.error().message() + " (for " + log::RedactUrl(request.url) + ")");
  }
  // Proxies are tried in order; one that cannot be reached hands over to the next.
  std::string unreachable;
  std::optional<Error> last;
  for (const proxy::Route& route : *routes) {
    route_ = route;
    Status status = DownloadVia(request, sink, *first);
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
                                const UrlParts& first) {
  auth::RequestInfo info{request.http_method.empty() ? "GET" : request.http_method, first.target,
                         first.host, first.secure, request.url};
  // What the proxy authenticates: the CONNECT of a tunnel (https), else the request itself,
  // whose target is then the absolute URL.
  const bool tunnel = first.secure;
  auth::RequestInfo proxy_info{tunnel ? "CONNECT" : info.method,
                               tunnel ? first.host + ":" + std::to_string(first.port) : request.url,
                               route_ ? route_->host : "", route_ && route_->scheme == "https",
                               request.url};
  const std::string proxy_key = route_ ? route_->Url() : "";
  std::string url = request.url;
  UrlParts parts = first;  // of `url`
  std::optional<SecretString> authorization =
      AuthenticatorFor(AuthTarget::kServer, request, first.origin).Preemptive(info);
  std::optional<SecretString> proxy_authorization;
  if (route_) {
    proxy_authorization =
        AuthenticatorFor(AuthTarget::kProxy, request, proxy_key).Preemptive(proxy_info);
  }
  const std::string where = log::RedactUrl(request.url);
  for (int leg = 1;; ++leg) {
    Status status = Perform(request, sink, url, parts, authorization, proxy_authorization);
    const char* effective = nullptr;
    curl_easy_getinfo(curl_, CURLINFO_EFFECTIVE_URL, &effective);
    const auto answered = SplitUrl(effective ? effective : url);
    if (!challenged_) {
      if (status && authorization && answered && answered->origin == first.origin) {
        AuthenticatorFor(AuthTarget::kServer, request, first.origin).Accepted();
      }
      if (status && proxy_authorization) {
        AuthenticatorFor(AuthTarget::kProxy, request, proxy_key).Accepted();
      }
      return status;
    }
    if (challenged_ == 407) {
      auto refuse = [&](const std::string& why) {
        return Error(HttpStatusToHresult(407), ErrorContext::kGeneralTransport,
                     "HTTP status 407 (proxy authentication required) from the proxy " + proxy_key +
                         " for " + where + ": " + why);
      };
      if (leg >= kMaxAuthLegs) return refuse("the authentication exchange did not end");
      auto answer =
          AuthenticatorFor(AuthTarget::kProxy, request, proxy_key)
              .Answer(auth::ChallengesFromHeaders(headers_.raw, "Proxy-Authenticate"), proxy_info);
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
                      .Answer(auth::ChallengesFromHeaders(headers_.raw, "WWW-Authenticate"), info);
    if (!answer) return refuse(answer.error().message());
    authorization = std::move(*answer);
  }
}

curl_socket_t CurlSession::OpenTunnel(void* self_ptr, curlsocktype, curl_sockaddr*) {
  auto* self = static_cast<CurlSession*>(self_ptr);
  self->tunnel_ = OpenConnectTunnel(
      *self->route_, self->tunnel_authority_,
      self->AuthenticatorFor(AuthTarget::kProxy, *self->request_, self->route_->Url()),
      self->options_.user_agent, std::chrono::seconds(self->options_.connect_timeout_s));
  return self->tunnel_.fd >= 0 ? self->tunnel_.fd : CURL_SOCKET_BAD;
}

Status CurlSession::Perform(const core::DownloadRequest& request, core::DownloadSink& sink,
                            const std::string& url, const UrlParts& parts,
                            const std::optional<SecretString>& authorization,
                            const std::optional<SecretString>& proxy_authorization) {
  request_ = &request;
  challenged_ = 0;
  passport_redirect_ = false;
  challenge_drained_ = 0;
  challenge_body_cut_ = false;
  sink_ = &sink;
  headers_.Reset();
  accepted_ = false;
  expected_end_ = kSizeUnknown;
  position_ = request.offset;
  failure_.reset();
  cursor_.reset();
  multipart_.reset();
  response_reported_ = false;

  curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
  tls_ = TlsRequest{trust_, request.security_flags, false};
  ConfigureTls(curl_, &tls_);
  // The client certificate is looked up now, so that a changed store takes effect.
  std::optional<core::ClientCredential> credential;
  if (request.client_certificate) {
    if (!certificates_) {
      return Error(hr::CRYPT_E_NOT_FOUND, ErrorContext::kLocalFile, "no certificate stores");
    }
    auto resolved = certificates_->Resolve(request.owner, *request.client_certificate);
    if (!resolved) return resolved.error();
    credential = std::move(*resolved);
  }
  SetClientCredential(credential);
  tls_.presented_certificate = credential.has_value();
  // https through an http proxy: the tunnel is ours (connect_tunnel.h), and libcurl talks
  // TLS to the server over it as if it were a direct connection. CONNECT_TO (whose address
  // the callback ignores) keeps connections made this way apart: they are reused only for
  // tunnelled requests to the same host and port.
  const bool own_tunnel = route_ && route_->scheme == "http" && parts.secure;
  tunnel_ = {};
  tunnel_authority_ =
      own_tunnel
          ? (parts.host.find(':') != std::string::npos ? "[" + parts.host + "]" : parts.host) +
                ":" + std::to_string(parts.port)
          : "";
  curl_slist* connect_to_list =
      own_tunnel
          ? curl_slist_append(
                nullptr, (tunnel_authority_ + ":127.0.0.1:" + std::to_string(parts.port)).c_str())
          : nullptr;
  curl_easy_setopt(curl_, CURLOPT_CONNECT_TO, connect_to_list);
  curl_easy_setopt(curl_, CURLOPT_OPENSOCKETFUNCTION,
                   own_tunnel ? &CurlSession::OpenTunnel : nullptr);
  curl_easy_setopt(curl_, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(curl_, CURLOPT_SOCKOPTFUNCTION,
                   own_tunnel ? &CurlSession::AlreadyConnected : nullptr);
  // Always set: an empty string is "no proxy", whatever the environment of bitsd says.
  const std::string proxy_url = route_ && !own_tunnel ? route_->Url() : "";
  curl_easy_setopt(curl_, CURLOPT_PROXY, proxy_url.c_str());
  curl_slist* proxy_headers = nullptr;
  if (proxy_authorization) {
    std::string line = "Proxy-Authorization: ";
    line.append(proxy_authorization->reveal());
    proxy_headers = curl_slist_append(nullptr, line.c_str());
    explicit_bzero(line.data(), line.size());
  }
  // Proxy-Authorization goes to the proxy only (the CONNECT of a tunnel, or the request).
  curl_easy_setopt(curl_, CURLOPT_HEADEROPT, CURLHEADER_SEPARATE);
  curl_easy_setopt(curl_, CURLOPT_PROXYHEADER, proxy_headers);
  // Redirect policy (SetSecurityFlags): DISALLOW stops at the 3xx; https never falls back to
  // http unless ALLOW_HTTPS_TO_HTTP.
  const std::uint32_t policy = request.security_flags & kRedirectPolicyMask;
  const bool from_https =
      request.url.size() > 5 && (request.url[4] == 's' || request.url[4] == 'S');
  curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, policy == kRedirectPolicyDisallow ? 0L : 1L);
  curl_easy_setopt(
      curl_, CURLOPT_REDIR_PROTOCOLS_STR,
      from_https && !(request.security_flags & kRedirectAllowHttpsToHttp) ? "https" : "http,https");
  const std::string range =
      "Range: " + (request.ranges.empty() ? "bytes=" + std::to_string(request.offset) + "-"
                                          : RangeHeaderValue(request.ranges));
  curl_slist* request_headers =
      request.whole_body ? nullptr : curl_slist_append(nullptr, range.c_str());
  for (std::string& line : core::CustomHeaderLines(request.custom_headers)) {
    request_headers = curl_slist_append(request_headers, line.c_str());
    explicit_bzero(line.data(), line.size());
  }
  if (authorization) {
    // curl sends a custom Authorization header only to the host of CURLOPT_URL, never to
    // another host after a redirect (CVE-2018-1000007, CVE-2022-27776).
    std::string line = "Authorization: ";
    line.append(authorization->reveal());
    request_headers = curl_slist_append(request_headers, line.c_str());
    explicit_bzero(line.data(), line.size());
  }
  if (request.offset > 0 && !request.whole_body && request.ranges.empty()) {
    const std::string& validator = !request.validators.etag.empty()
                                       ? request.validators.etag
                                       : request.validators.last_modified;
    if (!validator.empty()) {
      request_headers = curl_slist_append(request_headers, ("If-Range: " + validator).c_str());
    }
  }
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, request_headers);
  curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST,
                   request.http_method.empty() ? nullptr : request.http_method.c_str());
  curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &CurlSession::OnHeader);
  curl_easy_setopt(curl_, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &CurlSession::OnBody);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, &CurlSession::OnProgress);
  curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, this);

  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error_buffer);
  CURLcode code = curl_easy_perform(curl_);
  // The challenge was read whole; only its error page was cut short (and the connection
  // with it, so the next leg opens another one).
  if (challenge_body_cut_ && code == CURLE_WRITE_ERROR) code = CURLE_OK;
  curl_easy_setopt(curl_, CURLOPT_CONNECT_TO, nullptr);
  curl_slist_free_all(connect_to_list);
  last_code_ = code;
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl_, CURLOPT_PROXYHEADER, nullptr);
  for (curl_slist* node = proxy_headers; node; node = node->next) {
    explicit_bzero(node->data, std::strlen(node->data));
  }
  curl_slist_free_all(proxy_headers);
  curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, nullptr);
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, nullptr);
  // The custom headers may carry tokens: wipe curl's copies before they are freed.
  for (curl_slist* node = request_headers; node; node = node->next) {
    explicit_bzero(node->data, std::strlen(node->data));
  }
  curl_slist_free_all(request_headers);
  if (tunnel_.error) {
    // The proxy could not be reached (the next one is tried), or refused the tunnel.
    last_code_ = tunnel_.proxy_unreachable ? CURLE_COULDNT_CONNECT : CURLE_OK;
    return *tunnel_.error;
  }

  if (sink.StopRequested()) {
    return Error(core::kAborted, ErrorContext::kNone, "the transfer was stopped");
  }
  if (passport_redirect_) {
    challenged_ = 401;
    return Ok();
  }
  long connect_code = 0;
  curl_easy_getinfo(curl_, CURLINFO_HTTP_CONNECTCODE, &connect_code);
  if (route_ && code != CURLE_OK && connect_code == 407) {
    challenged_ = 407;  // the proxy wants authentication for the tunnel
    return Ok();
  }
  if (route_ && code != CURLE_OK && connect_code >= 300) {
    return Error(
        HttpStatusToHresult(static_cast<int>(connect_code)), ErrorContext::kGeneralTransport,
        "the proxy " + route_->Url() + " refused the tunnel for " + log::RedactUrl(request.url) +
            " with HTTP status " + std::to_string(connect_code));
  }
  ReportRedirect(policy);
  if (failure_) return *failure_;
  long redirects = 0;
  curl_easy_getinfo(curl_, CURLINFO_REDIRECT_COUNT, &redirects);
  if (code == CURLE_UNSUPPORTED_PROTOCOL && redirects > 0) {
    return Error(hr::WINHTTP_REDIRECT_FAILED, ErrorContext::kRemoteFile,
                 "a redirect from https to http was refused (set "
                 "BG_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP to allow it) for " +
                     log::RedactUrl(request.url));
  }
  if (code == CURLE_OUT_OF_MEMORY && !accepted_) {
    // libcurl refuses a header line over CURL_MAX_HTTP_HEADER this way, before we see it.
    return Error(hr::BG_E_INVALID_SERVER_RESPONSE, ErrorContext::kRemoteFile,
                 "a response header line is longer than " +
                     std::to_string(kMaxHeaderLineBytes / 1024) +
                     " KiB (the cap on one header line) for " + log::RedactUrl(request.url));
  }
  if (code != CURLE_OK) {
    if (auto tls = TlsError(curl_, code, error_buffer, tls_, log::RedactUrl(request.url))) {
      return *tls;
    }
    return CurlError(curl_, code, error_buffer, log::RedactUrl(request.url));
  }
  if (!accepted_) {
    // No body at all: an error status, or an empty file.
    OPENBITS_RETURN_IF_ERROR(AcceptResponse());
  }
  if (challenged_) return Ok();  // Download answers the challenge
  if (cursor_) {
    if (multipart_ && !multipart_->finished()) {
      return Error(hr::BG_E_CONNECTION_CLOSED, ErrorContext::kRemoteFile,
                   "the multipart response ended early for " + log::RedactUrl(request.url));
    }
    return Ok();  // the caller asks again for ranges the server left out
  }
  if (expected_end_ != kSizeUnknown && position_ != expected_end_) {
    return Error(hr::BG_E_CONNECTION_CLOSED, ErrorContext::kRemoteFile,
                 "the connection closed after " + std::to_string(position_) + " of " +
                     std::to_string(expected_end_) + " bytes of " + log::RedactUrl(request.url));
  }
  return Ok();
}

}  // namespace

Result<std::unique_ptr<CurlTransport>> CurlTransport::Create(
    CurlTransportOptions options, core::CertificateStore* certificates,
    const core::AccountProxies* account_proxies) {
  std::unique_ptr<CurlTransport> transport(new CurlTransport(std::move(options), account_proxies));
  transport->certificates_ = certificates;
  auto trust = TlsTrust::Load(transport->options_.extra_ca_file, transport->options_.crl_file);
  if (!trust) return trust.error();
  transport->trust_ = std::move(*trust);
  transport->pac_fetcher_ =
      std::make_unique<CurlPacFetcher>(transport->trust_.get(), transport->options_.user_agent,
                                       transport->options_.connect_timeout_s);
  transport->proxies_.set_fetcher(transport->pac_fetcher_.get());
  transport->side_channel_ =
      std::make_unique<CurlSideChannel>(transport->trust_.get(), transport->options_.user_agent,
                                        transport->options_.connect_timeout_s);
  if (!transport->options_.extra_ca_file.empty()) {
    Log()->info("Trusting {} extra CA certificate(s) from {}",
                transport->trust_->extra_cas().size(), transport->options_.extra_ca_file);
  }
  return transport;
}

CurlTransport::CurlTransport(CurlTransportOptions options,
                             const core::AccountProxies* account_proxies)
    : options_(std::move(options)), proxies_(options_.proxy, account_proxies, nullptr) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

CurlTransport::~CurlTransport() { curl_global_cleanup(); }

std::unique_ptr<core::TransferSession> CurlTransport::OpenSession() {
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_s);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, options_.low_speed_time_s);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, kBufferSize);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  // Bytes on disk must be the server's bytes: no transparent decompression.
  curl_easy_setopt(curl, CURLOPT_HTTP_CONTENT_DECODING, 0L);
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
  Log()->debug("Opened transfer session");
  return std::make_unique<CurlSession>(curl, options_, trust_.get(), certificates_, &proxies_,
                                       side_channel_.get());
}

}  // namespace openbits::transfer
