// HttpExchange: one HTTP request of a download on a libcurl easy handle, in two halves so that
// the blocking path (CurlSession, curl_easy_perform) and the event-driven one (CurlMultiEngine,
// curl multi) share every protocol check: Configure sets the handle up for the request, the
// caller runs the transfer its way, Finish turns the CURLcode and what the callbacks saw into
// the download's Status (DESIGN.md 6: ranges, If-Range, redirects, Retry-After, caps).
//
// What needs blocking work (the CONNECT tunnel, the client certificate, answering a 401/407)
// stays with the caller: Configure takes the certificate already resolved, a TunnelOpener
// for our own tunnels, and Finish reports a challenge instead of answering it.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/ports.h"
#include "proxy/proxy_list.h"
#include "transfer/byte_ranges.h"
#include "transfer/connect_tunnel.h"
#include "transfer/rate_budget.h"
#include "transfer/response_headers.h"
#include "transfer/tls_policy.h"
#include "transfer/url_parts.h"

namespace openbits::transfer {

// Opens the CONNECT tunnel of an https request through an http proxy (connect_tunnel.h).
// Blocking: only the blocking path has one.
class TunnelOpener {
 public:
  virtual ~TunnelOpener() = default;
  virtual TunnelOutcome Open(const std::string& authority) = 0;
};

// One request's inputs. The pointers must outlive the exchange.
struct ExchangeInput {
  const core::DownloadRequest* request = nullptr;
  core::DownloadSink* sink = nullptr;
  std::string url;  // the request's URL, or where a same-origin redirect led
  UrlParts parts;   // of `url`
  std::optional<SecretString> authorization;
  std::optional<SecretString> proxy_authorization;
  proxy::Route route;  // the proxy, or direct
  std::optional<core::ClientCredential> credential;
  // What the TLS handshakes of the handle's connections read. Owned by the caller and alive
  // as long as any connection the handle made may be reused: a reused connection's SSL_CTX
  // still points at it.
  TlsRequest* tls = nullptr;
  // The request is the whole file again after a resumed 206 of another version.
  bool restarting = false;
  // The download's rate budget (null: none). Over budget, the blocking path waits in the
  // write callback; the multi engine pauses the transfer (CURL_WRITEFUNC_PAUSE) and hears
  // from `paused` when to resume it.
  RateBudget* budget = nullptr;
  std::function<void(RateBudget::Clock::time_point resume_at)> paused;
};

class HttpExchange {
 public:
  HttpExchange(const TlsTrust* trust, ExchangeInput input);
  ~HttpExchange();
  HttpExchange(const HttpExchange&) = delete;
  HttpExchange& operator=(const HttpExchange&) = delete;

  // REQUIRES: `curl` carries the session defaults (ConfigureEasyDefaults). `tunnels` may be
  // null when the route needs no tunnel of ours (see NeedsOwnTunnel).
  void Configure(CURL* curl, TunnelOpener* tunnels);
  // Once the transfer ended with `code`: clears what Configure set on the handle and says
  // how the request went. Ok with challenged() != 0 means a 401/407 to answer.
  Status Finish(CURLcode code);

  // 401 or 407 when the response was an authentication challenge (its headers in headers()).
  long challenged() const { return challenged_; }
  const ResponseHeaders& headers() const { return headers_; }
  // The transfer's own CURLcode (CURLE_COULDNT_CONNECT: a proxy that cannot be reached).
  CURLcode last_code() const { return last_code_; }
  // Set when a resumed 206 was of another version of the file: ask again for the whole file.
  const std::optional<std::string>& resume_mismatch() const { return resume_mismatch_; }
  // Whether the request went through a proxy.
  bool via_proxy() const { return in_.route.has_value(); }
  // Whether the sink has seen OnResponse (or body bytes): a retry elsewhere is then unsafe.
  bool reported() const { return reported_; }

 private:
  static size_t OnHeader(char* data, size_t size, size_t count, void* self);
  static size_t OnBody(char* data, size_t size, size_t count, void* self);
  static int OnProgress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
  static curl_socket_t OpenTunnel(void* self, curlsocktype purpose, curl_sockaddr* address);
  static int AlreadyConnected(void*, curl_socket_t, curlsocktype) {
    return CURL_SOCKOPT_ALREADY_CONNECTED;
  }
  // Decides, once the headers are in, whether the body is the one we asked for.
  Status AcceptResponse();
  // Tells the sink where a redirect led when the policy reports (or refuses) redirects.
  void ReportRedirect(std::uint32_t policy);
  void SetClientCredential();
  // Range mode: checks the 206 and sets up the multipart parser or the single part.
  Status AcceptRangesResponse(core::DownloadResponse response);
  // Range mode: reports the remote size once, when the first part says it.
  Status ReportRanges(std::uint64_t total);
  Status OnRangesBody(const char* data, std::size_t length);
  Status Outcome(CURLcode code);
  // Whether body bytes may go to the sink now; false: the transfer was paused.
  bool WithinBudget(std::size_t length);

  const TlsTrust* trust_;
  ExchangeInput in_;
  const core::DownloadRequest& request_;
  core::DownloadSink& sink_;
  CURL* curl_ = nullptr;
  TunnelOpener* tunnels_ = nullptr;
  std::string tunnel_authority_;
  TunnelOutcome tunnel_;
  curl_slist* connect_to_ = nullptr;
  curl_slist* proxy_headers_ = nullptr;
  curl_slist* request_headers_ = nullptr;
  char error_buffer_[CURL_ERROR_SIZE] = {};

  ResponseHeaders headers_;
  bool accepted_ = false;
  bool reported_ = false;
  std::uint64_t expected_end_ = kSizeUnknown;  // offset after the last byte of the body
  std::uint64_t position_ = 0;                 // offset of the next byte
  std::optional<Error> failure_;               // why a callback stopped the transfer
  std::optional<std::string> resume_mismatch_;
  long challenged_ = 0;
  bool passport_redirect_ = false;       // a 3xx with a Passport challenge (taken as a 401)
  std::uint64_t challenge_drained_ = 0;  // bytes of a 401/407 body read so far
  bool challenge_body_cut_ = false;      // ... more than kMaxChallengeBodyBytes: hung up
  CURLcode last_code_ = CURLE_OK;
  // Range mode (AddFileWithRanges):
  std::optional<RangeCursor> cursor_;
  core::DownloadResponse pending_response_;
  std::optional<MultipartParser> multipart_;
  bool response_reported_ = false;
};

// Whether an https request through this route needs our own CONNECT tunnel (an http proxy).
bool NeedsOwnTunnel(const proxy::Route& route, const UrlParts& parts);

}  // namespace openbits::transfer
