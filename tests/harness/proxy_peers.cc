#include "harness/proxy_peers.h"

#include <algorithm>
#include <filesystem>
#include <initializer_list>
#include <sstream>
#include <stdexcept>

namespace openbits::harness {
namespace {

namespace fs = std::filesystem;

}  // namespace

bool Squid::Installed() { return fs::exists("/usr/sbin/squid"); }

Squid::Squid(const TempDir& dir, const std::string& name, const std::string& schemes,
             const Kdc* kdc)
    : home_(dir / ("squid-" + name)) {
  fs::create_directories(home_ + "/rcache");
  fs::create_directories(home_ + "/samba/wb");
  port_ = UnusedPort();
  std::string auth;
  std::stringstream list(schemes);
  for (std::string scheme; std::getline(list, scheme, ',');) {
    if (scheme == "basic") {
      MustRun({"/usr/bin/htpasswd", "-bc", home_ + "/htpasswd", "alice", "alicepw"});
      MustRun({"/usr/bin/htpasswd", "-b", home_ + "/htpasswd", "bob", "bobpw"});
      auth += "auth_param basic program /usr/lib/squid/basic_ncsa_auth " + home_ +
              "/htpasswd\nauth_param basic children 2 startup=1\n"
              "auth_param basic realm bits-proxy\nauth_param basic credentialsttl 1 minute\n";
    } else if (scheme == "digest") {
      // digest_file_auth with plain-text "user:password" lines.
      WriteFile(home_ + "/digest_passwd", "alice:alicepw\nbob:bobpw\n");
      auth += "auth_param digest program /usr/lib/squid/digest_file_auth " + home_ +
              "/digest_passwd\nauth_param digest children 2 startup=1\n"
              "auth_param digest realm bits-proxy-digest\nauth_param digest nonce_strictness off\n";
    } else if (scheme == "negotiate") {
      if (!kdc) throw std::invalid_argument("squid with negotiate needs a Kdc");
      auth += "auth_param negotiate program /usr/lib/squid/negotiate_kerberos_auth -k " +
              kdc->keytab() + " -s GSS_C_NO_NAME -c " + home_ +
              "/rcache\nauth_param negotiate children 2 startup=1\n"
              "auth_param negotiate keep_alive on\n";
    } else if (scheme == "ntlm") {
      // A private smb.conf, so that ntlm_auth never reads the machine's Samba setup.
      const std::string samba = home_ + "/samba";
      WriteFile(samba + "/smb.conf",
                "[global]\n  workgroup = TESTDOM\n  netbios name = BITSPROXY\n"
                "  server role = standalone server\n  private dir = " +
                    samba + "\n  lock directory = " + samba + "\n  state directory = " + samba +
                    "\n  cache directory = " + samba + "\n  ncalrpc dir = " + samba +
                    "\n  pid directory = " + samba + "\n  winbindd socket directory = " + samba +
                    "/wb\n  log file = " + samba + "/log.%m\n  ntlm auth = ntlmv1-permitted\n");
      auth += "auth_param ntlm program /usr/bin/ntlm_auth --configfile=" + samba +
              "/smb.conf --helper-protocol=squid-2.5-ntlmssp --password=alicepw\n"
              "auth_param ntlm children 2 startup=1\nauth_param ntlm keep_alive on\n";
    } else if (scheme != "none") {
      throw std::invalid_argument("unknown squid scheme " + scheme);
    }
  }
  const std::string access =
      schemes == "none" ? "http_access allow to_localhost\n"
                        : "acl authed proxy_auth REQUIRED\nhttp_access deny !to_localhost\n"
                          "http_access allow authed\n";
  WriteFile(
      home_ + "/squid.conf",
      "http_port 127.0.0.1:" + std::to_string(port_) +
          "\nvisible_hostname openbits-test-proxy\npid_filename " + home_ +
          "/squid.pid\ncache_log " + home_ + "/cache.log\naccess_log stdio:" + home_ +
          "/access.log squid\ncache_store_log none\nnetdb_filename none\ncoredump_dir " + home_ +
          "\ncache deny all\ncache_mem 8 MB\nshutdown_lifetime 0 seconds\nstrip_query_terms off\n"
          "dns_v4_first on\nhosts_file /etc/hosts\n" +
          auth + access + "http_access deny all\n");
  // squid run as root drops to the user proxy, which must write its logs here.
  for (const auto& entry : fs::recursive_directory_iterator(home_)) {
    fs::permissions(entry.path(), fs::perms::all, fs::perm_options::add);
  }
  fs::permissions(home_, fs::perms::all, fs::perm_options::add);
  setenv("KRB5RCACHEDIR", (home_ + "/rcache").c_str(), 1);
  process_ =
      Process::Start({"/usr/sbin/squid", "-N", "-f", home_ + "/squid.conf"}, home_ + "/squid.out");
  if (!WaitUntil([&] { return IsListening(port_); }, 20s)) {
    throw std::runtime_error("squid did not start: " + ReadFile(home_ + "/squid.out") +
                             ReadFile(home_ + "/cache.log"));
  }
}

std::vector<std::string> Squid::AccessLog() const {
  std::vector<std::string> lines;
  std::istringstream log(ReadFile(home_ + "/access.log"));
  for (std::string line; std::getline(log, line);) lines.push_back(line);
  return lines;
}

namespace {

// The user field of the first line of `log` that holds `needle` and none of `skipped`.
std::string UserOfFirst(const std::vector<std::string>& log, const std::string& needle,
                        std::initializer_list<const char*> skipped) {
  for (const std::string& line : log) {
    if (line.find(needle) == std::string::npos ||
        std::any_of(skipped.begin(), skipped.end(),
                    [&](const char* s) { return line.find(s) != std::string::npos; })) {
      continue;
    }
    std::istringstream fields(line);
    std::vector<std::string> words;
    for (std::string word; fields >> word;) words.push_back(word);
    if (words.size() > 7) return words[7];
  }
  return "";
}

}  // namespace

std::string Squid::UserOf(const std::string& needle) const {
  return UserOfFirst(AccessLog(), needle, {"/407 "});
}

std::string Squid::UserOfAnswered(const std::string& needle) const {
  return UserOfFirst(AccessLog(), needle, {"/407 ", "/000 "});
}

}  // namespace openbits::harness
