// Authenticator: answers the challenges of one target (a server origin, or a proxy) for one
// job's transfer session, the way DESIGN.md 7 says: schemes ranked Negotiate > NTLM > Digest >
// Basic > Passport (curl's pickoneauth order), the best offered scheme for which the job has
// usable credentials is tried first, and a scheme that cannot be used (no ticket, no
// credentials, an unsupported variant) falls through to the next offered one, which libcurl
// does not do. A refused answer is retried once with a fresh exchange, then that scheme is
// out: wrong credentials end in 401/407, never in a loop.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "auth/challenge.h"
#include "auth/mechanism.h"
#include "core/credentials.h"

namespace openbits::auth {

// [auth] of bitsd.conf (DESIGN.md 9).
struct AuthPolicy {
  // BITS's UseLMCompat: 0 sends implicit credentials whenever NTLM or Negotiate is offered;
  // 1 only when lm_compatibility_level >= 2; 2 (default) only when the job called
  // SetCredentials with NULL user name and password.
  std::uint32_t use_lm_compat = 2;
  // LmCompatibilityLevel 0-5 (default 3): 0-2 allow LM/NTLMv1 responses, 3-5 NTLMv2 only.
  std::uint32_t lm_compatibility_level = 3;
  // Basic sends the password in the clear: over plain http only when this is set.
  bool allow_basic_over_http = false;
  // The identity's own NTLM account file (DOMAIN:USER:PASSWORD lines, readable by it alone),
  // used for implicit NTLM when the client sent no NTLM_USER_FILE: without SetCredentials
  // under use_lm_compat 0 or 1, or after SetCredentials(..., NULL, NULL) from a client that
  // sent none, or for a helper identity. "%{home}" and "%{uid}" are the identity's.
  std::string ntlm_user_file = "%{home}/.ntlm_user";
  // The identity's stored credentials (netrc format) for USE_STORED_CREDENTIALS.
  std::string stored_credentials_file = "%{home}/.netrc";
  // [auth] passport_nexus_url: where Passport finds its login server (default: none).
  std::string passport_nexus_url;
};

class Authenticator {
 public:
  // `side_channel` carries Passport's extra requests (may be null: no Passport).
  Authenticator(AuthTarget target, const core::CredentialSet& credentials, const AuthPolicy& policy,
                Identity identity, SideChannel* side_channel = nullptr);
  ~Authenticator();
  Authenticator(Authenticator&&) noexcept;
  Authenticator& operator=(Authenticator&&) noexcept;

  // The credentials to send ahead on a new request, once a one-leg scheme was accepted.
  std::optional<SecretString> Preemptive(const RequestInfo& request);
  // A 401 (or 407) offered `challenges`: the value of the Authorization (Proxy-Authorization)
  // header for the next try, or an error whose message says why no answer can be given.
  Result<SecretString> Answer(const std::vector<Challenge>& challenges, const RequestInfo& request);
  // The last answer got through (the response was not a 401/407).
  void Accepted();

 private:
  // The credentials to use for `scheme`: the job's own, else the identity's stored ones
  // (USE_STORED_CREDENTIALS), else implicit ones under the implicit-credential rules; an
  // error says why there are none.
  Result<core::Credential> CredentialFor(AuthScheme scheme, const RequestInfo& request) const;
  // The implicit-credential rules alone (borrowing the proxy's, use_lm_compat), or nullopt.
  std::optional<core::Credential> ImplicitCredentialFor(AuthScheme scheme) const;
  // A mechanism for `scheme`, or the reason there is none.
  Result<std::unique_ptr<Mechanism>> MakeMechanism(AuthScheme scheme,
                                                   const RequestInfo& request) const;
  void Note(AuthScheme scheme, const std::string& reason);
  // How often the server refused an answer of `scheme` in this session.
  int Refusals(AuthScheme scheme) const;

  AuthTarget target_;
  core::CredentialSet credentials_;
  AuthPolicy policy_;
  Identity identity_;
  SideChannel* side_channel_;
  std::unique_ptr<Mechanism> current_;
  bool current_accepted_ = false;
  std::map<AuthScheme, int> refusals_;
  std::set<AuthScheme> unusable_;
  std::vector<std::string> reasons_;
};

// The scheme of an HTTP challenge name ("negotiate" ...), if it is one BITS knows.
std::optional<AuthScheme> SchemeOfChallenge(const std::string& name);

}  // namespace openbits::auth
