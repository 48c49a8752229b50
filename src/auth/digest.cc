// Digest (RFC 7616, with RFC 2069 servers that send no qop): MD5, MD5-sess, SHA-256 and
// SHA-256-sess, qop=auth. A stale=true challenge after our answer is a fresh nonce, not a
// refusal. Once accepted, later requests reuse the nonce with the next nonce count.
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include <cctype>
#include <cstdio>

#include "auth/mechanism.h"

#include "base/text.h"

namespace openbits::auth {
namespace {

using text::Lower;

std::string Hex(const unsigned char* bytes, unsigned length) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < length; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 15];
  }
  return out;
}

// Quotes a value for a quoted-string parameter.
std::string Quote(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

class Digest : public Mechanism {
 public:
  Digest(const core::Credential& credential, std::string fixed_cnonce)
      : credential_(credential), fixed_cnonce_(std::move(fixed_cnonce)) {}
  AuthScheme scheme() const override { return AuthScheme::kDigest; }

  Status ReadChallenge(const Challenge& challenge) override {
    const bool stale = Lower(challenge.Param("stale").value_or("")) == "true";
    if (answered_ && !stale) {
      return Error(hr::E_ACCESSDENIED, ErrorContext::kNone, "the password was refused");
    }
    auto nonce = challenge.Param("nonce");
    if (!nonce || nonce->empty()) {
      return Error(hr::E_INVALIDARG, ErrorContext::kNone, "the Digest challenge has no nonce");
    }
    std::string algorithm = challenge.Param("algorithm").value_or("MD5");
    const std::string lower = Lower(algorithm);
    if (lower == "md5" || lower == "md5-sess") {
      digest_ = EVP_md5();
    } else if (lower == "sha-256" || lower == "sha-256-sess") {
      digest_ = EVP_sha256();
    } else {
      return Error(hr::E_NOTIMPL, ErrorContext::kNone,
                   "the Digest algorithm '" + algorithm + "' is not supported");
    }
    session_ = lower.ends_with("-sess");
    if (auto qop = challenge.Param("qop")) {
      // A list such as "auth,auth-int": only auth is spoken here.
      bool has_auth = false;
      std::size_t start = 0;
      while (start <= qop->size()) {
        std::size_t end = qop->find(',', start);
        if (end == std::string::npos) end = qop->size();
        std::string item = qop->substr(start, end - start);
        std::erase_if(item, [](char c) { return c == ' ' || c == '\t'; });
        if (Lower(item) == "auth") has_auth = true;
        start = end + 1;
      }
      if (!has_auth) {
        return Error(hr::E_NOTIMPL, ErrorContext::kNone,
                     "the server wants Digest qop '" + *qop + "'; only 'auth' is supported");
      }
      qop_auth_ = true;
    }
    if (Lower(challenge.Param("userhash").value_or("")) == "true") {
      return Error(hr::E_NOTIMPL, ErrorContext::kNone, "Digest userhash is not supported");
    }
    algorithm_ = algorithm;
    realm_ = challenge.Param("realm").value_or("");
    nonce_ = *nonce;
    opaque_ = challenge.Param("opaque");
    nonce_count_ = 0;
    unsigned char random[16];
    if (RAND_bytes(random, sizeof random) != 1) {
      return Error(hr::E_FAIL, ErrorContext::kNone, "no random bytes for the Digest cnonce");
    }
    cnonce_ = fixed_cnonce_.empty() ? Hex(random, sizeof random) : fixed_cnonce_;
    answered_ = false;
    return Ok();
  }

  Result<SecretString> Respond(const RequestInfo& request) override {
    ++nonce_count_;
    char nc[9];
    std::snprintf(nc, sizeof nc, "%08x", nonce_count_);
    std::string secret_input;
    secret_input.append(credential_.user.reveal()).append(":").append(realm_).append(":");
    secret_input.append(credential_.password.reveal());
    std::string ha1 = Hash(secret_input);
    explicit_bzero(secret_input.data(), secret_input.size());
    if (session_) ha1 = Hash(ha1 + ":" + nonce_ + ":" + cnonce_);
    const std::string ha2 = Hash(request.method + ":" + request.uri);
    const std::string response =
        qop_auth_ ? Hash(ha1 + ":" + nonce_ + ":" + nc + ":" + cnonce_ + ":auth:" + ha2)
                  : Hash(ha1 + ":" + nonce_ + ":" + ha2);
    explicit_bzero(ha1.data(), ha1.size());
    std::string value = "Digest username=" + Quote(credential_.user.reveal()) +
                        ", realm=" + Quote(realm_) + ", nonce=" + Quote(nonce_) +
                        ", uri=" + Quote(request.uri) + ", algorithm=" + algorithm_ +
                        ", response=" + Quote(response);
    if (qop_auth_) value += ", qop=auth, nc=" + std::string(nc) + ", cnonce=" + Quote(cnonce_);
    if (opaque_) value += ", opaque=" + Quote(*opaque_);
    answered_ = true;
    return SecretString(std::move(value));
  }

  bool Reusable() const override { return qop_auth_; }

 private:
  std::string Hash(const std::string& input) const {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned length = 0;
    EVP_Digest(input.data(), input.size(), out, &length, digest_, nullptr);
    return Hex(out, length);
  }

  const core::Credential credential_;
  const std::string fixed_cnonce_;
  const EVP_MD* digest_ = nullptr;
  bool session_ = false;
  bool qop_auth_ = false;
  bool answered_ = false;
  std::string algorithm_, realm_, nonce_, cnonce_;
  std::optional<std::string> opaque_;
  unsigned nonce_count_ = 0;
};

}  // namespace

std::unique_ptr<Mechanism> MakeDigest(const core::Credential& credential,
                                      std::string fixed_cnonce) {
  return std::make_unique<Digest>(credential, std::move(fixed_cnonce));
}

}  // namespace openbits::auth
