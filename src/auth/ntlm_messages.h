// The NTLM message codec ([MS-NLMP] 2.2) and the NTLMv2 computations (3.3.2), kept apart from
// the mechanism (ntlm.cc) so that both are tested against the specification's examples and
// fuzzed. Messages are byte strings; decoders check every offset against the message size.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "openbits/result.h"

namespace openbits::auth::ntlm {

// NEGOTIATE flags ([MS-NLMP] 2.2.2.5).
inline constexpr std::uint32_t kNegotiateUnicode = 0x00000001;
inline constexpr std::uint32_t kNegotiateOem = 0x00000002;
inline constexpr std::uint32_t kRequestTarget = 0x00000004;
inline constexpr std::uint32_t kNegotiateNtlm = 0x00000200;
inline constexpr std::uint32_t kNegotiateAlwaysSign = 0x00008000;
inline constexpr std::uint32_t kExtendedSessionSecurity = 0x00080000;
inline constexpr std::uint32_t kNegotiateTargetInfo = 0x00800000;
inline constexpr std::uint32_t kNegotiateVersion = 0x02000000;
inline constexpr std::uint32_t kNegotiate128 = 0x20000000;
inline constexpr std::uint32_t kNegotiate56 = 0x80000000;

// AV pair ids (2.2.2.1).
inline constexpr std::uint16_t kAvEol = 0;
inline constexpr std::uint16_t kAvNbComputerName = 1;
inline constexpr std::uint16_t kAvNbDomainName = 2;
inline constexpr std::uint16_t kAvFlags = 6;
inline constexpr std::uint16_t kAvTimestamp = 7;
inline constexpr std::uint32_t kAvFlagMicPresent = 0x2;

// Where the MIC sits in an AUTHENTICATE message with a Version field.
inline constexpr std::size_t kMicOffset = 72;

struct AvPair {
  std::uint16_t id = 0;
  std::string value;
};

struct ChallengeMessage {
  std::uint32_t flags = 0;
  std::array<std::uint8_t, 8> server_challenge{};
  std::string target_name;  // as sent (UTF-16LE when Unicode was negotiated)
  std::string target_info;  // the raw AV pairs, empty when the server sent none
  std::vector<AvPair> av_pairs;
  std::optional<std::uint64_t> timestamp;  // MsvAvTimestamp (FILETIME)
};

struct AuthenticateFields {
  std::string lm_response;
  std::string nt_response;
  std::string domain;       // UTF-16LE
  std::string user;         // UTF-16LE
  std::string workstation;  // UTF-16LE
  std::uint32_t flags = 0;
  bool with_mic = false;  // reserve the MIC (zeros; the caller computes and places it)
};

// The 40-byte NEGOTIATE_MESSAGE with a Version field, as Windows sends it (gss-ntlmssp
// 1.2 rejects the 32-byte form that libcurl sends).
std::string EncodeNegotiate(std::uint32_t flags);
Result<ChallengeMessage> DecodeChallenge(std::string_view message);
Result<std::vector<AvPair>> DecodeAvPairs(std::string_view data);
// The pairs followed by MsvAvEOL.
std::string EncodeAvPairs(const std::vector<AvPair>& pairs);
std::string EncodeAuthenticate(const AuthenticateFields& fields);

// UTF-8 to UTF-16LE (invalid sequences become U+FFFD); `upper` folds ASCII letters.
std::string Utf16Le(std::string_view utf8, bool upper = false);

std::string Md4(std::string_view data);
std::string HmacMd5(std::string_view key, std::string_view data);
// NTOWFv2 (3.3.2): HMAC_MD5(MD4(UTF16LE(password)), UTF16LE(UPPER(user) + domain)).
std::string NtOwfV2(std::string_view password, std::string_view user, std::string_view domain);

struct V2Responses {
  std::string nt_response;  // NTProofStr || temp
  std::string lm_response;  // LMv2, or 24 zero bytes when the server sent a timestamp
  std::string session_base_key;
};
// NTLMv2 and LMv2 responses for `target_info` (the AV pairs as they go into the blob).
V2Responses ComputeV2(std::string_view nt_owf_v2, const std::array<std::uint8_t, 8>& server,
                      const std::array<std::uint8_t, 8>& client, std::uint64_t timestamp,
                      std::string_view target_info, bool zero_lm);

}  // namespace openbits::auth::ntlm
