// The NTLM codec and computations against [MS-NLMP] 4.2.4 (NTLMv2 example), and the
// mechanism's choice of NTLMv1 or NTLMv2 by lm_compatibility_level, on hand-made CHALLENGEs.
#include <gtest/gtest.h>

#include "auth/challenge.h"
#include "auth/mechanism.h"
#include "auth/ntlm_messages.h"

namespace openbits::auth::ntlm {
namespace {

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out += kDigits[static_cast<unsigned char>(c) >> 4];
    out += kDigits[static_cast<unsigned char>(c) & 15];
  }
  return out;
}

std::uint16_t Get16(std::string_view in, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<std::uint8_t>(in[at]) |
                                    (static_cast<std::uint8_t>(in[at + 1]) << 8));
}

// A CHALLENGE_MESSAGE as a server sends it, with `target_info` (may be empty).
std::string MakeChallenge(const std::string& target_info, std::uint32_t flags) {
  std::string message("NTLMSSP\0", 8);
  auto put16 = [&](std::uint16_t v) {
    message += static_cast<char>(v & 0xFF);
    message += static_cast<char>(v >> 8);
  };
  auto put32 = [&](std::uint32_t v) {
    put16(static_cast<std::uint16_t>(v & 0xFFFF));
    put16(static_cast<std::uint16_t>(v >> 16));
  };
  put32(2);
  put16(0);
  put16(0);
  put32(56);  // target name: none
  put32(flags | (target_info.empty() ? 0 : kNegotiateTargetInfo));
  message += std::string("\x01\x23\x45\x67\x89\xab\xcd\xef", 8);
  message.append(8, '\0');
  put16(static_cast<std::uint16_t>(target_info.size()));
  put16(static_cast<std::uint16_t>(target_info.size()));
  put32(56);
  message.append(8, '\0');  // version
  return message + target_info;
}

TEST(NtlmTest, Md4AndTheNtlmV2ExampleOfTheSpecification) {
  EXPECT_EQ(Hex(Md4("")), "31d6cfe0d16ae931b73c59d7e0c089c0");
  EXPECT_EQ(Hex(Md4("abc")), "a448017aaf21d8525fc10ae87aa6729d");
  // RFC 1320's longest example: more than one 64-byte block.
  EXPECT_EQ(Hex(Md4("1234567890123456789012345678901234567890123456789012345678901234567890"
                    "1234567890")),
            "e33b4ddc9c38f2199c3e7b164fcc0536");
  const std::string owf = NtOwfV2("Password", "User", "Domain");
  EXPECT_EQ(Hex(owf), "0c868a403bfd7a93a3001ef22ef02e3f");
  const std::string info =
      EncodeAvPairs({{kAvNbDomainName, Utf16Le("Domain")}, {kAvNbComputerName, Utf16Le("Server")}});
  const std::array<std::uint8_t, 8> server = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
  std::array<std::uint8_t, 8> client{};
  client.fill(0xaa);
  const V2Responses responses = ComputeV2(owf, server, client, 0, info, false);
  EXPECT_EQ(Hex(responses.nt_response.substr(0, 16)), "68cd0ab851e51c96aabc927bebef6a1c");
  EXPECT_EQ(Hex(responses.session_base_key), "8de40ccadbc14a82f15cb0ad0de95ca3");
  EXPECT_EQ(Hex(responses.lm_response), "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
}

TEST(NtlmTest, NegotiateCarriesTheVersionFieldAndChallengesAreBoundsChecked) {
  const std::string negotiate = EncodeNegotiate(kNegotiateUnicode | kNegotiateNtlm);
  ASSERT_EQ(negotiate.size(), 40u);
  EXPECT_EQ(static_cast<unsigned char>(negotiate[15]) & 0x02, 0x02);  // NEGOTIATE_VERSION
  EXPECT_EQ(static_cast<unsigned char>(negotiate[39]), 0x0F);         // NTLMSSP revision 15
  const std::string info = EncodeAvPairs({{kAvNbDomainName, Utf16Le("TESTDOM")},
                                          {kAvTimestamp, std::string("\x01\0\0\0\0\0\0\0", 8)}});
  auto decoded = DecodeChallenge(MakeChallenge(info, kNegotiateUnicode));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->av_pairs.size(), 2u);
  EXPECT_EQ(decoded->timestamp, 1u);
  EXPECT_FALSE(DecodeChallenge("NTLMSSP"));
  std::string lying = MakeChallenge(info, kNegotiateUnicode);
  lying[40] = '\xff';  // the target info claims to be longer than the message
  EXPECT_FALSE(DecodeChallenge(lying));
  EXPECT_FALSE(DecodeAvPairs(std::string("\x02\x00\x10\x00", 4)));
}

// Runs the mechanism to its AUTHENTICATE for a challenge; returns the NT response length,
// or -1 when it refused.
int NtResponseLength(std::uint32_t level, const std::string& challenge) {
  core::Credential credential;
  credential.scheme = AuthScheme::kNtlm;
  credential.user = SecretString("TESTDOM\\alice");
  credential.password = SecretString("alicepw");
  auto mechanism = MakeNtlm(credential, level);
  const RequestInfo request{"GET", "/", "host", false, "http://host/"};
  EXPECT_TRUE(mechanism->ReadChallenge(ParseChallenges("NTLM")[0]));
  auto negotiate = mechanism->Respond(request);
  EXPECT_TRUE(negotiate && negotiate->reveal().starts_with("NTLM "));
  Challenge answer;
  answer.scheme = "ntlm";
  answer.token68 = Base64Encode(challenge);
  if (!mechanism->ReadChallenge(answer)) return -1;
  auto authenticate = mechanism->Respond(request);
  if (!authenticate) return -1;
  auto message = Base64Decode(authenticate->reveal().substr(5));
  EXPECT_TRUE(message);
  // A second challenge after the AUTHENTICATE is a refusal.
  EXPECT_FALSE(mechanism->ReadChallenge(answer));
  return Get16(*message, 20);  // NtChallengeResponseFields.Len
}

TEST(NtlmTest, TheCompatibilityLevelChoosesTheResponseAndRefusesADowngrade) {
  const std::string info = EncodeAvPairs({{kAvNbDomainName, Utf16Le("TESTDOM")}});
  const std::string modern = MakeChallenge(info, kNegotiateUnicode | kNegotiateNtlm);
  const std::string bare = MakeChallenge("", kNegotiateUnicode | kNegotiateNtlm);
  EXPECT_EQ(NtResponseLength(0, modern), 24);  // LM + NTLMv1
  EXPECT_EQ(NtResponseLength(2, modern), 24);  // NTLMv1 only
  EXPECT_GT(NtResponseLength(3, modern), 24);  // NTLMv2
  EXPECT_GT(NtResponseLength(5, modern), 24);
  EXPECT_EQ(NtResponseLength(1, bare), 24);
  EXPECT_EQ(NtResponseLength(3, bare), -1);  // no target info: no NTLMv2, and no fallback
  EXPECT_EQ(NtResponseLength(5, MakeChallenge(info, kNegotiateOem)), -1);
}

}  // namespace
}  // namespace openbits::auth::ntlm
