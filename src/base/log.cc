#include "base/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
#include <mutex>

#include "base/text.h"

namespace openbits::log {
namespace {

std::mutex g_mutex;
spdlog::level::level_enum g_level = spdlog::level::info;

// %* in the pattern: the message with control characters escaped (text::Printable). Every
// record goes through here, so a display name, URL, header or server text that carries CR/LF
// or an ESC sequence can neither start a fake record nor drive the terminal reading the log.
class PrintableMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    // Fast path: plain ASCII needs no decoding.
    const bool plain = std::all_of(payload.begin(), payload.end(), [](char c) {
      const auto byte = static_cast<unsigned char>(c);
      return byte >= 0x20 && byte < 0x7F;
    });
    if (plain) {
      dest.append(payload.data(), payload.data() + payload.size());
      return;
    }
    const std::string printable = text::Printable(payload);
    dest.append(printable.data(), printable.data() + printable.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<PrintableMessage>();
  }
};

}  // namespace

bool Init(std::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  // from_str maps unknown names to "off"; only accept "off" when asked for.
  if (parsed == spdlog::level::off && level != "off") return false;
  std::lock_guard lock(g_mutex);
  g_level = parsed;
  spdlog::apply_all(
      [&](const std::shared_ptr<spdlog::logger>& logger) { logger->set_level(g_level); });
  return true;
}

std::shared_ptr<spdlog::logger> Get(const std::string& module) {
  std::lock_guard lock(g_mutex);
  if (auto existing = spdlog::get(module)) return existing;
  auto logger = spdlog::stderr_color_mt(module);
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<PrintableMessage>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %*");
  logger->set_formatter(std::move(formatter));
  logger->set_level(g_level);
  return logger;
}

std::string RedactUrl(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const auto authority_start = scheme_end + 3;
  const auto authority_end = url.find_first_of("/?#", authority_start);
  const auto authority = url.substr(authority_start, authority_end == std::string_view::npos
                                                         ? std::string_view::npos
                                                         : authority_end - authority_start);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  std::string redacted(url.substr(0, authority_start));
  redacted += "***@";
  redacted += url.substr(authority_start + at + 1);
  return redacted;
}

std::string RedactProxyEntry(std::string_view entry) {
  const auto at = entry.rfind('@');
  if (at == std::string_view::npos) return std::string(entry);
  std::size_t start = 0;
  if (const auto scheme_end = entry.find("://"); scheme_end != std::string_view::npos) {
    start = scheme_end + 3;
  } else if (const auto equals = entry.find('='); equals != std::string_view::npos && equals < at) {
    start = equals + 1;
  }
  if (at < start) return std::string(entry);
  return std::string(entry.substr(0, start)) + "***@" + std::string(entry.substr(at + 1));
}

}  // namespace openbits::log
