#include "daemon/config.h"

#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "identity/users.h"

namespace openbits::daemon {
namespace {

std::string Trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

template <typename T>
bool ParseUnsigned(const std::string& text, T& out) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() ||
      value > std::numeric_limits<T>::max()) {
    return false;
  }
  out = static_cast<T>(value);
  return true;
}

// More threads than that only wait on the same disk.
constexpr std::uint32_t kMaxCompletionThreads = 64;

using Setter = std::function<bool(Config&, const std::string&)>;

template <typename T>
Setter Number(T Config::*field) {
  return [field](Config& c, const std::string& v) { return ParseUnsigned(v, c.*field); };
}
template <typename T>
Setter ManagerNumber(T core::ManagerOptions::*field) {
  return [field](Config& c, const std::string& v) { return ParseUnsigned(v, c.manager.*field); };
}
// A positive duration in `Unit`s, stored in a ManagerOptions duration of any unit.
template <typename Unit, typename Duration>
Setter ManagerDuration(Duration core::ManagerOptions::*field) {
  return [field](Config& c, const std::string& v) {
    std::uint64_t count = 0;
    if (!ParseUnsigned(v, count) || count == 0) return false;
    c.manager.*field = std::chrono::duration_cast<Duration>(Unit(count));
    return true;
  };
}

// A number from 0 to `max` in the [auth] policy.
Setter AuthLevel(std::uint32_t auth::AuthPolicy::*field, std::uint32_t max) {
  return [field, max](Config& c, const std::string& v) {
    std::uint32_t value = 0;
    if (!ParseUnsigned(v, value) || value > max) return false;
    c.curl.auth.*field = value;
    return true;
  };
}

Setter CurlSeconds(long transfer::CurlTransportOptions::*field) {
  return [field](Config& c, const std::string& v) {
    unsigned value = 0;
    if (!ParseUnsigned(v, value) || value == 0) return false;
    c.curl.*field = static_cast<long>(value);
    return true;
  };
}

// The words of a list separated by commas and/or blanks.
std::vector<std::string> ListWords(const std::string& value) {
  std::vector<std::string> words;
  std::string part;
  std::istringstream parts(value);
  while (std::getline(parts, part, ',')) {
    std::istringstream blanks(part);
    for (std::string word; blanks >> word;) words.push_back(word);
  }
  return words;
}

// Keys whose values are looked up while parsing: their errors say which part is wrong.
using Resolver = std::function<Status(Config&, const std::string&)>;

const std::map<std::string, Resolver>& ResolvedKeys() {
  static const std::map<std::string, Resolver> keys = {
      // [identity] system_accounts: user names or numeric uids, always system accounts
      // (core::ManagerOptions::IsSystemAccount). Names are resolved once, at start: a name
      // the user database does not know is an error rather than a rule that never applies.
      {"identity.system_accounts",
       [](Config& c, const std::string& v) -> Status {
         std::set<std::uint32_t> uids;
         for (const std::string& word : ListWords(v)) {
           std::uint32_t uid = 0;
           if (ParseUnsigned(word, uid)) {
             uids.insert(uid);
           } else if (const auto named = identity::UidOfName(word)) {
             uids.insert(*named);
           } else {
             return Error::InvalidArg("system_accounts: no user is named '" + word + "'");
           }
         }
         c.manager.system_accounts = std::move(uids);
         return Ok();
       }},
  };
  return keys;
}

const std::map<std::string, Setter>& Keys() {
  static const std::map<std::string, Setter> keys = {
      {"limits.max_jobs_per_user", ManagerNumber(&core::ManagerOptions::max_jobs_per_user)},
      {"limits.max_jobs_per_machine", ManagerNumber(&core::ManagerOptions::max_jobs_per_machine)},
      {"limits.max_files_per_job", ManagerNumber(&core::ManagerOptions::max_files_per_job)},
      {"limits.max_ranges_per_file", ManagerNumber(&core::ManagerOptions::max_ranges_per_file)},
      {"limits.job_inactivity_timeout_s",
       ManagerDuration<std::chrono::seconds>(&core::ManagerOptions::job_inactivity_timeout)},
      {"transfer.max_background_jobs", ManagerNumber(&core::ManagerOptions::max_background_jobs)},
      {"transfer.checkpoint_interval_ms",
       ManagerDuration<std::chrono::milliseconds>(&core::ManagerOptions::checkpoint_interval)},
      {"transfer.time_slice_ms",
       ManagerDuration<std::chrono::milliseconds>(&core::ManagerOptions::time_slice)},
      {"transfer.watch_network",
       [](Config& c, const std::string& v) {
         if (v != "true" && v != "false") return false;
         c.watch_network = v == "true";
         return true;
       }},
      {"transfer.connect_timeout_s",
       CurlSeconds(&transfer::CurlTransportOptions::connect_timeout_s)},
      {"transfer.low_speed_time_s", CurlSeconds(&transfer::CurlTransportOptions::low_speed_time_s)},
      {"engine.parallel_files",
       [](Config& c, const std::string& v) {
         // 1 to 64: more files of one job at once than that only queue in the engine.
         std::uint32_t value = 0;
         if (!ParseUnsigned(v, value) || value == 0 || value > kMaxParallelFiles) return false;
         c.manager.parallel_files = value;
         return true;
       }},
      {"engine.threads", Number(&Config::engine_threads)},
      {"engine.completion_threads",
       [](Config& c, const std::string& v) {
         std::uint32_t value = 0;
         if (!ParseUnsigned(v, value) || value == 0 || value > kMaxCompletionThreads) {
           return false;
         }
         c.manager.completion_threads = value;
         return true;
       }},
      {"auth.use_lm_compat", AuthLevel(&auth::AuthPolicy::use_lm_compat, 2)},
      {"auth.lm_compatibility_level", AuthLevel(&auth::AuthPolicy::lm_compatibility_level, 5)},
      {"auth.ntlm_user_file",
       [](Config& c, const std::string& v) {
         c.curl.auth.ntlm_user_file = v;
         return v.starts_with("/") || v.starts_with("%{home}/");
       }},
      {"auth.stored_credentials_file",
       [](Config& c, const std::string& v) {
         c.curl.auth.stored_credentials_file = v;
         return v.starts_with("/") || v.starts_with("%{home}/");
       }},
      {"auth.passport_nexus_url",
       [](Config& c, const std::string& v) {
         c.curl.auth.passport_nexus_url = v;
         return v.starts_with("https://") || v.starts_with("http://");
       }},
      {"auth.allow_url_credentials",
       [](Config& c, const std::string& v) {
         if (v != "true" && v != "false") return false;
         c.manager.allow_url_credentials = v == "true";
         return true;
       }},
      {"auth.allow_basic_over_http",
       [](Config& c, const std::string& v) {
         if (v != "true" && v != "false") return false;
         c.curl.auth.allow_basic_over_http = v == "true";
         return true;
       }},
      {"proxy.usage",
       [](Config& c, const std::string& v) {
         const auto usage = ParseProxyUsage(v);
         if (!usage) return false;
         c.curl.proxy.machine.usage = *usage;
         return true;
       }},
      {"proxy.list",
       [](Config& c, const std::string& v) {
         c.curl.proxy.machine.list = v;
         return true;
       }},
      {"proxy.wpad_url",
       [](Config& c, const std::string& v) {
         c.curl.proxy.wpad_url = v;
         return v.starts_with("http://") || v.starts_with("https://");
       }},
      {"proxy.pac_cache_s",
       [](Config& c, const std::string& v) {
         unsigned seconds = 0;
         if (!ParseUnsigned(v, seconds)) return false;
         c.curl.proxy.pac_cache_ttl = std::chrono::seconds(seconds);
         return true;
       }},
      {"proxy.pac_timeout_ms",
       [](Config& c, const std::string& v) {
         unsigned ms = 0;
         if (!ParseUnsigned(v, ms) || ms == 0) return false;
         c.curl.proxy.pac.timeout = std::chrono::milliseconds(ms);
         return true;
       }},
      {"proxy.pac_memory_mb",
       [](Config& c, const std::string& v) {
         return ParseUnsigned(v, c.curl.proxy.pac.memory_limit_mb) &&
                c.curl.proxy.pac.memory_limit_mb >= 16;
       }},
      {"proxy.pac_helper",
       [](Config& c, const std::string& v) {
         c.curl.proxy.pac.helper_path = v;
         return v.starts_with("/");
       }},
      {"proxy.bypass",
       [](Config& c, const std::string& v) {
         c.curl.proxy.machine.bypass = v;
         return true;
       }},
      {"tls.extra_ca_file",
       [](Config& c, const std::string& v) {
         c.curl.extra_ca_file = v;
         return !v.empty();
       }},
      {"tls.crl_file",
       [](Config& c, const std::string& v) {
         c.curl.crl_file = v;
         return !v.empty();
       }},
      {"tls.user_store_root",
       [](Config& c, const std::string& v) {
         c.certificates.user_root = v;
         return !v.empty();
       }},
      {"tls.machine_store_root",
       [](Config& c, const std::string& v) {
         c.certificates.machine_root = v;
         return !v.empty();
       }},
      {"tls.local_machine_cert_uids",
       [](Config& c, const std::string& v) {
         // Numeric uids separated by blanks or commas; empty: administrators only.
         std::vector<std::uint32_t> uids;
         for (const std::string& word : ListWords(v)) {
           std::uint32_t uid = 0;
           if (!ParseUnsigned(word, uid)) return false;
           uids.push_back(uid);
         }
         c.manager.access.local_machine_cert_uids = std::move(uids);
         return true;
       }},
      {"identity.system_accounts_below",
       ManagerNumber(&core::ManagerOptions::system_accounts_below)},
      {"identity.helper_token_lifetime_s",
       ManagerDuration<std::chrono::seconds>(&core::ManagerOptions::helper_token_lifetime)},
      {"notify.command_timeout_s",
       ManagerDuration<std::chrono::seconds>(&core::ManagerOptions::notify_command_timeout)},
      {"identity.admin_group",
       [](Config& c, const std::string& v) {
         c.admin_group = v;
         return true;
       }},
      {"logon.gating",
       [](Config& c, const std::string& v) {
         if (v != "true" && v != "false") return false;
         c.logon_gating = v == "true";
         return true;
       }},
      {"logon.login1_bus",
       [](Config& c, const std::string& v) {
         c.login1_bus = v;
         return v == "system" || v.find(':') != std::string::npos;  // a D-Bus address
       }},
      {"log.level",
       [](Config& c, const std::string& v) {
         c.log_level = v;
         return true;
       }},
  };
  return keys;
}

}  // namespace

Result<Config> ParseConfig(const std::string& text, const std::string& source) {
  Config config;
  std::istringstream lines(text);
  std::string line, section;
  int number = 0;
  auto bad = [&](const std::string& why) {
    return Error::InvalidArg(source + ":" + std::to_string(number) + ": " + why);
  };
  while (std::getline(lines, line)) {
    ++number;
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    line = Trim(line);
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']') return bad("a section header must end with ']'");
      section = Trim(line.substr(1, line.size() - 2));
      continue;
    }
    const auto equals = line.find('=');
    if (equals == std::string::npos) return bad("expected 'key = value'");
    const std::string key = Trim(line.substr(0, equals));
    const std::string value = Trim(line.substr(equals + 1));
    if (const auto resolved = ResolvedKeys().find(section + "." + key);
        resolved != ResolvedKeys().end()) {
      if (auto done = resolved->second(config, value); !done) return bad(done.error().message());
      continue;
    }
    const auto it = Keys().find(section + "." + key);
    if (it == Keys().end()) {
      return bad("unknown key '" + key + "' in section [" + section + "]");
    }
    if (!it->second(config, value)) {
      return bad("invalid value '" + value + "' for " + key);
    }
  }
  const core::ProxySettings& proxy = config.curl.proxy.machine;
  if (auto valid = core::ValidateProxySettings(static_cast<std::uint32_t>(proxy.usage), proxy.list,
                                               proxy.bypass);
      !valid) {
    return Error::InvalidArg(source + ": [proxy]: " + valid.error().message());
  }
  return config;
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return Error(hr::ERROR_FILE_NOT_FOUND, ErrorContext::kNone,
                 "cannot read configuration file " + path);
  }
  std::stringstream content;
  content << file.rdbuf();
  return ParseConfig(content.str(), path);
}

}  // namespace openbits::daemon
