// NTLM ([MS-NLMP]) with our own message codec (ntlm_messages.h): NEGOTIATE with the Version
// field, CHALLENGE, AUTHENTICATE. lm_compatibility_level 3-5 (the default is 3) send NTLMv2
// only, with a MIC when the server sent a timestamp, and refuse a challenge that cannot carry
// NTLMv2 (no target information) instead of falling back; 0-2 send the LM and NTLMv1
// responses of libntlm (2: the NTLM response in both fields). The three legs must run on one
// connection; the transport keeps it by reading the 401 bodies to their end.
#include <ntlm.h>
#include <openssl/rand.h>
#include <string.h>

#include <ctime>

#include "auth/mechanism.h"
#include "auth/ntlm_messages.h"
#include "identity/user_file.h"

namespace openbits::auth {
namespace {

using namespace ntlm;

constexpr std::uint32_t kV2Flags = kNegotiateUnicode | kNegotiateOem | kRequestTarget |
                                   kNegotiateNtlm | kNegotiateAlwaysSign |
                                   kExtendedSessionSecurity | kNegotiate128 | kNegotiate56;
// NTLMv1 through libntlm knows no NTLM2 session response: no extended session security.
constexpr std::uint32_t kV1Flags = kV2Flags & ~kExtendedSessionSecurity;

// Seconds between 1601-01-01 and 1970-01-01, for FILETIME.
constexpr std::uint64_t kEpochDelta = 11'644'473'600;

class Ntlm : public Mechanism {
 public:
  Ntlm(const core::Credential& credential, std::uint32_t lm_compatibility_level)
      : credential_(credential), level_(lm_compatibility_level) {
    const std::string_view name = credential.user.reveal();
    if (const auto slash = name.find('\\'); slash != std::string_view::npos) {
      domain_ = std::string(name.substr(0, slash));
      user_ = std::string(name.substr(slash + 1));
    } else {
      user_ = std::string(name);  // a UPN (user@domain) goes as it is, with no domain
    }
  }
  AuthScheme scheme() const override { return AuthScheme::kNtlm; }

  Status ReadChallenge(const Challenge& challenge) override {
    switch (state_) {
      case State::kStart:
        return Ok();
      case State::kNegotiateSent: {
        if (challenge.token68.empty()) {
          return Error(hr::E_ACCESSDENIED, ErrorContext::kNone,
                       "the server answered the NTLM NEGOTIATE without a CHALLENGE");
        }
        auto raw = Base64Decode(challenge.token68);
        if (!raw)
          return Error(hr::E_INVALIDARG, ErrorContext::kNone, "the NTLM token is not base64");
        auto decoded = DecodeChallenge(*raw);
        if (!decoded) return decoded.error();
        challenge_ = std::move(*decoded);
        raw_challenge_ = std::move(*raw);
        state_ = State::kChallengeReceived;
        return Ok();
      }
      default:
        return Error(hr::E_ACCESSDENIED, ErrorContext::kNone, "the password was refused");
    }
  }

  Result<SecretString> Respond(const RequestInfo&) override {
    if (state_ == State::kStart) {
      negotiate_ = EncodeNegotiate(level_ >= 3 ? kV2Flags : kV1Flags);
      state_ = State::kNegotiateSent;
      return SecretString("NTLM " + Base64Encode(negotiate_));
    }
    if (state_ != State::kChallengeReceived) {
      return Error(hr::E_FAIL, ErrorContext::kNone, "no NTLM CHALLENGE to answer");
    }
    auto message = level_ >= 3 ? AuthenticateV2() : AuthenticateV1();
    if (!message) return message.error();
    state_ = State::kAuthenticateSent;
    std::string encoded = Base64Encode(*message);
    SecretString value("NTLM " + encoded);
    explicit_bzero(encoded.data(), encoded.size());
    return value;
  }

 private:
  enum class State { kStart, kNegotiateSent, kChallengeReceived, kAuthenticateSent };

  // The domain of the account: the one the user named, else the server's.
  std::string Domain() const {
    if (!domain_.empty() || user_.find('@') != std::string::npos) return domain_;
    for (const AvPair& pair : challenge_.av_pairs) {
      if (pair.id == kAvNbDomainName) return FromUtf16(pair.value);
    }
    return "";
  }

  static std::string FromUtf16(std::string_view utf16) {
    std::string out;  // NetBIOS names are ASCII
    for (std::size_t i = 0; i + 1 < utf16.size(); i += 2) out += utf16[i];
    return out;
  }

  Status CheckUnicode() const {
    if (!(challenge_.flags & kNegotiateUnicode)) {
      return Error(hr::E_NOTIMPL, ErrorContext::kNone,
                   "the NTLM server wants OEM strings; only Unicode is supported");
    }
    return Ok();
  }

  Result<std::string> AuthenticateV2() {
    OPENBITS_RETURN_IF_ERROR(CheckUnicode());
    if (challenge_.target_info.empty()) {
      return Error(hr::E_ACCESSDENIED, ErrorContext::kNone,
                   "the NTLM CHALLENGE carries no target information, so NTLMv2 is impossible, "
                   "and lm_compatibility_level " +
                       std::to_string(level_) + " refuses the fallback to NTLMv1");
    }
    std::array<std::uint8_t, 8> client{};
    if (RAND_bytes(client.data(), static_cast<int>(client.size())) != 1) {
      return Error(hr::E_FAIL, ErrorContext::kNone, "no random bytes for the NTLM challenge");
    }
    const bool with_mic = challenge_.timestamp.has_value();
    std::vector<AvPair> pairs = challenge_.av_pairs;
    if (with_mic) {
      // MsvAvFlags: a MIC follows ([MS-NLMP] 3.1.5.1.2).
      bool found = false;
      for (AvPair& pair : pairs) {
        if (pair.id == kAvFlags && pair.value.size() == 4) {
          pair.value[0] = static_cast<char>(pair.value[0] | kAvFlagMicPresent);
          found = true;
        }
      }
      if (!found) pairs.push_back({kAvFlags, std::string("\x02\x00\x00\x00", 4)});
    }
    const std::uint64_t now =
        (static_cast<std::uint64_t>(std::time(nullptr)) + kEpochDelta) * 10'000'000;
    const std::string domain = Domain();
    std::string owf = NtOwfV2(credential_.password.reveal(), user_, domain);
    V2Responses responses = ComputeV2(owf, challenge_.server_challenge, client,
                                      challenge_.timestamp.value_or(now), EncodeAvPairs(pairs),
                                      /*zero_lm=*/with_mic);
    explicit_bzero(owf.data(), owf.size());
    AuthenticateFields fields;
    fields.lm_response = responses.lm_response;
    fields.nt_response = responses.nt_response;
    fields.domain = Utf16Le(domain);
    fields.user = Utf16Le(user_);
    fields.flags = challenge_.flags & kV2Flags;
    fields.with_mic = with_mic;
    std::string message = EncodeAuthenticate(fields);
    if (with_mic) {
      // Without KEY_EXCH the exported session key is the session base key.
      const std::string mic =
          HmacMd5(responses.session_base_key, negotiate_ + raw_challenge_ + message);
      message.replace(kMicOffset, mic.size(), mic);
    }
    explicit_bzero(responses.session_base_key.data(), responses.session_base_key.size());
    return message;
  }

  Result<std::string> AuthenticateV1() {
    OPENBITS_RETURN_IF_ERROR(CheckUnicode());
    std::string password(credential_.password.reveal());  // NUL-terminated for libntlm
    std::string lm(24, '\0'), nt(24, '\0');
    ntlm_smb_nt_encrypt(password.c_str(), challenge_.server_challenge.data(),
                        reinterpret_cast<uint8*>(nt.data()));
    if (level_ <= 1) {
      ntlm_smb_encrypt(password.c_str(), challenge_.server_challenge.data(),
                       reinterpret_cast<uint8*>(lm.data()));
    } else {
      lm = nt;  // level 2: NTLM response only, in both fields
    }
    explicit_bzero(password.data(), password.size());
    AuthenticateFields fields;
    fields.lm_response = lm;
    fields.nt_response = nt;
    fields.domain = Utf16Le(Domain());
    fields.user = Utf16Le(user_);
    fields.flags = challenge_.flags & kV1Flags;
    return EncodeAuthenticate(fields);
  }

  const core::Credential credential_;
  const std::uint32_t level_;
  std::string user_, domain_;
  State state_ = State::kStart;
  std::string negotiate_, raw_challenge_;
  ChallengeMessage challenge_;
};

}  // namespace

Result<core::Credential> NtlmCredentialFromUserFile(const std::string& path,
                                                    const core::FileOwner& owner) {
  auto refuse = [&](const std::string& why) {
    return Error(hr::E_ACCESSDENIED, ErrorContext::kNone,
                 "the NTLM user file '" + path + "' " + why);
  };
  identity::UserFileRules rules;
  rules.what = "the NTLM user file";
  rules.forbidden_mode = 077;  // it holds passwords
  rules.mode_rule = "readable by it alone";
  rules.max_bytes = 65536;
  auto file = identity::ReadUserFile(owner, path, rules);
  if (!file) return file.error();
  const std::string_view text = file->bytes.reveal();
  core::Credential credential;
  credential.scheme = AuthScheme::kNtlm;
  std::size_t start = 0;
  while (start < text.size() && credential.user.empty()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    // DOMAIN:USER:PASSWORD (gss-ntlmssp's format); the password may hold colons.
    const auto first = line.find(':');
    const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    const std::string_view domain = line.substr(0, first);
    const std::string_view user = line.substr(first + 1, second - first - 1);
    credential.user =
        SecretString((domain.empty() ? "" : std::string(domain) + "\\") + std::string(user));
    credential.password = SecretString(std::string(line.substr(second + 1)));
  }
  if (credential.user.empty()) return refuse("holds no DOMAIN:USER:PASSWORD line");
  return credential;
}

std::unique_ptr<Mechanism> MakeNtlm(const core::Credential& credential,
                                    std::uint32_t lm_compatibility_level) {
  return std::make_unique<Ntlm>(credential, lm_compatibility_level);
}

}  // namespace openbits::auth
