// Fuzz target: Passport 1.4 as a hostile site, nexus and login server can drive it: the
// site's challenge, then the nexus's and the login server's replies (status and headers),
// parts of the input separated by 0x01. See fuzz_regression_main.cc.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "auth/challenge.h"
#include "auth/mechanism.h"

namespace {

class ScriptedChannel : public openbits::auth::SideChannel {
 public:
  explicit ScriptedChannel(std::vector<openbits::auth::HttpReply> replies)
      : replies_(std::move(replies)) {}
  openbits::Result<openbits::auth::HttpReply> Get(const std::string&,
                                                  const openbits::SecretString&) override {
    if (next_ >= replies_.size()) {
      return openbits::Error(openbits::hr::E_FAIL, openbits::ErrorContext::kNone, "no reply");
    }
    return replies_[next_++];
  }

 private:
  std::vector<openbits::auth::HttpReply> replies_;
  std::size_t next_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace openbits;
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  for (std::size_t at = 0;;) {
    const auto end = text.find('\x01', at);
    parts.push_back(text.substr(at, end == std::string::npos ? std::string::npos : end - at));
    if (end == std::string::npos) break;
    at = end + 1;
  }
  std::vector<auth::HttpReply> replies;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    // The first byte picks the status: 200 mostly, else 302 or 401.
    const unsigned char pick = parts[i].empty() ? 0 : static_cast<unsigned char>(parts[i][0]);
    replies.push_back({pick % 5 == 0 ? 401 : pick % 7 == 0 ? 302 : 200, parts[i]});
  }
  ScriptedChannel channel(std::move(replies));
  core::Credential credential;
  credential.scheme = AuthScheme::kPassport;
  credential.user = SecretString("alice@example.com");
  credential.password = SecretString("pw");
  auto passport = auth::MakePassport(credential, &channel, "https://nexus.example/nexus");
  for (const auth::Challenge& challenge :
       auth::ChallengesFromHeaders(parts[0], "WWW-Authenticate")) {
    if (passport->ReadChallenge(challenge)) {
      (void)passport->Respond({"GET", "/f", "site.example", true, "https://site.example/f"});
    }
  }
  return 0;
}
