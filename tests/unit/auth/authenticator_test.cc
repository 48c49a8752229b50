// Scheme choice, fallback and the end of a refused exchange, and the Digest computation
// against the RFC 7616 examples. No network: challenges are written out by hand.
#include "auth/authenticator.h"

#include <gtest/gtest.h>

namespace openbits::auth {
namespace {

core::Credential Explicit(AuthScheme scheme, const std::string& user, const std::string& pw) {
  core::Credential credential;
  credential.scheme = scheme;
  credential.user = SecretString(user);
  credential.password = SecretString(pw);
  return credential;
}

const RequestInfo kHttps{"GET", "/dir/index.html", "example.org", true,
                         "https://example.org/dir/index.html"};

TEST(DigestTest, MatchesTheRfc7616ExamplesForMd5AndSha256) {
  const core::Credential mufasa = Explicit(AuthScheme::kDigest, "Mufasa", "Circle of Life");
  const std::string cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
  for (const auto& [algorithm, response] :
       {std::pair{"MD5", "8ca523f5e9506fed4657c9700eebdbec"},
        std::pair{"SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"}}) {
    auto digest = MakeDigest(mufasa, cnonce);
    const auto challenge = ParseChallenges(
        std::string("Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", "
                    "algorithm=") +
        algorithm +
        ", nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
        "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"");
    ASSERT_EQ(challenge.size(), 1u);
    ASSERT_TRUE(digest->ReadChallenge(challenge[0]));
    auto value = digest->Respond(kHttps);
    ASSERT_TRUE(value);
    const std::string text(value->reveal());
    EXPECT_NE(text.find(std::string("response=\"") + response + "\""), std::string::npos) << text;
    EXPECT_NE(text.find("nc=00000001"), std::string::npos);
    EXPECT_NE(text.find("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""),
              std::string::npos);
    // The same challenge again is a refusal; a stale one is a fresh nonce.
    EXPECT_FALSE(digest->ReadChallenge(challenge[0]));
    auto stale = challenge[0];
    stale.params.emplace_back("stale", "TRUE");
    EXPECT_TRUE(digest->ReadChallenge(stale));
  }
}

TEST(DigestTest, RefusesAlgorithmsAndQopsItDoesNotSpeak) {
  auto digest = MakeDigest(Explicit(AuthScheme::kDigest, "u", "p"));
  EXPECT_FALSE(digest->ReadChallenge(ParseChallenges("Digest nonce=1, algorithm=SHA-512-256")[0]));
  EXPECT_FALSE(digest->ReadChallenge(ParseChallenges("Digest nonce=1, qop=auth-int")[0]));
  EXPECT_FALSE(digest->ReadChallenge(ParseChallenges("Digest realm=x")[0]));
}

TEST(AuthenticatorTest, PicksTheBestOfferedSchemeWithCredentialsAndRetriesARefusalOnce) {
  core::CredentialSet credentials;
  credentials.Set(Explicit(AuthScheme::kBasic, "alice", "pw"));
  credentials.Set(Explicit(AuthScheme::kDigest, "alice", "pw"));
  Authenticator authenticator(AuthTarget::kServer, credentials, AuthPolicy{}, {});
  const auto offered = ParseChallenges("Basic realm=r, Digest realm=r, nonce=n, qop=auth");
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto answer = authenticator.Answer(offered, kHttps);
    ASSERT_TRUE(answer);
    EXPECT_TRUE(answer->reveal().starts_with("Digest ")) << attempt;
  }
  // Digest was refused twice: Basic next, twice, then nothing is left.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto answer = authenticator.Answer(offered, kHttps);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->reveal(), "Basic YWxpY2U6cHc=");
  }
  auto exhausted = authenticator.Answer(offered, kHttps);
  ASSERT_FALSE(exhausted);
  EXPECT_NE(exhausted.error().message().find("refused"), std::string::npos);
}

TEST(AuthenticatorTest, AnAcceptedBasicIsSentAheadOnTheNextRequest) {
  core::CredentialSet credentials;
  credentials.Set(Explicit(AuthScheme::kBasic, "alice", "pw"));
  Authenticator authenticator(AuthTarget::kServer, credentials, AuthPolicy{}, {});
  EXPECT_FALSE(authenticator.Preemptive(kHttps));
  ASSERT_TRUE(authenticator.Answer(ParseChallenges("Basic realm=r"), kHttps));
  EXPECT_FALSE(authenticator.Preemptive(kHttps));  // not yet known to be accepted
  authenticator.Accepted();
  auto ahead = authenticator.Preemptive(kHttps);
  ASSERT_TRUE(ahead);
  EXPECT_EQ(ahead->reveal(), "Basic YWxpY2U6cHc=");
}

TEST(AuthenticatorTest, BasicOverHttpOnlyWhenThePolicyAllowsIt) {
  core::CredentialSet credentials;
  credentials.Set(Explicit(AuthScheme::kBasic, "alice", "pw"));
  const RequestInfo http{"GET", "/", "example.org", false, "http://example.org/"};
  Authenticator strict(AuthTarget::kServer, credentials, AuthPolicy{}, {});
  auto refused = strict.Answer(ParseChallenges("Basic realm=r"), http);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("allow_basic_over_http"), std::string::npos);
  AuthPolicy lenient;
  lenient.allow_basic_over_http = true;
  Authenticator relaxed(AuthTarget::kServer, credentials, lenient, {});
  EXPECT_TRUE(relaxed.Answer(ParseChallenges("Basic realm=r"), http));
}

TEST(AuthenticatorTest, ProxyCredentialsDoNotAnswerTheServer) {
  core::CredentialSet credentials;
  core::Credential proxy = Explicit(AuthScheme::kBasic, "alice", "pw");
  proxy.target = AuthTarget::kProxy;
  credentials.Set(proxy);
  Authenticator server(AuthTarget::kServer, credentials, AuthPolicy{}, {});
  EXPECT_FALSE(server.Answer(ParseChallenges("Basic realm=r"), kHttps));
  Authenticator for_proxy(AuthTarget::kProxy, credentials, AuthPolicy{}, {});
  EXPECT_TRUE(for_proxy.Answer(ParseChallenges("Basic realm=r"), kHttps));
}

TEST(AuthenticatorTest, NoOfferedSchemeSaysSo) {
  Authenticator authenticator(AuthTarget::kServer, {}, AuthPolicy{}, {});
  auto none = authenticator.Answer({}, kHttps);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message().find("no authentication scheme was offered"), std::string::npos);
}

}  // namespace
}  // namespace openbits::auth

namespace openbits::auth {
namespace {

// A nexus and login server that answer from memory and remember what they were asked.
class FakePassportServers : public SideChannel {
 public:
  Result<HttpReply> Get(const std::string& url, const SecretString& authorization) override {
    requests.push_back(url + " " + std::string(authorization.reveal()));
    if (url == "https://nexus.test/rdr") {
      return HttpReply{200,
                       "HTTP/1.1 200 OK\r\nPassportURLs: DARealm=Passport.Net,"
                       "DALogin=login.test/login2.srf,ConfigVersion=14\r\n\r\n"};
    }
    if (authorization.reveal().find(",pwd=right,") != std::string_view::npos) {
      return HttpReply{200,
                       "HTTP/1.1 200 OK\r\nAuthentication-Info: Passport1.4 "
                       "da-status=success,tname=MSPAuth,from-PP='t=T1&p=P1',ru=x\r\n\r\n"};
    }
    return HttpReply{401,
                     "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Passport1.4 "
                     "da-status=failed,srealm=Passport.NET\r\n\r\n"};
  }
  std::vector<std::string> requests;
};

TEST(PassportTest, TakesTheSitesChallengeToTheLoginServerAndTheTicketBack) {
  FakePassportServers servers;
  core::CredentialSet credentials;
  credentials.Set(Explicit(AuthScheme::kPassport, "alice@example.com", "right"));
  AuthPolicy policy;
  policy.passport_nexus_url = "https://nexus.test/rdr";
  Authenticator authenticator(AuthTarget::kServer, credentials, policy, {}, &servers);
  const auto challenge = ParseChallenges("Passport1.4 lc=1033,id=10,tw=20,ru=http%3A%2F%2Fs");
  auto answer = authenticator.Answer(challenge, kHttps);
  ASSERT_TRUE(answer) << answer.error().message();
  EXPECT_EQ(answer->reveal(), "Passport1.4 from-PP='t=T1&p=P1'");
  ASSERT_EQ(servers.requests.size(), 2u);
  EXPECT_EQ(servers.requests[1],
            "https://login.test/login2.srf Passport1.4 OrgVerb=GET,"
            "OrgURL=https%3A%2F%2Fexample.org%2Fdir%2Findex.html,sign-in=alice%40example.com,"
            "pwd=right,lc=1033,id=10,tw=20,ru=http%3A%2F%2Fs");
}

TEST(PassportTest, AWrongPasswordOrAMissingNexusIsRefusedWithTheReason) {
  FakePassportServers servers;
  core::CredentialSet credentials;
  credentials.Set(Explicit(AuthScheme::kPassport, "alice@example.com", "wrong"));
  AuthPolicy policy;
  policy.passport_nexus_url = "https://nexus.test/rdr";
  Authenticator authenticator(AuthTarget::kServer, credentials, policy, {}, &servers);
  const auto challenge = ParseChallenges("Passport1.4 lc=1033,id=10");
  auto refused = authenticator.Answer(challenge, kHttps);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("login server refused"), std::string::npos);
  // Without a nexus Passport says what is missing.
  Authenticator unconfigured(AuthTarget::kServer, credentials, AuthPolicy{}, {}, &servers);
  auto missing = unconfigured.Answer(challenge, kHttps);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("passport_nexus_url"), std::string::npos);
}

}  // namespace
}  // namespace openbits::auth

namespace openbits::auth {
namespace {

TEST(AuthenticatorTest, ImplicitProxyCredentialsServeTheServerUnlessItHasExplicitOnes) {
  core::CredentialSet credentials;
  core::Credential implicit_proxy;
  implicit_proxy.target = AuthTarget::kProxy;
  implicit_proxy.scheme = AuthScheme::kNegotiate;
  implicit_proxy.implicit = true;
  implicit_proxy.credential_cache = "FILE:/nonexistent/openbits-test-cache";
  credentials.Set(implicit_proxy);
  // The server gets the proxy's implicit credentials: Negotiate is tried (and fails here on
  // the missing cache, which the message names) rather than "no credentials".
  Authenticator server(AuthTarget::kServer, credentials, AuthPolicy{}, {});
  auto tried = server.Answer(ParseChallenges("Negotiate"), kHttps);
  ASSERT_FALSE(tried);
  EXPECT_NE(tried.error().message().find("openbits-test-cache"), std::string::npos)
      << tried.error().message();
  // With explicit server credentials (of any scheme) they do not.
  credentials.Set(Explicit(AuthScheme::kBasic, "alice", "pw"));
  Authenticator explicit_server(AuthTarget::kServer, credentials, AuthPolicy{}, {});
  auto refused = explicit_server.Answer(ParseChallenges("Negotiate"), kHttps);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("no credentials"), std::string::npos)
      << refused.error().message();
}

}  // namespace
}  // namespace openbits::auth
