// Proxy lists, bypass lists, PAC answers, WPAD candidates and the PRECONFIG order, without a
// network.
#include "proxy/proxy_list.h"

#include <gtest/gtest.h>

#include "proxy/pac_result.h"
#include "proxy/resolver.h"

namespace openbits::proxy {
namespace {

TEST(ProxyListTest, ParsesBitsSyntaxWithSchemesPortsAndIpv6) {
  auto servers =
      ParseProxyList("proxy1:3128; http=http://p2.example.org https=https://[::1]:8443 p4");
  ASSERT_TRUE(servers);
  ASSERT_EQ(servers->size(), 4u);
  EXPECT_EQ((*servers)[0].Url(), "http://proxy1:3128");
  EXPECT_EQ((*servers)[1].for_scheme, "http");
  EXPECT_EQ((*servers)[1].Url(), "http://p2.example.org:80");
  EXPECT_EQ((*servers)[2].for_scheme, "https");
  EXPECT_EQ((*servers)[2].Url(), "https://[::1]:8443");
  EXPECT_EQ((*servers)[3].port, 80);
}

TEST(ProxyListTest, RejectsWhatIsNotAProxyNamingTheEntry) {
  for (const char* bad :
       {"", "  ; ", "ftp=p:1", "socks://p:1", "p:0", "p:99999", "p:x", "b@d:1", "[::1"}) {
    auto servers = ParseProxyList(bad);
    ASSERT_FALSE(servers) << bad;
    EXPECT_EQ(servers.error().code(), hr::BG_E_INVALID_PROXY_INFO);
  }
  EXPECT_NE(ParseProxyList("good:1 b@d:1").error().message().find("'***@d:1'"), std::string::npos);
  // The message is stored and logged: a user name and password in the entry are not.
  const std::string message = ParseProxyList("http=http://user:S3cretPw@p:1 x").error().message();
  EXPECT_EQ(message.find("S3cretPw"), std::string::npos) << message;
  EXPECT_NE(message.find("'http=http://***@p:1'"), std::string::npos) << message;
}

TEST(BypassListTest, LocalWildcardsPortsAndLiterals) {
  auto bypass = BypassList::Parse("<local>; *.example.org 10.* host.test:8080 [::1] http://x.y");
  ASSERT_TRUE(bypass);
  EXPECT_TRUE(bypass->Matches("intranet", 80));
  EXPECT_FALSE(bypass->Matches("intranet.corp", 80));
  EXPECT_TRUE(bypass->Matches("a.b.EXAMPLE.org", 443));
  EXPECT_FALSE(bypass->Matches("example.org", 443));
  EXPECT_TRUE(bypass->Matches("10.1.2.3", 80));
  EXPECT_TRUE(bypass->Matches("host.test", 8080));
  EXPECT_FALSE(bypass->Matches("host.test", 80));
  EXPECT_TRUE(bypass->Matches("::1", 80));
  EXPECT_TRUE(bypass->Matches("x.y", 80));
  EXPECT_FALSE(bypass->Matches("::2", 80));
  EXPECT_TRUE(GlobMatch("*a*b*c", "xxaxxbxxc"));
  EXPECT_FALSE(GlobMatch("*a*b*c", "xxaxxcxxb"));
}

TEST(PacResultTest, RoutesInOrderAndGarbageRefused) {
  auto routes = ParsePacResult(" PROXY a:1 ; SOCKS s:1080; HTTPS b:443;DIRECT ");
  ASSERT_TRUE(routes);
  ASSERT_EQ(routes->size(), 3u);
  EXPECT_EQ((*routes)[0]->Url(), "http://a:1");
  EXPECT_EQ((*routes)[1]->Url(), "https://b:443");
  EXPECT_FALSE((*routes)[2].has_value());
  for (const char* bad : {"", "SOCKS s:1", "FOO bar", "PROXY", "DIRECT x", "PROXY a:b"}) {
    auto refused = ParsePacResult(bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().code(), hr::BG_E_INVALID_PROXY_INFO);
  }
}

TEST(ResolverTest, WpadDevolutionStopsBeforeTheTopLevelDomain) {
  EXPECT_EQ(
      DevolutionCandidates("nameserver 1.2.3.4\nsearch eng.corp.example.org lab.test\n"),
      (std::vector<std::string>{
          "http://wpad.eng.corp.example.org/wpad.dat", "http://wpad.corp.example.org/wpad.dat",
          "http://wpad.example.org/wpad.dat", "http://wpad.lab.test/wpad.dat"}));
  EXPECT_TRUE(DevolutionCandidates("search localdomain\n").empty());
}

TEST(ResolverTest, PreconfigUsesTheEnvironmentThenTheMachineAndOverrideAndNoProxyOwnTheirs) {
  ResolverOptions options;
  options.machine = {ProxyUsage::kOverride, "machine:3128", "*.internal"};
  Resolver resolver(options, nullptr, nullptr);
  const Destination http{"http://a.example.org/f", "http", "a.example.org", 80};
  const Destination https{"https://a.example.org/f", "https", "a.example.org", 443};
  JobProxy job;
  auto routes = resolver.Routes(job, http);
  ASSERT_TRUE(routes);
  EXPECT_EQ((*routes)[0]->Url(), "http://machine:3128");
  EXPECT_FALSE((*resolver.Routes(job, {"http://x.internal/", "http", "x.internal", 80}))[0]);
  job.environment = {{"http_proxy", "http://env:8080"}, {"no_proxy", "example.net,.other.org"}};
  EXPECT_EQ((*resolver.Routes(job, http))[0]->Url(), "http://env:8080");
  // No https_proxy and no all_proxy: the environment says nothing for https, so bitsd.conf.
  EXPECT_EQ((*resolver.Routes(job, https))[0]->Url(), "http://machine:3128");
  EXPECT_FALSE((*resolver.Routes(job, {"http://b.other.org/", "http", "b.other.org", 80}))[0]);
  job.settings = {ProxyUsage::kNoProxy, "", ""};
  EXPECT_FALSE((*resolver.Routes(job, http))[0]);
  job.settings = {ProxyUsage::kOverride, "http=h:1 https=s:2", ""};
  EXPECT_EQ((*resolver.Routes(job, https))[0]->Url(), "http://s:2");
  EXPECT_EQ(resolver.Routes(job, https)->size(), 1u);
}

}  // namespace
}  // namespace openbits::proxy
