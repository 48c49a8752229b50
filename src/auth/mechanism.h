// One authentication scheme behind the same few verbs (the shape of curl's lib/vauth): read a
// challenge, write a response, say whether the exchange is over. A mechanism never sees the
// transport; Authenticator (authenticator.h) chooses among them.
#pragma once

#include <memory>
#include <string>

#include "auth/challenge.h"
#include "core/credentials.h"
#include "core/ports.h"
#include "openbits/result.h"
#include "openbits/secret.h"

namespace openbits::auth {

// What a mechanism may know of the request it authenticates.
struct RequestInfo {
  std::string method = "GET";
  std::string uri;   // the request target: path and query ("/a/b?c")
  std::string host;  // the server's host (the proxy's for proxy authentication): the SPN
  bool secure = false;
  std::string url;  // the whole URL (Passport's OrgURL)
};

// Whose implicit credentials a mechanism uses (the job's owner, or a helper identity).
struct Identity {
  std::uint32_t uid = 0;
  // Kerberos credential cache to use for implicit Negotiate ("" = the identity's default).
  std::string credential_cache;
};
// Whose file-system identity reads the identity's files (its primary group, as callers get).
core::FileOwner FileOwnerOf(const Identity& identity);

class Mechanism {
 public:
  virtual ~Mechanism() = default;
  virtual AuthScheme scheme() const = 0;
  // Takes in a challenge of this mechanism's scheme from a 401/407: the first one, the next
  // leg of a multi-leg exchange, or a fresh nonce (Digest stale=true). Fails when it cannot be
  // answered: malformed, an unsupported algorithm, or a refusal of what we already sent.
  virtual Status ReadChallenge(const Challenge& challenge) = 0;
  // The Authorization (or Proxy-Authorization) value for the next request, scheme included.
  virtual Result<SecretString> Respond(const RequestInfo& request) = 0;
  // One-leg schemes that were accepted: Respond may be called again without a new challenge,
  // so later requests of the session carry credentials at once (no extra round trip).
  virtual bool Reusable() const { return false; }
};

// HTTP requests that a mechanism needs besides the transfer (Passport's nexus and login
// server): the transport provides them, so mechanisms still never see libcurl.
struct HttpReply {
  long status = 0;
  std::string headers;  // the raw header block
};
class SideChannel {
 public:
  virtual ~SideChannel() = default;
  // A GET of `url`, with `authorization` as its Authorization header when not empty.
  virtual Result<HttpReply> Get(const std::string& url, const SecretString& authorization) = 0;
};

std::unique_ptr<Mechanism> MakeBasic(const core::Credential& credential);
// fixed_cnonce: for known-answer tests only (empty: a random cnonce per challenge).
std::unique_ptr<Mechanism> MakeDigest(const core::Credential& credential,
                                      std::string fixed_cnonce = "");
// Explicit credentials only ("DOMAIN\\user", "user@domain" or "user"). Level 0-5 is
// [auth] lm_compatibility_level.
std::unique_ptr<Mechanism> MakeNtlm(const core::Credential& credential,
                                    std::uint32_t lm_compatibility_level);
// Implicit NTLM: the first account of an NTLM_USER_FILE ("DOMAIN:USER:PASSWORD" lines, as
// gss-ntlmssp reads them), read as `owner` (identity::ReadUserFile): a regular file of
// `owner` that no one else may read (E_ACCESSDENIED otherwise).
Result<core::Credential> NtlmCredentialFromUserFile(const std::string& path,
                                                    const core::FileOwner& owner);
// Passport 1.4 with explicit credentials, through the nexus at `nexus_url`.
std::unique_ptr<Mechanism> MakePassport(const core::Credential& credential, SideChannel* channel,
                                        std::string nexus_url);
// Explicit credentials (user and password) or implicit ones (the identity's Kerberos cache).
// ntlm_only: offer only NTLM inside SPNEGO (the retry after a refused exchange).
std::unique_ptr<Mechanism> MakeNegotiate(const core::Credential& credential,
                                         const Identity& identity, bool ntlm_only = false);

}  // namespace openbits::auth
