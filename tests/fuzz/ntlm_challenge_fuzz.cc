// Fuzz target: NTLM CHALLENGE decoding and the AUTHENTICATE built from it (servers and
// proxies are untrusted). See fuzz_regression_main.cc for how it runs without libFuzzer.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "auth/challenge.h"
#include "auth/mechanism.h"
#include "auth/ntlm_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace openbits;
  const std::string_view message(reinterpret_cast<const char*>(data), size);
  (void)auth::ntlm::DecodeChallenge(message);
  (void)auth::ntlm::DecodeAvPairs(message);
  core::Credential credential;
  credential.scheme = AuthScheme::kNtlm;
  credential.user = SecretString("DOM\\u");
  credential.password = SecretString("p");
  for (std::uint32_t level : {1u, 3u}) {
    auto ntlm = auth::MakeNtlm(credential, level);
    const auth::RequestInfo request{"GET", "/", "h", false, "http://h/"};
    (void)ntlm->Respond(request);
    auth::Challenge challenge;
    challenge.scheme = "ntlm";
    challenge.token68 = auth::Base64Encode(message);
    if (ntlm->ReadChallenge(challenge)) (void)ntlm->Respond(request);
  }
  return 0;
}
