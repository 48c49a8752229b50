// Basic (RFC 7617): "user:password" in base64, once per request. Only over https unless
// [auth] allow_basic_over_http (Authenticator enforces it).
#include <string.h>

#include "auth/mechanism.h"

namespace openbits::auth {
namespace {

class Basic : public Mechanism {
 public:
  explicit Basic(const core::Credential& credential) : credential_(credential) {}
  AuthScheme scheme() const override { return AuthScheme::kBasic; }
  Status ReadChallenge(const Challenge&) override {
    if (answered_)
      return Error(hr::E_ACCESSDENIED, ErrorContext::kNone, "the password was refused");
    return Ok();
  }
  Result<SecretString> Respond(const RequestInfo&) override {
    std::string pair;
    pair.reserve(credential_.user.size() + 1 + credential_.password.size());
    pair.append(credential_.user.reveal()).append(":").append(credential_.password.reveal());
    std::string encoded = Base64Encode(pair);
    SecretString value("Basic " + encoded);
    explicit_bzero(pair.data(), pair.size());
    explicit_bzero(encoded.data(), encoded.size());
    answered_ = true;
    return value;
  }
  bool Reusable() const override { return true; }

 private:
  const core::Credential credential_;
  bool answered_ = false;
};

}  // namespace

std::unique_ptr<Mechanism> MakeBasic(const core::Credential& credential) {
  return std::make_unique<Basic>(credential);
}

}  // namespace openbits::auth
