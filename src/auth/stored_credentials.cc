#include "auth/stored_credentials.h"

#include <string_view>

#include "identity/user_file.h"
#include "openbits/hresult.h"

namespace openbits::auth {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Walks the whitespace-separated tokens of a netrc (views into the secret bytes: no copies).
class Tokens {
 public:
  explicit Tokens(std::string_view text) : text_(text) {}
  std::string_view Next() {
    while (at_ < text_.size() && IsSpace(text_[at_])) ++at_;
    const std::size_t start = at_;
    while (at_ < text_.size() && !IsSpace(text_[at_])) ++at_;
    return text_.substr(start, at_ - start);
  }
  // A macdef's body runs to the next empty line.
  void SkipMacro() {
    const std::size_t end = text_.find("\n\n", at_);
    at_ = end == std::string_view::npos ? text_.size() : end + 2;
  }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
};

}  // namespace

Result<core::Credential> StoredCredentialFor(const std::string& path, const core::FileOwner& owner,
                                             const std::string& host, AuthTarget target,
                                             AuthScheme scheme) {
  identity::UserFileRules rules;
  rules.what = "the stored credentials file";
  rules.forbidden_mode = 077;  // it holds passwords: like ssh, refuse what others may read
  rules.mode_rule = "readable by it alone";
  rules.max_bytes = 65536;
  auto file = identity::ReadUserFile(owner, path, rules);
  if (!file) return file.error();
  Tokens tokens(file->bytes.reveal());
  bool in_entry = false;  // inside the "machine `host`" entry
  core::Credential credential;
  credential.target = target;
  credential.scheme = scheme;
  bool found = false;
  for (std::string_view token = tokens.Next(); !token.empty(); token = tokens.Next()) {
    if (token == "machine" || token == "default") {
      if (found) break;  // the entry is over
      in_entry = token == "machine" && tokens.Next() == host;
      found = in_entry;
    } else if (token == "login" || token == "password" || token == "account") {
      const std::string_view value = tokens.Next();
      if (!in_entry) continue;
      if (token == "login") credential.user = SecretString(std::string(value));
      if (token == "password") credential.password = SecretString(std::string(value));
    } else if (token == "macdef") {
      tokens.Next();
      tokens.SkipMacro();
    }
  }
  if (!found || credential.user.empty()) {
    return Error(hr::E_ACCESSDENIED, ErrorContext::kNone,
                 "the stored credentials file '" + path + "' has no \"machine " + host +
                     " login ...\" entry");
  }
  return credential;
}

}  // namespace openbits::auth
