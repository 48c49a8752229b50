#include "transfer/network_services.h"

#include "base/log.h"
#include "transfer/side_requests.h"

namespace openbits::transfer {

namespace {
constexpr long kBufferSize = 512 * 1024;
}  // namespace

Result<std::unique_ptr<NetworkServices>> NetworkServices::Create(
    CurlTransportOptions options, core::CertificateStore* certificates,
    const core::AccountProxies* account_proxies) {
  std::unique_ptr<NetworkServices> services(
      new NetworkServices(std::move(options), certificates, account_proxies));
  const CurlTransportOptions& o = services->options_;
  auto trust = TlsTrust::Load(o.extra_ca_file, o.crl_file);
  if (!trust) return trust.error();
  services->trust_ = std::move(*trust);
  services->pac_fetcher_ =
      std::make_unique<CurlPacFetcher>(services->trust_.get(), o.user_agent, o.connect_timeout_s);
  services->proxies_ =
      std::make_unique<proxy::Resolver>(o.proxy, account_proxies, services->pac_fetcher_.get());
  services->side_channel_ =
      std::make_unique<CurlSideChannel>(services->trust_.get(), o.user_agent, o.connect_timeout_s);
  if (!o.extra_ca_file.empty()) {
    log::Get("transfer")
        ->info("Trusting {} extra CA certificate(s) from {}", services->trust_->extra_cas().size(),
               o.extra_ca_file);
  }
  return services;
}

NetworkServices::NetworkServices(CurlTransportOptions options, core::CertificateStore* certificates,
                                 const core::AccountProxies* account_proxies)
    : options_(std::move(options)), certificates_(certificates), account_proxies_(account_proxies) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

NetworkServices::~NetworkServices() { curl_global_cleanup(); }

void ConfigureEasyDefaults(CURL* curl, const CurlTransportOptions& options) {
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, options.connect_timeout_s);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, options.low_speed_time_s);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, kBufferSize);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options.user_agent.c_str());
  // Bytes on disk must be the server's bytes: no transparent decompression.
  curl_easy_setopt(curl, CURLOPT_HTTP_CONTENT_DECODING, 0L);
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
}

}  // namespace openbits::transfer
