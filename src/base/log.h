// Logging: one named spdlog logger per module, and the redaction helpers that keep secrets
// (passwords, Authorization headers, URL userinfo, tokens) out of every log line. Every
// record's message is written through text::Printable: control characters in names, URLs,
// headers or server texts show as \x1b, \r, \n, so one record is always one line.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace openbits::log {

// Sets up the default sink (stderr) and level for the whole process. level: trace, debug,
// info, warn, error, off. Returns false for an unknown level name.
bool Init(std::string_view level);
// The logger of one module ("core", "transfer", ...), created on first use.
std::shared_ptr<spdlog::logger> Get(const std::string& module);

// A URL safe to log: userinfo replaced by "***", query string kept.
std::string RedactUrl(std::string_view url);
// A proxy entry safe to log ("[scheme=][scheme://][user:password@]host[:port]"): any userinfo
// replaced by "***", with or without a scheme.
std::string RedactProxyEntry(std::string_view entry);

}  // namespace openbits::log
