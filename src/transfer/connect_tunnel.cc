#include "transfer/connect_tunnel.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <charconv>

#include "auth/challenge.h"
#include "base/text.h"
#include "transfer/curl_errors.h"
#include "transfer/response_limits.h"

namespace openbits::transfer {
namespace {

using text::Lower;

constexpr int kMaxLegs = 8;

int Millis(std::chrono::seconds timeout) { return static_cast<int>(timeout.count() * 1000); }

// A TCP connection to host:port within `timeout`, or -1.
int Connect(const std::string& host, int port, std::chrono::seconds timeout, std::string& why) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
      rc != 0) {
    why = std::string("cannot resolve ") + host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* address = found; address && fd < 0; address = address->ai_next) {
    fd = socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                address->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, address->ai_addr, address->ai_addrlen) != 0 && errno != EINPROGRESS) {
      why = strerror(errno);
      close(fd);
      fd = -1;
      continue;
    }
    pollfd wait{fd, POLLOUT, 0};
    int error = 0;
    socklen_t length = sizeof error;
    if (poll(&wait, 1, Millis(timeout)) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
      why = error ? strerror(error) : "connection timed out";
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

bool SendAll(int fd, std::string_view data, std::chrono::seconds timeout) {
  while (!data.empty()) {
    pollfd wait{fd, POLLOUT, 0};
    if (poll(&wait, 1, Millis(timeout)) != 1) return false;
    const ssize_t sent = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

enum class Received { kOk, kClosed, kTooLarge };

// Reads into `buffer` until it holds the end of a header block, at most
// kMaxResponseHeaderBytes of it.
Received ReceiveHeaders(int fd, std::string& buffer, std::chrono::seconds timeout) {
  char chunk[4096];
  while (buffer.find("\r\n\r\n") == std::string::npos) {
    if (buffer.size() > kMaxResponseHeaderBytes) return Received::kTooLarge;
    pollfd wait{fd, POLLIN, 0};
    if (poll(&wait, 1, Millis(timeout)) != 1) return Received::kClosed;
    const ssize_t got = recv(fd, chunk, sizeof chunk, 0);
    if (got <= 0) return Received::kClosed;
    buffer.append(chunk, static_cast<std::size_t>(got));
  }
  return Received::kOk;
}

// Reads and drops `length` bytes (`already` of them were read with the headers); false on a
// closed connection or a timeout.
bool Discard(int fd, std::size_t length, std::size_t already, std::chrono::seconds timeout) {
  char chunk[4096];
  for (std::size_t left = length > already ? length - already : 0; left > 0;) {
    pollfd wait{fd, POLLIN, 0};
    if (poll(&wait, 1, Millis(timeout)) != 1) return false;
    const ssize_t got = recv(fd, chunk, std::min(sizeof chunk, left), 0);
    if (got <= 0) return false;
    left -= static_cast<std::size_t>(got);
  }
  return true;
}

}  // namespace

std::optional<ProxyResponse> ParseProxyResponse(const std::string& block) {
  ProxyResponse response;
  response.headers = block;
  if (!block.starts_with("HTTP/1.") || block.size() < 12) return std::nullopt;
  std::from_chars(block.data() + 9, block.data() + 12, response.status);
  if (block[8] == '0') response.keep_alive = false;  // HTTP/1.0 closes unless it says so
  std::size_t start = block.find("\r\n") + 2;
  while (start < block.size()) {
    const std::size_t end = block.find("\r\n", start);
    if (end == std::string::npos || end == start) break;
    const std::string_view line(block.data() + start, end - start);
    start = end + 2;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string name = Lower(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (name == "content-length") {
      std::size_t length = 0;
      if (std::from_chars(value.data(), value.data() + value.size(), length).ec == std::errc()) {
        response.content_length = length;
      }
    } else if (name == "connection" || name == "proxy-connection") {
      const std::string lower = Lower(value);
      if (lower.find("close") != std::string::npos) response.keep_alive = false;
      if (lower.find("keep-alive") != std::string::npos) response.keep_alive = true;
    } else if (name == "transfer-encoding") {
      response.keep_alive = false;  // a chunked error page: simpler to reconnect
    }
  }
  if (!response.content_length) response.keep_alive = false;
  return response;
}

TunnelOutcome OpenConnectTunnel(const proxy::ProxyServer& proxy, const std::string& authority,
                                auth::Authenticator& authenticator, const std::string& user_agent,
                                std::chrono::seconds timeout) {
  TunnelOutcome outcome;
  const std::string name = proxy.Url();
  const auth::RequestInfo info{"CONNECT", authority, proxy.host, false, authority};
  auto fail = [&](HRESULT code, const std::string& why) {
    if (outcome.fd >= 0) close(outcome.fd);
    outcome.fd = -1;
    outcome.error =
        Error(code, ErrorContext::kGeneralTransport,
              "the tunnel through the proxy " + name + " to " + authority + " failed: " + why);
    return outcome;
  };
  std::optional<SecretString> authorization = authenticator.Preemptive(info);
  for (int leg = 1; leg <= kMaxLegs; ++leg) {
    if (outcome.fd < 0) {
      std::string why;
      outcome.fd = Connect(proxy.host, proxy.port, timeout, why);
      if (outcome.fd < 0) {
        outcome.proxy_unreachable = true;
        return fail(hr::WINHTTP_CANNOT_CONNECT, why);
      }
    }
    std::string request = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority +
                          "\r\nUser-Agent: " + user_agent + "\r\nProxy-Connection: Keep-Alive\r\n";
    if (authorization) {
      request.append("Proxy-Authorization: ").append(authorization->reveal()).append("\r\n");
    }
    request += "\r\n";
    const bool sent = SendAll(outcome.fd, request, timeout);
    explicit_bzero(request.data(), request.size());
    std::string buffer;
    const Received received =
        sent ? ReceiveHeaders(outcome.fd, buffer, timeout) : Received::kClosed;
    if (received == Received::kTooLarge) {
      return fail(hr::BG_E_INVALID_SERVER_RESPONSE,
                  "the proxy's response headers are larger than " +
                      std::to_string(kMaxResponseHeaderBytes / 1024) +
                      " KiB (the cap on a header block)");
    }
    if (received == Received::kClosed) {
      return fail(hr::BG_E_CONNECTION_CLOSED, "the proxy closed the connection or did not answer");
    }
    const std::size_t header_end = buffer.find("\r\n\r\n") + 4;
    auto response = ParseProxyResponse(buffer.substr(0, header_end));
    if (!response) return fail(hr::BG_E_INVALID_SERVER_RESPONSE, "the proxy's answer is not HTTP");
    if (response->status / 100 == 2) {
      if (authorization) authenticator.Accepted();
      return outcome;  // bytes past the headers would be the server's: none are expected
    }
    if (response->status != 407) {
      return fail(HttpStatusToHresult(response->status),
                  "the proxy answered HTTP status " + std::to_string(response->status));
    }
    auto answer = authenticator.Answer(
        auth::ChallengesFromHeaders(response->headers, "Proxy-Authenticate"), info);
    if (!answer) {
      return fail(HttpStatusToHresult(407),
                  "HTTP status 407 (proxy authentication required): " + answer.error().message());
    }
    authorization = std::move(*answer);
    // Drain the error page (read and dropped, up to a cap) so that the next leg can use this
    // connection; a larger one costs a new connection instead.
    const std::size_t body = response->content_length.value_or(0);
    if (!response->keep_alive || body > kMaxChallengeBodyBytes ||
        !Discard(outcome.fd, body, buffer.size() - header_end, timeout)) {
      close(outcome.fd);
      outcome.fd = -1;
    }
  }
  return fail(HttpStatusToHresult(407), "the authentication exchange did not end");
}

}  // namespace openbits::transfer
