#include "harness/auth_peers.h"

#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace openbits::harness {
namespace {

namespace fs = std::filesystem;

// Apache's children run as www-data when the tests run as root: they must read these.
void MakeWorldReadable(const std::string& path) {
  fs::permissions(path, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read,
                  fs::perm_options::add);
}

}  // namespace

bool Kdc::Installed() { return fs::exists("/usr/sbin/krb5kdc") && fs::exists("/usr/bin/kinit"); }

Kdc::Kdc(const TempDir& dir) : home_(dir / "krb5"), keytab_(dir / "krb5/http.keytab") {
  fs::create_directories(home_);
  fs::permissions(home_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
  const int port = UnusedPort();
  const std::string realm = "TEST.LOCAL";
  const std::string kdc = "127.0.0.1:" + std::to_string(port);
  WriteFile(home_ + "/krb5.conf",
            "[libdefaults]\n default_realm = " + realm +
                "\n dns_lookup_kdc = false\n dns_lookup_realm = false\n"
                " dns_canonicalize_hostname = false\n rdns = false\n"
                " default_ccache_name = FILE:" +
                home_ + "/ccache.default\n default_keytab_name = FILE:" + home_ +
                "/default.keytab\n[realms]\n " + realm + " = {\n  kdc = " + kdc +
                "\n }\n[domain_realm]\n localhost = " + realm + "\n .localhost = " + realm +
                "\n 127.0.0.1 = " + realm + "\n");
  WriteFile(home_ + "/kdc.conf",
            "[kdcdefaults]\n kdc_listen = " + kdc + "\n kdc_tcp_listen = " + kdc + "\n[realms]\n " +
                realm + " = {\n  database_name = " + home_ +
                "/principal\n  key_stash_file = " + home_ + "/stash\n  acl_file = " + home_ +
                "/kadm5.acl\n  kadmind_listen = 127.0.0.1:" + std::to_string(UnusedPort()) +
                "\n  kpasswd_listen = 127.0.0.1:" + std::to_string(UnusedPort()) +
                "\n  master_key_type = aes256-cts-hmac-sha1-96\n"
                "  supported_enctypes = aes256-cts-hmac-sha1-96:normal "
                "aes128-cts-hmac-sha1-96:normal\n }\n[logging]\n kdc = FILE:" +
                home_ + "/kdc.log\n");
  WriteFile(home_ + "/kadm5.acl", "*/admin@" + realm + " *\n");
  MakeWorldReadable(home_ + "/krb5.conf");
  setenv("KRB5_CONFIG", (home_ + "/krb5.conf").c_str(), 1);
  setenv("KRB5_KDC_PROFILE", (home_ + "/kdc.conf").c_str(), 1);
  setenv("KRB5CCNAME", ("FILE:" + home_ + "/ccache.default").c_str(), 1);
  MustRun({"/usr/sbin/kdb5_util", "create", "-s", "-r", realm, "-P", "master-test-pw", "-W"});
  for (const std::string& query :
       {std::string("addprinc -pw alicepw alice"), std::string("addprinc -pw bobpw bob"),
        std::string("addprinc -randkey HTTP/localhost"),
        std::string("addprinc -randkey HTTP/127.0.0.1"),
        "ktadd -k " + keytab_ + " HTTP/localhost HTTP/127.0.0.1",
        "ktadd -k " + home_ + "/users.keytab -norandkey alice bob"}) {
    MustRun({"/usr/sbin/kadmin.local", "-r", realm, "-q", query});
  }
  MakeWorldReadable(keytab_);
  process_ = Process::Start({"/usr/sbin/krb5kdc", "-n"}, home_ + "/krb5kdc.out");
  if (!WaitUntil([&] { return IsListening(port); }, 15s)) {
    throw std::runtime_error("krb5kdc did not start: " + ReadFile(home_ + "/krb5kdc.out"));
  }
}

std::string Kdc::Kinit(const std::string& user, const std::string& cache_name,
                       std::optional<RunAs> owner) const {
  const std::string path = home_ + "/" + cache_name;
  MustRun({"/usr/bin/kinit", "-k", "-t", home_ + "/users.keytab", "-c", "FILE:" + path, user});
  if (owner && chown(path.c_str(), owner->uid, owner->gid) != 0) {
    throw std::runtime_error("chown " + path + " failed");
  }
  return "FILE:" + path;
}

bool AuthApache::Installed() {
  return fs::exists("/usr/sbin/apache2") &&
         fs::exists("/usr/lib/apache2/modules/mod_auth_gssapi.so") &&
         fs::exists("/usr/bin/htpasswd");
}

AuthApache::AuthApache(const TempDir& dir, const std::string& root, const Kdc& kdc)
    : home_(dir / "auth-apache") {
  fs::create_directories(home_ + "/run");
  fs::create_directories(home_ + "/rcache");
  fs::permissions(home_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
  fs::permissions(home_ + "/rcache", fs::perms::all | fs::perms::sticky_bit);
  port_ = UnusedPort();
  MustRun({"/usr/bin/htpasswd", "-bc", home_ + "/htpasswd", "alice", "alicepw"});
  MustRun({"/usr/bin/htpasswd", "-b", home_ + "/htpasswd", "bob", "bobpw"});
  // htdigest lines: user:realm:MD5(user:realm:password).
  const CommandResult alice_hash = Run({"/usr/bin/python3", "-c",
                                        "import hashlib;print(hashlib.md5(b'alice:bits-digest:"
                                        "alicepw').hexdigest())"});
  WriteFile(home_ + "/htdigest", "alice:bits-digest:" + alice_hash.out);
  WriteFile(home_ + "/ntlm_users", "TESTDOM:alice:alicepw\nTESTDOM:bob:bobpw\n");
  for (const char* file : {"/htpasswd", "/htdigest", "/ntlm_users"}) {
    MakeWorldReadable(home_ + file);
  }
  const std::string modules = "/usr/lib/apache2/modules";
  std::string config = "ServerRoot \"" + home_ + "\"\nServerName localhost\nPidFile \"" + home_ +
                       "/run/httpd.pid\"\nDefaultRuntimeDir \"" + home_ +
                       "/run\"\nMutex file:" + home_ + "/run default\n" +
                       (geteuid() == 0 ? "User www-data\nGroup www-data\n" : "") +
                       "Listen 127.0.0.1:" + std::to_string(port_) + "\n";
  for (const char* module :
       {"mpm_event", "authz_core", "authz_user", "authn_core", "authn_file", "auth_basic",
        "auth_digest", "auth_gssapi", "mime", "alias", "headers", "env"}) {
    config +=
        std::string("LoadModule ") + module + "_module " + modules + "/mod_" + module + ".so\n";
  }
  auto gssapi = [&](const std::string& name, const std::string& mechs, bool basic) {
    std::string location =
        "<Location /" + name + "/>\n  AuthType GSSAPI\n  AuthName \"bits-" + name + "\"\n";
    for (const char* mech : {"krb5", "ntlmssp"}) {
      if (mechs.find(mech) != std::string::npos) {
        location += std::string("  GssapiAllowedMech ") + mech + "\n";
      }
    }
    // No GssapiCredStore: with one, gss-ntlmssp finds no acceptor credentials and the child
    // crashes on an NTLM token; the keytab comes from KRB5_KTNAME (shared/testenv).
    location +=
        "  GssapiConnectionBound On\n  GssapiSSLonly Off\n  GssapiPublishMech On\n"
        "  GssapiBasicAuth " +
        std::string(basic ? "On\n  GssapiBasicAuthMech krb5\n" : "Off\n") +
        "  Require valid-user\n</Location>\n";
    return location;
  };
  config +=
      "StartServers 1\nServerLimit 1\nThreadsPerChild 16\nMaxRequestWorkers 16\n"
      "KeepAlive On\nTypesConfig /etc/mime.types\nErrorLog \"" +
      home_ + "/error.log\"\nLogLevel info auth_gssapi:debug\n" +
      "LogFormat \"%>s %u %{X-Auth-Type}o %{X-Gss-Mech}o %U\" bits\nCustomLog \"" + home_ +
      "/access.log\" bits\nDocumentRoot \"" + root +
      "\"\n<Directory />\n  Require all granted\n</Directory>\n"
      "Header always set X-Remote-User \"expr=%{REMOTE_USER}\"\n"
      "Header always set X-Auth-Type \"expr=%{AUTH_TYPE}\"\n"
      "Header always set X-Gss-Mech \"expr=%{reqenv:GSS_MECH}\"\n"
      "AliasMatch \"^/(public|basic|digest|negotiate|ntlm|spnego|multi)/(.*)$\" \"" +
      root + "/$2\"\n" +
      "<Location /basic/>\n  AuthType Basic\n  AuthName \"bits-basic\"\n"
      "  AuthBasicProvider file\n  AuthUserFile \"" +
      home_ + "/htpasswd\"\n  Require valid-user\n</Location>\n" +
      "<Location /digest/>\n  AuthType Digest\n  AuthName \"bits-digest\"\n"
      "  AuthDigestDomain /digest/\n  AuthDigestProvider file\n  AuthUserFile \"" +
      home_ + "/htdigest\"\n  Require valid-user\n</Location>\n" +
      gssapi("negotiate", "krb5", false) + gssapi("ntlm", "ntlmssp", false) +
      gssapi("spnego", "krb5 ntlmssp", false) + gssapi("multi", "krb5 ntlmssp", true);
  WriteFile(home_ + "/httpd.conf", config);
  // The environment of httpd is this process's; gss-ntlmssp and mod_auth_gssapi read theirs.
  setenv("KRB5_KTNAME", ("FILE:" + kdc.keytab()).c_str(), 1);
  setenv("KRB5RCACHEDIR", (home_ + "/rcache").c_str(), 1);
  setenv("NTLM_USER_FILE", (home_ + "/ntlm_users").c_str(), 1);
  setenv("NETBIOS_DOMAIN_NAME", "TESTDOM", 1);
  setenv("NETBIOS_COMPUTER_NAME", "BITSTEST", 1);
  process_ = Process::Start({"/usr/sbin/apache2", "-f", home_ + "/httpd.conf", "-DFOREGROUND"},
                            home_ + "/apache.out");
  unsetenv("KRB5_KTNAME");
  unsetenv("NTLM_USER_FILE");
  if (!WaitUntil([&] { return IsListening(port_); }, 15s)) {
    throw std::runtime_error("apache did not start: " + ReadFile(home_ + "/apache.out") +
                             ErrorLog());
  }
}

std::string AuthApache::Url(const std::string& path) const {
  return "http://localhost:" + std::to_string(port_) + path;
}

std::vector<std::string> AuthApache::AccessLog() const {
  std::vector<std::string> lines;
  std::istringstream log(ReadFile(home_ + "/access.log"));
  for (std::string line; std::getline(log, line);) lines.push_back(line);
  return lines;
}

}  // namespace openbits::harness
