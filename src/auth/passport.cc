// Passport 1.4 ([MS-PASS]; "Passport Authentication in WinHTTP"), explicit credentials only:
// the site's challenge (a 302 or 401 with "WWW-Authenticate: Passport1.4 lc=..,id=..,...") is
// taken to the login server that the nexus names (PassportURLs: DALogin=...), with the user's
// sign-in name and password; the ticket it answers with (Authentication-Info: ...
// from-PP='t=..&p=..') goes back to the site as "Authorization: Passport1.4 from-PP='...'".
// The public service is gone: the project's harness serves a nexus, a login server and a site
// (tests/harness/range_server.py), and [auth] passport_nexus_url names the nexus.
#include <string.h>

#include <cctype>

#include "auth/mechanism.h"

namespace openbits::auth {
namespace {

std::string PercentEncode(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kDigits[u >> 4];
      out += kDigits[u & 15];
    }
  }
  return out;
}

// The first value of header `name` ("" when absent).
std::string HeaderValue(std::string_view headers, std::string_view name) {
  const auto values = HeaderValues(headers, name);
  return values.empty() ? std::string() : std::string(values.front());
}

// "k=v,k2=v2" of a comma-separated header value: the value of `key`.
std::string Field(std::string_view list, std::string_view key) {
  std::size_t start = 0;
  while (start < list.size()) {
    std::size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    std::string_view item = list.substr(start, end - start);
    start = end + 1;
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item.size() > key.size() && item.substr(0, key.size()) == key && item[key.size()] == '=') {
      return std::string(item.substr(key.size() + 1));
    }
  }
  return "";
}

Error Refused(const std::string& why) {
  return Error(hr::E_ACCESSDENIED, ErrorContext::kNone, why);
}

class Passport : public Mechanism {
 public:
  Passport(const core::Credential& credential, SideChannel* channel, std::string nexus_url)
      : credential_(credential), channel_(channel), nexus_url_(std::move(nexus_url)) {}
  AuthScheme scheme() const override { return AuthScheme::kPassport; }

  Status ReadChallenge(const Challenge& challenge) override {
    if (answered_) return Refused("the site refused the Passport ticket");
    if (challenge.Param("da-status") == "failed") {
      return Refused("the Passport login server refused the credentials");
    }
    // The site's parameters go to the login server as they came.
    challenge_.clear();
    for (const auto& [key, value] : challenge.params) {
      challenge_ += (challenge_.empty() ? "" : ",") + key + "=" + value;
    }
    if (!challenge.Param("id")) return Refused("the Passport challenge has no site id");
    return Ok();
  }

  Result<SecretString> Respond(const RequestInfo& request) override {
    if (!channel_ || nexus_url_.empty()) {
      return Error(hr::E_NOTIMPL, ErrorContext::kNone,
                   "no Passport nexus is configured ([auth] passport_nexus_url)");
    }
    auto nexus = channel_->Get(nexus_url_, SecretString());
    if (!nexus) return nexus.error();
    const std::string login = Field(HeaderValue(nexus->headers, "PassportURLs"), "DALogin");
    if (nexus->status != 200 || login.empty()) {
      return Error(hr::E_FAIL, ErrorContext::kNone,
                   "the Passport nexus " + nexus_url_ + " names no login server");
    }
    // DALogin is host/path; the login server is spoken to as the nexus is (https in use).
    const std::string scheme = nexus_url_.substr(0, nexus_url_.find("://"));
    std::string sign_in = "Passport1.4 OrgVerb=" + request.method +
                          ",OrgURL=" + PercentEncode(request.url) +
                          ",sign-in=" + PercentEncode(credential_.user.reveal()) +
                          ",pwd=" + PercentEncode(credential_.password.reveal()) + "," + challenge_;
    auto reply = channel_->Get(scheme + "://" + login, SecretString(sign_in));
    explicit_bzero(sign_in.data(), sign_in.size());
    if (!reply) return reply.error();
    if (reply->status == 401) return Refused("the Passport login server refused the credentials");
    const std::string info = HeaderValue(reply->headers, "Authentication-Info");
    const auto from = info.find("from-PP='");
    const auto close = from == std::string::npos ? from : info.find('\'', from + 9);
    if (reply->status != 200 || close == std::string::npos ||
        info.find("da-status=success") == std::string::npos) {
      return Error(hr::E_FAIL, ErrorContext::kNone,
                   "the Passport login server answered status " + std::to_string(reply->status) +
                       " without a ticket");
    }
    answered_ = true;
    return SecretString("Passport1.4 " + info.substr(from, close + 1 - from));
  }

 private:
  const core::Credential credential_;
  SideChannel* channel_;
  const std::string nexus_url_;
  std::string challenge_;
  bool answered_ = false;
};

}  // namespace

std::unique_ptr<Mechanism> MakePassport(const core::Credential& credential, SideChannel* channel,
                                        std::string nexus_url) {
  return std::make_unique<Passport>(credential, channel, std::move(nexus_url));
}

}  // namespace openbits::auth
