// Fuzz target: the WWW-Authenticate / Proxy-Authenticate parser and the Digest challenge
// reader, both fed by untrusted servers. With clang: -fsanitize=fuzzer; otherwise the corpus
// and a seeded stream of mutations run as a regression test (fuzz_regression_main.cc).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "auth/challenge.h"
#include "auth/mechanism.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace openbits;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto challenges = auth::ParseChallenges(text);
  (void)auth::ChallengesFromHeaders(text, "WWW-Authenticate");
  (void)auth::Base64Decode(text);
  core::Credential credential;
  credential.scheme = AuthScheme::kDigest;
  credential.user = SecretString("u");
  credential.password = SecretString("p");
  for (const auth::Challenge& challenge : challenges) {
    auto digest = auth::MakeDigest(credential, "cnonce");
    if (digest->ReadChallenge(challenge)) {
      (void)digest->Respond({"GET", "/", "host", true, "https://host/"});
    }
  }
  return 0;
}
