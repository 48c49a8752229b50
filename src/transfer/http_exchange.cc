#include "transfer/http_exchange.h"

#include <string.h>

#include <cstring>
#include <ctime>
#include <thread>

#include "base/log.h"
#include "base/text.h"
#include "transfer/curl_errors.h"
#include "transfer/response_limits.h"

namespace openbits::transfer {

namespace {
constexpr std::chrono::milliseconds kBudgetSlice{100};
}  // namespace

bool NeedsOwnTunnel(const proxy::Route& route, const UrlParts& parts) {
  return route && route->scheme == "http" && parts.secure;
}

HttpExchange::HttpExchange(const TlsTrust* trust, ExchangeInput input)
    : trust_(trust), in_(std::move(input)), request_(*in_.request), sink_(*in_.sink) {
  position_ = request_.offset;
}

HttpExchange::~HttpExchange() {
  // The custom headers and the Authorization values may carry secrets: wipe curl's copies
  // before they are freed.
  for (curl_slist* list : {proxy_headers_, request_headers_}) {
    for (curl_slist* node = list; node; node = node->next) {
      explicit_bzero(node->data, std::strlen(node->data));
    }
    curl_slist_free_all(list);
  }
  curl_slist_free_all(connect_to_);
}

size_t HttpExchange::OnHeader(char* data, size_t size, size_t count, void* self_ptr) {
  auto* self = static_cast<HttpExchange*>(self_ptr);
  const std::string_view line(data, size * count);
  if (auto added = self->headers_.AddLine(line, self->request_.url); !added) {
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

Status HttpExchange::AcceptResponse() {
  curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &headers_.status);
  const std::string url = log::RedactUrl(request_.url);
  const long status = headers_.status;
  if (status == 401 || (status == 407 && in_.route)) {
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
    if (delay > 0) sink_.OnRetryAfter(std::chrono::seconds(std::min<std::int64_t>(delay, 86400)));
  }
  if (status == 416 && !request_.ranges.empty()) {
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
  if (!request_.ranges.empty()) {
    OPENBITS_RETURN_IF_ERROR(AcceptRangesResponse(std::move(response)));
    accepted_ = true;
    return Ok();
  }
  std::uint64_t start = 0;
  if (request_.whole_body) {
    // Dynamic content or a custom verb: whatever the body is, from byte 0.
    if (status == 206) {
      return Error(hr::BG_E_INVALID_SERVER_RESPONSE, ErrorContext::kRemoteFile,
                   "the server sent a partial body without being asked for one: " + url);
    }
    response.bytes_total = headers_.content_length.value_or(kSizeUnknown);
    expected_end_ = response.bytes_total;
  } else if (status == 206) {
    auto range = headers_.content_range ? ParseContentRange(*headers_.content_range) : std::nullopt;
    if (!range || range->first != request_.offset) {
      return Error(hr::BG_E_INVALID_SERVER_RESPONSE, ErrorContext::kRemoteFile,
                   "the server answered a range request for byte " +
                       std::to_string(request_.offset) + " with Content-Range '" +
                       headers_.content_range.value_or("") + "' for " + url);
    }
    if (range->total == kSizeUnknown) {
      return Error(hr::BG_E_MISSING_FILE_SIZE, ErrorContext::kRemoteFile,
                   "the server did not say the size of " + url);
    }
    if (request_.offset > 0) {
      if (auto changed = ResumeMismatch(request_.validators, request_.known_total,
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
    if (request_.offset > 0) {
      if (response.validators == request_.validators) {
        return Error(hr::BG_E_INSUFFICIENT_RANGE_SUPPORT, ErrorContext::kRemoteFile,
                     "the server ignored the Range header (status 200 instead of 206) for " + url);
      }
      response.restart_from_zero = true;
    }
    response.bytes_total = *headers_.content_length;
    expected_end_ = response.bytes_total;
  }
  position_ = start;
  response.restart_from_zero = response.restart_from_zero || in_.restarting;
  reported_ = true;
  OPENBITS_RETURN_IF_ERROR(sink_.OnResponse(response));
  accepted_ = true;
  return Ok();
}

size_t HttpExchange::OnBody(char* data, size_t size, size_t count, void* self_ptr) {
  auto* self = static_cast<HttpExchange*>(self_ptr);
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
  if (!self->WithinBudget(length)) return CURL_WRITEFUNC_PAUSE;  // the same bytes come again
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
  if (auto written = self->sink_.OnData(data, length); !written) {
    self->failure_ = written.error();
    return CURL_WRITEFUNC_ERROR;
  }
  self->position_ += length;
  return length;
}

bool HttpExchange::WithinBudget(std::size_t length) {
  if (!in_.budget) return true;
  for (;;) {
    const auto now = RateBudget::Clock::now();
    const auto wait = in_.budget->Take(length, now);
    if (wait == RateBudget::Clock::duration::zero()) return true;
    if (in_.paused) {
      in_.paused(now + wait);
      return false;
    }
    // The blocking path: wait here, in slices, so that a stop is still prompt.
    if (sink_.StopRequested()) return true;  // the progress callback ends the transfer
    std::this_thread::sleep_for(std::min<RateBudget::Clock::duration>(wait, kBudgetSlice));
  }
}

int HttpExchange::OnProgress(void* self_ptr, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* self = static_cast<HttpExchange*>(self_ptr);
  return self->sink_.StopRequested() ? 1 : 0;
}

void HttpExchange::SetClientCredential() {
  const std::optional<core::ClientCredential>& credential = in_.credential;
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

void HttpExchange::ReportRedirect(std::uint32_t policy) {
  if (policy == kRedirectPolicyAllowReport) {
    long redirects = 0;
    curl_easy_getinfo(curl_, CURLINFO_REDIRECT_COUNT, &redirects);
    const char* effective = nullptr;
    curl_easy_getinfo(curl_, CURLINFO_EFFECTIVE_URL, &effective);
    if (redirects > 0 && effective) sink_.OnRemoteNameChanged(effective);
  } else if (policy == kRedirectPolicyDisallow) {
    const char* target = nullptr;
    curl_easy_getinfo(curl_, CURLINFO_REDIRECT_URL, &target);
    if (target) sink_.OnRemoteNameChanged(target);
  }
}

Status HttpExchange::AcceptRangesResponse(core::DownloadResponse response) {
  const std::string url = log::RedactUrl(request_.url);
  if (!request_.validators.empty() && response.validators != request_.validators) {
    return Error(hr::BG_E_REMOTE_FILE_CHANGED, ErrorContext::kRemoteFile,
                 "the remote file changed between range requests: " + url);
  }
  if (headers_.status != 206) {
    return Error(hr::BG_E_INSUFFICIENT_RANGE_SUPPORT, ErrorContext::kRemoteFile,
                 "the server answered a range request with status " +
                     std::to_string(headers_.status) + " for " + url);
  }
  pending_response_ = std::move(response);
  cursor_.emplace(request_.ranges);
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

Status HttpExchange::ReportRanges(std::uint64_t total) {
  if (response_reported_) return Ok();
  response_reported_ = true;
  cursor_->SetRemoteSize(total);
  pending_response_.bytes_total = total;
  reported_ = true;
  return sink_.OnResponse(pending_response_);
}

Status HttpExchange::OnRangesBody(const char* data, std::size_t length) {
  if (!multipart_) {
    OPENBITS_RETURN_IF_ERROR(cursor_->Consume(length));
    return sink_.OnData(data, length);
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
        return sink_.OnData(part, part_length);
      });
}

curl_socket_t HttpExchange::OpenTunnel(void* self_ptr, curlsocktype, curl_sockaddr*) {
  auto* self = static_cast<HttpExchange*>(self_ptr);
  self->tunnel_ = self->tunnels_->Open(self->tunnel_authority_);
  return self->tunnel_.fd >= 0 ? self->tunnel_.fd : CURL_SOCKET_BAD;
}

void HttpExchange::Configure(CURL* curl, TunnelOpener* tunnels) {
  curl_ = curl;
  tunnels_ = tunnels;
  const UrlParts& parts = in_.parts;
  curl_easy_setopt(curl_, CURLOPT_URL, in_.url.c_str());
  *in_.tls = TlsRequest{trust_, request_.security_flags, false};
  ConfigureTls(curl_, in_.tls);
  SetClientCredential();
  in_.tls->presented_certificate = in_.credential.has_value();
  // https through an http proxy: the tunnel is ours (connect_tunnel.h), and libcurl talks
  // TLS to the server over it as if it were a direct connection. CONNECT_TO (whose address
  // the callback ignores) keeps connections made this way apart: they are reused only for
  // tunnelled requests to the same host and port.
  const bool own_tunnel = NeedsOwnTunnel(in_.route, parts) && tunnels_;
  tunnel_authority_ =
      own_tunnel
          ? (parts.host.find(':') != std::string::npos ? "[" + parts.host + "]" : parts.host) +
                ":" + std::to_string(parts.port)
          : "";
  connect_to_ =
      own_tunnel
          ? curl_slist_append(
                nullptr, (tunnel_authority_ + ":127.0.0.1:" + std::to_string(parts.port)).c_str())
          : nullptr;
  curl_easy_setopt(curl_, CURLOPT_CONNECT_TO, connect_to_);
  curl_easy_setopt(curl_, CURLOPT_OPENSOCKETFUNCTION,
                   own_tunnel ? &HttpExchange::OpenTunnel : nullptr);
  curl_easy_setopt(curl_, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(curl_, CURLOPT_SOCKOPTFUNCTION,
                   own_tunnel ? &HttpExchange::AlreadyConnected : nullptr);
  // Always set: an empty string is "no proxy", whatever the environment of bitsd says.
  const std::string proxy_url = in_.route && !own_tunnel ? in_.route->Url() : "";
  curl_easy_setopt(curl_, CURLOPT_PROXY, proxy_url.c_str());
  if (in_.proxy_authorization) {
    std::string line = "Proxy-Authorization: ";
    line.append(in_.proxy_authorization->reveal());
    proxy_headers_ = curl_slist_append(nullptr, line.c_str());
    explicit_bzero(line.data(), line.size());
  }
  // Proxy-Authorization goes to the proxy only (the CONNECT of a tunnel, or the request).
  curl_easy_setopt(curl_, CURLOPT_HEADEROPT, CURLHEADER_SEPARATE);
  curl_easy_setopt(curl_, CURLOPT_PROXYHEADER, proxy_headers_);
  // Redirect policy (SetSecurityFlags): DISALLOW stops at the 3xx; https never falls back to
  // http unless ALLOW_HTTPS_TO_HTTP.
  const std::uint32_t policy = request_.security_flags & kRedirectPolicyMask;
  const bool from_https =
      request_.url.size() > 5 && (request_.url[4] == 's' || request_.url[4] == 'S');
  curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, policy == kRedirectPolicyDisallow ? 0L : 1L);
  curl_easy_setopt(curl_, CURLOPT_REDIR_PROTOCOLS_STR,
                   from_https && !(request_.security_flags & kRedirectAllowHttpsToHttp)
                       ? "https"
                       : "http,https");
  const std::string range =
      "Range: " + (request_.ranges.empty() ? "bytes=" + std::to_string(request_.offset) + "-"
                                           : RangeHeaderValue(request_.ranges));
  request_headers_ = request_.whole_body ? nullptr : curl_slist_append(nullptr, range.c_str());
  for (std::string& line : core::CustomHeaderLines(request_.custom_headers)) {
    request_headers_ = curl_slist_append(request_headers_, line.c_str());
    explicit_bzero(line.data(), line.size());
  }
  if (in_.authorization) {
    // curl sends a custom Authorization header only to the host of CURLOPT_URL, never to
    // another host after a redirect (CVE-2018-1000007, CVE-2022-27776).
    std::string line = "Authorization: ";
    line.append(in_.authorization->reveal());
    request_headers_ = curl_slist_append(request_headers_, line.c_str());
    explicit_bzero(line.data(), line.size());
  }
  if (request_.offset > 0 && !request_.whole_body && request_.ranges.empty()) {
    const std::string& validator = !request_.validators.etag.empty()
                                       ? request_.validators.etag
                                       : request_.validators.last_modified;
    if (!validator.empty()) {
      request_headers_ = curl_slist_append(request_headers_, ("If-Range: " + validator).c_str());
    }
  }
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, request_headers_);
  curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST,
                   request_.http_method.empty() ? nullptr : request_.http_method.c_str());
  curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &HttpExchange::OnHeader);
  curl_easy_setopt(curl_, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &HttpExchange::OnBody);
  curl_easy_setopt(curl_, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(curl_, CURLOPT_XFERINFOFUNCTION, &HttpExchange::OnProgress);
  curl_easy_setopt(curl_, CURLOPT_XFERINFODATA, this);
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, error_buffer_);
}

Status HttpExchange::Finish(CURLcode code) {
  // The challenge was read whole; only its error page was cut short (and the connection
  // with it, so the next leg opens another one).
  if (challenge_body_cut_ && code == CURLE_WRITE_ERROR) code = CURLE_OK;
  last_code_ = code;
  Status status = Outcome(code);
  // The handle may carry the next request (or go back to a pool): nothing of this one stays.
  curl_easy_setopt(curl_, CURLOPT_CONNECT_TO, nullptr);
  curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl_, CURLOPT_PROXYHEADER, nullptr);
  curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, nullptr);
  curl_easy_setopt(curl_, CURLOPT_ERRORBUFFER, nullptr);
  return status;
}

Status HttpExchange::Outcome(CURLcode code) {
  const std::string url = log::RedactUrl(request_.url);
  if (tunnel_.error) {
    // The proxy could not be reached (the next one is tried), or refused the tunnel.
    last_code_ = tunnel_.proxy_unreachable ? CURLE_COULDNT_CONNECT : CURLE_OK;
    return *tunnel_.error;
  }
  if (sink_.StopRequested()) {
    return Error(core::kAborted, ErrorContext::kNone, "the transfer was stopped");
  }
  if (passport_redirect_) {
    challenged_ = 401;
    return Ok();
  }
  const proxy::Route& route = in_.route;
  long connect_code = 0;
  curl_easy_getinfo(curl_, CURLINFO_HTTP_CONNECTCODE, &connect_code);
  if (route && code != CURLE_OK && connect_code == 407) {
    challenged_ = 407;  // the proxy wants authentication for the tunnel
    return Ok();
  }
  if (route && code != CURLE_OK && connect_code >= 300) {
    return Error(HttpStatusToHresult(static_cast<int>(connect_code)),
                 ErrorContext::kGeneralTransport,
                 "the proxy " + route->Url() + " refused the tunnel for " + url +
                     " with HTTP status " + std::to_string(connect_code));
  }
  ReportRedirect(request_.security_flags & kRedirectPolicyMask);
  if (failure_) return *failure_;
  long redirects = 0;
  curl_easy_getinfo(curl_, CURLINFO_REDIRECT_COUNT, &redirects);
  if (code == CURLE_UNSUPPORTED_PROTOCOL && redirects > 0) {
    return Error(hr::WINHTTP_REDIRECT_FAILED, ErrorContext::kRemoteFile,
                 "a redirect from https to http was refused (set "
                 "BG_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP to allow it) for " +
                     url);
  }
  if (code == CURLE_OUT_OF_MEMORY && !accepted_) {
    // libcurl refuses a header line over CURL_MAX_HTTP_HEADER this way, before we see it.
    return Error(hr::BG_E_INVALID_SERVER_RESPONSE, ErrorContext::kRemoteFile,
                 "a response header line is longer than " +
                     std::to_string(kMaxHeaderLineBytes / 1024) +
                     " KiB (the cap on one header line) for " + url);
  }
  if (code != CURLE_OK) {
    if (auto tls = TlsError(curl_, code, error_buffer_, *in_.tls, url)) return *tls;
    return CurlError(curl_, code, error_buffer_, url);
  }
  if (!accepted_) {
    // No body at all: an error status, or an empty file.
    OPENBITS_RETURN_IF_ERROR(AcceptResponse());
  }
  if (challenged_) return Ok();  // the caller answers the challenge
  if (cursor_) {
    if (multipart_ && !multipart_->finished()) {
      return Error(hr::BG_E_CONNECTION_CLOSED, ErrorContext::kRemoteFile,
                   "the multipart response ended early for " + url);
    }
    return Ok();  // the caller asks again for ranges the server left out
  }
  if (expected_end_ != kSizeUnknown && position_ != expected_end_) {
    return Error(hr::BG_E_CONNECTION_CLOSED, ErrorContext::kRemoteFile,
                 "the connection closed after " + std::to_string(position_) + " of " +
                     std::to_string(expected_end_) + " bytes of " + url);
  }
  return Ok();
}

}  // namespace openbits::transfer
