// The bitsadmin verbs of the network: credentials, proxy settings and /util.
#include "cli/network_commands.h"

#include <pwd.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "cli/command_support.h"
#include "cli/job_report.h"

namespace openbits::cli {
namespace {

// SERVER / PROXY and BASIC ... PASSPORT, by name or by BITS's number (an unknown number goes
// to bitsd, which answers BG_E_INVALID_AUTH_TARGET / _SCHEME).
template <typename Enum>
std::optional<Enum> ParseAuthWord(const std::string& text,
                                  std::optional<Enum> (*parse)(std::string_view)) {
  if (auto named = parse(text)) return named;
  if (auto number = ParseFlags(text)) return static_cast<Enum>(*number);
  return std::nullopt;
}

// The password argument: "-" reads one line from standard input, "*" prompts on the
// terminal without echo; anything else is the password itself.
std::optional<SecretString> ReadPassword(const std::string& argument) {
  if (argument != "-" && argument != "*") return SecretString(argument);
  std::string line;
  if (argument == "-") {
    if (!std::getline(std::cin, line) && line.empty()) return std::nullopt;
  } else {
    std::cerr << "Password: " << std::flush;
    termios saved{};
    const bool tty = tcgetattr(STDIN_FILENO, &saved) == 0;
    if (tty) {
      termios silent = saved;
      silent.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent);
    }
    const bool read = static_cast<bool>(std::getline(std::cin, line));
    if (tty) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::cerr << "\n";
    if (!read) return std::nullopt;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  SecretString password(line);
  explicit_bzero(line.data(), line.size());
  return password;
}

int SetCredentials(Context& ctx, const Args& args) {
  const char* usage =
      "/setcredentials JOB SERVER|PROXY BASIC|DIGEST|NTLM|NEGOTIATE|PASSPORT USER PASSWORD\n"
      "  (PASSWORD - reads standard input, * prompts; USER and PASSWORD NULL NULL: your own "
      "logon credentials)";
  if (args.size() != 5) return Usage(usage);
  const auto target = ParseAuthWord<AuthTarget>(args[1], &ParseAuthTarget);
  const auto scheme = ParseAuthWord<AuthScheme>(args[2], &ParseAuthScheme);
  if (!target || !scheme) return Usage(usage);
  auto job = ResolveJob(ctx.client, args[0]);
  if (!job) return Fail("find job '" + args[0] + "'", job.error());
  if (args[3] == "NULL" && args[4] == "NULL") {
    return Done(ctx, job->SetImplicitCredentials(*target, *scheme), "set credentials",
                "Implicit credentials set.");
  }
  const auto password = ReadPassword(args[4]);
  if (!password) return Fail("set credentials", Error::InvalidArg("no password was given"));
  return Done(ctx, job->SetCredentials(*target, *scheme, SecretString(args[3]), *password),
              "set credentials", "Credentials set.");
}

int SetProxySettings(Context& ctx, const Args& args) {
  // bitsadmin /setproxysettings JOB PRECONFIG|NO_PROXY|AUTODETECT
  //           /setproxysettings JOB OVERRIDE LIST BYPASS   (BYPASS NULL or "" for none)
  const char* usage_text =
      "/setproxysettings JOB PRECONFIG|NO_PROXY|AUTODETECT | OVERRIDE PROXYLIST BYPASSLIST\n"
      "  (BYPASSLIST NULL or \"\" for none)";
  if (args.size() != 2 && args.size() != 4) return Usage(usage_text);
  const auto usage = ParseAuthWord<ProxyUsage>(args[1], &ParseProxyUsage);
  if (!usage) return Usage(usage_text);
  auto job = ResolveJob(ctx.client, args[0]);
  if (!job) return Fail("find job '" + args[0] + "'", job.error());
  auto list_word = [&](std::size_t i) {
    return args.size() > i && args[i] != "NULL" ? args[i] : std::string();
  };
  return Done(ctx, job->SetProxySettings(*usage, list_word(2), list_word(3)), "set proxy settings",
              "Proxy usage set to " + std::string(ProxyUsageName(*usage)) + ".");
}

int GetProxy(Context& ctx, const Args& args, const std::string& verb, int part) {
  return WithJob(ctx, args, 0, verb + " JOB", [&](Job& job) {
    auto settings = job.GetProxySettings();
    if (!settings) return Fail("get proxy settings", settings.error());
    const std::string value = part == 0   ? std::string(ProxyUsageName(settings->usage))
                              : part == 1 ? settings->list
                                          : settings->bypass;
    std::cout << (value.empty() && !ctx.raw ? "(none)" : text::Printable(value)) << "\n";
    return 0;
  });
}

int RemoveCredentials(Context& ctx, const Args& args) {
  const char* usage = "/removecredentials JOB SERVER|PROXY BASIC|DIGEST|NTLM|NEGOTIATE|PASSPORT";
  if (args.size() != 3) return Usage(usage);
  const auto target = ParseAuthWord<AuthTarget>(args[1], &ParseAuthTarget);
  const auto scheme = ParseAuthWord<AuthScheme>(args[2], &ParseAuthScheme);
  if (!target || !scheme) return Usage(usage);
  auto job = ResolveJob(ctx.client, args[0]);
  if (!job) return Fail("find job '" + args[0] + "'", job.error());
  auto removed = job->RemoveCredentials(*target, *scheme);
  if (!removed) return Fail("remove credentials", removed.error());
  if (ctx.raw) {
    std::cout << FormatHresult(*removed) << "\n";
  } else {
    std::cout << (*removed == hr::S_OK ? "Credentials removed." : "No credentials were set.")
              << "\n";
  }
  return 0;
}

// An account by user name, "uid:N", a number, or LocalSystem (root).
std::optional<std::uint32_t> ParseAccount(const std::string& text) {
  std::string lower = text;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "localsystem") return 0;
  std::string digits = lower.starts_with("uid:") ? lower.substr(4) : lower;
  if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos) {
    return static_cast<std::uint32_t>(std::stoul(digits));
  }
  if (const passwd* entry = getpwnam(text.c_str())) return entry->pw_uid;
  return std::nullopt;
}

constexpr const char* kSetIeProxyUsage =
    "/util /setieproxy ACCOUNT NO_PROXY | AUTODETECT | MANUAL_PROXY LIST BYPASS | "
    "AUTOSCRIPT URL | RESET   (BYPASS NULL for none)";

int SetIeProxy(Context& ctx, const Args& args) {
  if (args.size() < 3) return Usage(kSetIeProxyUsage);
  const auto uid = ParseAccount(args[1]);
  if (!uid) return Fail("set proxy settings", Error::InvalidArg("no account '" + args[1] + "'"));
  std::string mode = args[2];
  for (char& c : mode) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  AccountProxySettings settings;
  if (mode == "RESET" && args.size() == 3) {
    return Done(ctx, ctx.client.ResetAccountProxy(*uid), "reset proxy settings",
                "Proxy settings of " + args[1] + " reset.");
  } else if (mode == "NO_PROXY" && args.size() == 3) {
    settings.mode = 0;
  } else if (mode == "AUTODETECT" && args.size() == 3) {
    settings.mode = 1;
  } else if (mode == "MANUAL_PROXY" && args.size() == 5) {
    settings.mode = 2;
    settings.list = args[3];
    settings.bypass = args[4] == "NULL" ? "" : args[4];
  } else if (mode == "AUTOSCRIPT" && args.size() == 4) {
    settings.mode = 3;
    settings.autoscript_url = args[3];
  } else {
    return Usage(kSetIeProxyUsage);
  }
  return Done(ctx, ctx.client.SetAccountProxy(*uid, settings), "set proxy settings",
              "Proxy settings of " + args[1] + " set to " + mode + ".");
}

int GetIeProxy(Context& ctx, const Args& args) {
  if (args.size() != 2) return Usage("/util /getieproxy ACCOUNT");
  const auto uid = ParseAccount(args[1]);
  if (!uid) return Fail("get proxy settings", Error::InvalidArg("no account '" + args[1] + "'"));
  auto settings = ctx.client.GetAccountProxy(*uid);
  if (!settings) return Fail("get proxy settings", settings.error());
  static constexpr const char* kModes[] = {"NO_PROXY", "AUTODETECT", "MANUAL_PROXY", "AUTOSCRIPT"};
  if (!*settings) {
    std::cout << (ctx.raw ? "NONE"
                          : "No proxy settings of its own (PRECONFIG uses the job "
                            "creator's environment, then bitsd.conf).")
              << "\n";
    return 0;
  }
  const AccountProxySettings& s = **settings;
  std::cout << (s.mode < 4 ? kModes[s.mode] : "UNKNOWN");
  if (s.mode == 2) {
    std::cout << " " << text::Printable(s.list) << " "
              << (s.bypass.empty() ? "NULL" : text::Printable(s.bypass));
  }
  if (s.mode == 3) std::cout << " " << text::Printable(s.autoscript_url);
  std::cout << "\n";
  return 0;
}

int ListCertificates(Context& ctx, const Args& args) {
  if (args.size() > 3) return Usage("/util /listcertificates [CURRENT_USER|LOCAL_MACHINE] [STORE]");
  const auto location = ParseStoreLocation(args.size() > 1 ? args[1] : "CURRENT_USER");
  if (!location) return Usage("/util /listcertificates [CURRENT_USER|LOCAL_MACHINE] [STORE]");
  const std::string store = args.size() > 2 ? args[2] : "MY";
  auto certificates = ctx.client.ListCertificates(*location, store);
  if (!certificates) return Fail("list certificates", certificates.error());
  for (const StoreCertificate& certificate : *certificates) {
    std::cout << certificate.sha1 << "  " << text::Printable(certificate.subject) << "  expires "
              << FormatTime(certificate.not_after * 1'000'000) << "\n";
  }
  if (!ctx.raw) std::cout << "Listed " << certificates->size() << " certificate(s).\n";
  return 0;
}

// Helper tokens (IBitsTokenOptions). The token is a capability: it is printed once for its
// minter to hand over, and read from standard input when given as "-" so that it need not
// appear on a command line (which every user can read in /proc).
// An administrator may mint one for another user: /user ACCOUNT [CCACHE] (that user's
// Kerberos cache; default: the user's default cache, not the administrator's KRB5CCNAME).
int CreateHelperToken(Context& ctx, const Args& args) {
  const char* usage = "/util /createhelpertoken [/user ACCOUNT [CCACHE]]";
  std::optional<std::uint32_t> lender;
  std::string cache;
  std::string option = args.size() > 1 ? args[1] : "";
  for (char& c : option) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (args.size() >= 3 && args.size() <= 4 && option == "/user") {
    lender = ParseAccount(args[2]);
    if (!lender) {
      return Fail("create a helper token", Error::InvalidArg("no account '" + args[2] + "'"));
    }
    if (args.size() == 4) cache = args[3];
  } else if (args.size() != 1) {
    return Usage(usage);
  }
  auto token =
      lender ? ctx.client.CreateHelperTokenFor(*lender, cache) : ctx.client.CreateHelperToken();
  if (!token) return Fail("create a helper token", token.error());
  std::cout << token->reveal() << "\n";
  return 0;
}

int SetHelperToken(Context& ctx, const Args& args) {
  const char* usage =
      "/sethelpertoken JOB TOKEN   (TOKEN - reads it from standard input, * prompts)";
  if (args.size() != 2) return Usage(usage);
  auto token = ReadPassword(args[1]);
  if (!token) return Usage(usage);
  auto job = ResolveJob(ctx.client, args[0]);
  if (!job) return Fail("find job '" + args[0] + "'", job.error());
  return Done(ctx, job->SetHelperToken(*token), "set the helper token", "Helper token set.");
}

int ClearHelperToken(Context& ctx, const Args& args) {
  if (args.size() != 1) return Usage("/clearhelpertoken JOB");
  auto job = ResolveJob(ctx.client, args[0]);
  if (!job) return Fail("find job '" + args[0] + "'", job.error());
  return Done(ctx, job->ClearHelperToken(), "clear the helper token", "Helper token cleared.");
}

// "LOCAL_FILE", "NETWORK", "LOCAL_FILE|NETWORK" (BG_TOKEN_ prefixes allowed), "NONE" or a number.
std::optional<std::uint32_t> ParseTokenFlags(const std::string& text) {
  if (auto number = ParseFlags(text)) return number;
  std::uint32_t flags = 0;
  std::string upper = text;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::size_t start = 0;
  while (start <= upper.size()) {
    const std::size_t end = std::min(upper.find_first_of("|,", start), upper.size());
    std::string word = upper.substr(start, end - start);
    if (word.starts_with("BG_TOKEN_")) word = word.substr(9);
    if (word == "LOCAL_FILE") {
      flags |= 0x1;
    } else if (word == "NETWORK") {
      flags |= 0x2;
    } else if (word != "NONE") {
      return std::nullopt;
    }
    start = end + 1;
  }
  return flags;
}

std::string TokenFlagsText(std::uint32_t flags) {
  if (flags == 0) return "NONE";
  std::string text;
  if (flags & 0x1) text = "BG_TOKEN_LOCAL_FILE";
  if (flags & 0x2) text += std::string(text.empty() ? "" : "|") + "BG_TOKEN_NETWORK";
  if (flags & ~0x3u) text += (text.empty() ? "" : "|") + FormatHresult(flags & ~0x3u);
  return text;
}

int SetHelperTokenFlags(Context& ctx, const Args& args) {
  const char* usage = "/sethelpertokenflags JOB LOCAL_FILE|NETWORK|LOCAL_FILE,NETWORK|NONE|N";
  if (args.size() != 2) return Usage(usage);
  const auto flags = ParseTokenFlags(args[1]);
  if (!flags) return Usage(usage);
  auto job = ResolveJob(ctx.client, args[0]);
  if (!job) return Fail("find job '" + args[0] + "'", job.error());
  return Done(ctx, job->SetHelperTokenFlags(*flags), "set the helper token flags",
              "Helper token flags set to " + TokenFlagsText(*flags) + ".");
}

int GetHelperTokenFlags(Context& ctx, const Args& args) {
  if (args.size() != 1) return Usage("/gethelpertokenflags JOB");
  auto job = ResolveJob(ctx.client, args[0]);
  if (!job) return Fail("find job '" + args[0] + "'", job.error());
  auto flags = job->GetHelperTokenFlags();
  if (!flags) return Fail("get the helper token flags", flags.error());
  std::cout << (ctx.raw ? FormatHresult(*flags) : TokenFlagsText(*flags)) << "\n";
  return 0;
}

int GetHelperTokenSid(Context& ctx, const Args& args) {
  if (args.size() != 1) return Usage("/gethelpertokensid JOB");
  auto job = ResolveJob(ctx.client, args[0]);
  if (!job) return Fail("find job '" + args[0] + "'", job.error());
  auto sid = job->GetHelperTokenSid();
  if (!sid) return Fail("get the helper token identity", sid.error());
  std::cout << (sid->empty() && !ctx.raw ? "(none)" : text::Printable(*sid)) << "\n";
  return 0;
}

int Util(Context& ctx, const Args& args) {
  std::string verb = args.empty() ? "" : args[0];
  for (char& c : verb) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (verb == "/listcertificates") return ListCertificates(ctx, args);
  if (verb == "/setieproxy") return SetIeProxy(ctx, args);
  if (verb == "/getieproxy") return GetIeProxy(ctx, args);
  if (verb == "/createhelpertoken") return CreateHelperToken(ctx, args);
  return Usage(
      "/util /listcertificates [LOCATION] [STORE] | /util /setieproxy ... | "
      "/util /getieproxy ACCOUNT | /util /createhelpertoken [/user ACCOUNT [CCACHE]]");
}

}  // namespace

void AddNetworkCommands(std::map<std::string, Command>& commands) {
  commands["/setcredentials"] = SetCredentials;
  commands["/removecredentials"] = RemoveCredentials;
  commands["/setproxysettings"] = SetProxySettings;
  commands["/getproxyusage"] = [](Context& ctx, const Args& args) {
    return GetProxy(ctx, args, "/getproxyusage", 0);
  };
  commands["/getproxylist"] = [](Context& ctx, const Args& args) {
    return GetProxy(ctx, args, "/getproxylist", 1);
  };
  commands["/getproxybypasslist"] = [](Context& ctx, const Args& args) {
    return GetProxy(ctx, args, "/getproxybypasslist", 2);
  };
  commands["/util"] = Util;
  commands["/sethelpertoken"] = SetHelperToken;
  commands["/clearhelpertoken"] = ClearHelperToken;
  commands["/sethelpertokenflags"] = SetHelperTokenFlags;
  commands["/gethelpertokenflags"] = GetHelperTokenFlags;
  commands["/gethelpertokensid"] = GetHelperTokenSid;
}

}  // namespace openbits::cli
