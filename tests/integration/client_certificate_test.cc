// Mutual TLS with certificates from BITS-style stores: ByID and ByName, PEM and PKCS#12,
// CURRENT_USER (read as the job's owner) and LOCAL_MACHINE, and the ways it must fail.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/proxy_peers.h"
#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

namespace fs = std::filesystem;

class ClientCertificateTest : public DaemonTest {
 protected:
  void SetUp() override {
    ca_ = harness::MakeTestPki(dir_, "mutual");
    rogue_ = harness::MakeTestPki(dir_, "rogue");
    good_ = harness::IssueClientCertificate(dir_, ca_, "alice-client");
    stranger_ = harness::IssueClientCertificate(dir_, rogue_, "stranger");
    DaemonTest::SetUp();
    harness::TestPki required = ca_;
    required.client_ca = ca_.ca_cert;
    required.client_verify = "required";
    server_tls_ = std::make_unique<harness::RangeServer>(dir_, www(), required);
    harness::WriteFile(www() + "/secret.txt", "for certificate holders only");
  }
  std::string Config() override {
    return DaemonTest::Config() + "[tls]\nextra_ca_file = " + ca_.ca_cert +
           "\nuser_store_root = " + dir_.path() +
           "/home-%u/certs\nmachine_store_root = " + dir_.path() + "/machine-certs\n";
  }
  // Puts `files` into a store directory, the key kept private.
  static void Install(const std::string& store, const std::string& certificate,
                      const std::string& key = "") {
    fs::create_directories(store);
    fs::copy_file(certificate, store + "/" + fs::path(certificate).filename().string(),
                  fs::copy_options::overwrite_existing);
    if (!key.empty()) {
      const std::string target = store + "/" + fs::path(key).filename().string();
      fs::copy_file(key, target, fs::copy_options::overwrite_existing);
      fs::permissions(target, fs::perms::owner_read | fs::perms::owner_write);
    }
  }
  std::string UserStore(const std::string& user) {
    return dir_.path() + "/home-" + user + "/certs/MY";
  }
  // Runs a job for the protected file with `choose` picking its certificate.
  JobState Fetch(const std::string& name, const std::function<Status(Job&)>& choose,
                 HRESULT* code = nullptr) {
    auto job = client_->CreateJob(name);
    if (!job || !job->AddFile(server_tls_->Url("/secret.txt"), out() + "/" + name) ||
        !choose(*job) || !job->Resume()) {
      ADD_FAILURE() << "could not start " << name;
      return JobState::kCancelled;
    }
    const JobState state =
        WaitForState(*job, {JobState::kTransferred, JobState::kError, JobState::kTransientError});
    if (code && state != JobState::kTransferred) *code = job->GetError()->code;
    if (state == JobState::kTransferred) (void)job->Complete();
    return state;
  }

  harness::TestPki ca_, rogue_;
  harness::ClientCertificateFiles good_, stranger_;
  std::unique_ptr<harness::RangeServer> server_tls_;
};

TEST_F(ClientCertificateTest, ACertificateWorksThroughAnAuthenticatingProxyTunnel) {
  // squid demands NTLM for the CONNECT; the server behind it demands the certificate.
  harness::Squid squid(dir_, "ntlm", "ntlm");
  const std::string user = fs::path(getpwuid(geteuid())->pw_name).string();
  Install(UserStore(user), good_.certificate, good_.key);
  EXPECT_EQ(Fetch("through-proxy",
                  [&](Job& job) -> Status {
                    OPENBITS_RETURN_IF_ERROR(
                        job.SetProxySettings(ProxyUsage::kOverride, squid.Address()));
                    OPENBITS_RETURN_IF_ERROR(job.SetCredentials(
                        AuthTarget::kProxy, AuthScheme::kNtlm, SecretString("TESTDOM\\alice"),
                        SecretString("alicepw")));
                    return job.SetClientCertificateByID(kCertStoreCurrentUser, "MY", good_.sha1);
                  }),
            JobState::kTransferred);
  EXPECT_EQ(harness::ReadFile(out() + "/through-proxy"), "for certificate holders only");
  EXPECT_TRUE(harness::WaitUntil([&] {
    for (const std::string& line : squid.AccessLog()) {
      if (line.find("TCP_TUNNEL/200") != std::string::npos &&
          line.find("TESTDOM\\\\alice") != std::string::npos) {
        return true;
      }
    }
    return false;
  }));
}

TEST_F(ClientCertificateTest, ByIdAndByNameFromTheOwnersStoreAndTheMachineStore) {
  const std::string user = fs::path(getpwuid(geteuid())->pw_name).string();
  Install(UserStore(user), good_.certificate, good_.key);
  EXPECT_EQ(Fetch("by-id",
                  [&](Job& job) {
                    return job.SetClientCertificateByID(kCertStoreCurrentUser, "MY", good_.sha1);
                  }),
            JobState::kTransferred);
  EXPECT_EQ(harness::ReadFile(out() + "/by-id"), "for certificate holders only");
  EXPECT_EQ(Fetch("by-name",
                  [&](Job& job) {
                    return job.SetClientCertificateByName(kCertStoreCurrentUser, "my",
                                                          "CN=alice-client");
                  }),
            JobState::kTransferred);
  // PKCS#12 in the machine store.
  Install(dir_.path() + "/machine-certs/MY", good_.pkcs12);
  EXPECT_EQ(Fetch("machine",
                  [&](Job& job) {
                    return job.SetClientCertificateByID(kCertStoreLocalMachine, "MY", good_.sha1);
                  }),
            JobState::kTransferred);

  // The reference is what GetClientCertificate says; /util /listcertificates shows the store.
  auto job = client_->CreateJob("reference");
  ASSERT_TRUE(job->SetClientCertificateByID(kCertStoreCurrentUser, "my", good_.sha1));
  auto reference = job->GetClientCertificate();
  ASSERT_TRUE(reference);
  EXPECT_EQ(reference->store, "MY");
  EXPECT_EQ(reference->sha1, good_.sha1);
  ASSERT_TRUE(job->RemoveClientCertificate());
  EXPECT_EQ(job->GetClientCertificate().error().code(), hr::CRYPT_E_NOT_FOUND);
  const auto listed = harness::Run(Bitsadmin({"/util", "/listcertificates"}));
  EXPECT_NE(listed.out.find(good_.sha1 + "  CN=alice-client,O=OpenBITS Test"), std::string::npos)
      << listed.out;
}

TEST_F(ClientCertificateTest, NoCertificateAStrangersAMissingOneOrAnExposedKeyAllFail) {
  HRESULT code = 0;
  EXPECT_EQ(Fetch(
                "none", [](Job&) { return Ok(); }, &code),
            JobState::kError);
  EXPECT_EQ(code, hr::WINHTTP_CLIENT_AUTH_CERT_NEEDED);

  const std::string user = getpwuid(geteuid())->pw_name;
  Install(UserStore(user), stranger_.certificate, stranger_.key);
  EXPECT_EQ(Fetch(
                "stranger",
                [&](Job& job) {
                  return job.SetClientCertificateByID(kCertStoreCurrentUser, "MY", stranger_.sha1);
                },
                &code),
            JobState::kError);

  EXPECT_EQ(Fetch(
                "missing",
                [&](Job& job) {
                  return job.SetClientCertificateByName(kCertStoreCurrentUser, "MY", "nobody");
                },
                &code),
            JobState::kError);
  EXPECT_EQ(code, hr::CRYPT_E_NOT_FOUND);

  Install(UserStore(user), good_.certificate, good_.key);
  fs::permissions(UserStore(user) + "/alice-client.key", fs::perms::others_read,
                  fs::perm_options::add);
  EXPECT_EQ(Fetch(
                "exposed",
                [&](Job& job) {
                  return job.SetClientCertificateByID(kCertStoreCurrentUser, "MY", good_.sha1);
                },
                &code),
            JobState::kError);
  EXPECT_EQ(code, hr::E_ACCESSDENIED);

  auto job = client_->CreateJob("bad arguments");
  EXPECT_EQ(job->SetClientCertificateByID(5, "MY", good_.sha1).error().code(), hr::E_NOTIMPL);
  EXPECT_EQ(job->SetClientCertificateByID(kCertStoreCurrentUser, "SHOP", good_.sha1).error().code(),
            hr::E_INVALIDARG);
  EXPECT_EQ(job->SetClientCertificateByID(kCertStoreCurrentUser, "MY", "abc").error().code(),
            hr::E_INVALIDARG);
}

TEST_F(ClientCertificateTest, ApacheRequiresOrAcceptsACertificateAndSeesWhoseItIs) {
  if (!harness::Apache::Installed()) GTEST_SKIP() << "apache2 is not installed";
  harness::Apache apache(dir_, www(), ca_);
  const std::string user = getpwuid(geteuid())->pw_name;
  Install(UserStore(user), good_.certificate, good_.key);
  auto run = [&](const std::string& name, const std::string& url, bool with_certificate,
                 std::string* headers) {
    auto job = client_->CreateJob(name);
    EXPECT_TRUE(job->AddFile(url, out() + "/" + name));
    if (with_certificate) {
      EXPECT_TRUE(job->SetClientCertificateByID(kCertStoreCurrentUser, "MY", good_.sha1));
    }
    EXPECT_TRUE(job->Resume());
    const JobState state = WaitForState(*job, {JobState::kTransferred, JobState::kError});
    if (state == JobState::kTransferred) {
      *headers = job->GetHttpResponseHeaders(0).value();
      EXPECT_TRUE(job->Complete());
    } else {
      *headers = FormatHresult(job->GetError()->code);
    }
    return state;
  };
  std::string headers;
  // Required: only with the certificate, and Apache saw Alice's subject.
  EXPECT_EQ(run("apache-with", apache.RequireUrl("/secret.txt"), true, &headers),
            JobState::kTransferred)
      << headers << apache.ErrorLog();
  // Apache writes the DN in RFC 2253 order.
  EXPECT_NE(headers.find("X-Client-Cert: O=OpenBITS Test,CN=alice-client"), std::string::npos)
      << headers;
  EXPECT_EQ(run("apache-without", apache.RequireUrl("/secret.txt"), false, &headers),
            JobState::kError);
  EXPECT_EQ(headers, FormatHresult(hr::WINHTTP_CLIENT_AUTH_CERT_NEEDED));
  // Optional: the transfer goes on without one.
  EXPECT_EQ(run("apache-optional", apache.OptionalUrl("/secret.txt"), false, &headers),
            JobState::kTransferred);
  EXPECT_NE(headers.find("X-Client-Cert: \r\n"), std::string::npos) << headers;
  EXPECT_EQ(harness::ReadFile(out() + "/apache-optional"), "for certificate holders only");
}

TEST_F(ClientCertificateTest, AUsersStoreServesOnlyThatUsersJobs) {
  // getpwnam returns a static buffer: keep the values, not the pointers.
  auto user = [](const char* name) -> std::optional<harness::RunAs> {
    const passwd* entry = getpwnam(name);
    if (!entry) return std::nullopt;
    return harness::RunAs{entry->pw_uid, entry->pw_gid};
  };
  const auto alice = user("openbits-alice");
  const auto bob = user("openbits-bob");
  if (geteuid() != 0 || !alice || !bob) GTEST_SKIP() << "needs root and the test users";
  // Alice's store, private to her.
  Install(UserStore("openbits-alice"), good_.certificate, good_.key);
  for (const std::string& path : {dir_.path() + "/home-openbits-alice", UserStore("openbits-alice"),
                                  UserStore("openbits-alice") + "/alice-client.key"}) {
    ASSERT_EQ(chown(path.c_str(), alice->uid, alice->gid), 0) << path;
  }
  fs::permissions(dir_.path() + "/home-openbits-alice", fs::perms::owner_all);
  fs::permissions(out(), fs::perms::all);
  auto fetch_as = [&](const harness::RunAs& as, const std::string& name) {
    const auto created = harness::Run(Bitsadmin({"/rawreturn", "/create", name}), as);
    const std::string id = created.out.substr(0, created.out.find('\n'));
    harness::Run(Bitsadmin({"/addfile", id, server_tls_->Url("/secret.txt"), out() + "/" + name}),
                 as);
    harness::Run(Bitsadmin({"/setclientcertificatebyid", id, "CURRENT_USER", "MY", good_.sha1}),
                 as);
    harness::Run(Bitsadmin({"/resume", id}), as);
    std::string state;
    harness::WaitUntil([&] {
      state = harness::Run(Bitsadmin({"/getstate", id}), as).out;
      return state == "TRANSFERRED\n" || state == "ERROR\n";
    });
    return std::make_pair(state, harness::Run(Bitsadmin({"/rawreturn", "/geterror", id}), as).out);
  };
  EXPECT_EQ(fetch_as(*alice, "alices").first, "TRANSFERRED\n");
  const auto [state, error] = fetch_as(*bob, "bobs");
  EXPECT_EQ(state, "ERROR\n");
  EXPECT_EQ(error, FormatHresult(hr::CRYPT_E_NOT_FOUND) + "\n");
}

}  // namespace
}  // namespace openbits::integration
