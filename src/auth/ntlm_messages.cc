#include "auth/ntlm_messages.h"

#include <openssl/hmac.h>

#include <cstring>

namespace openbits::auth::ntlm {
namespace {

constexpr std::string_view kSignature("NTLMSSP\0", 8);
constexpr std::size_t kAuthenticateHeader = 88;

void Put16(std::string& out, std::uint16_t v) {
  out += static_cast<char>(v & 0xFF);
  out += static_cast<char>(v >> 8);
}
void Put32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void Put64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}
std::uint16_t Get16(std::string_view in, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<std::uint8_t>(in[at]) |
                                    (static_cast<std::uint8_t>(in[at + 1]) << 8));
}
std::uint32_t Get32(std::string_view in, std::size_t at) {
  return static_cast<std::uint32_t>(Get16(in, at)) |
         (static_cast<std::uint32_t>(Get16(in, at + 2)) << 16);
}

// Windows 10 (build 19041), NTLMSSP revision 15.
void PutVersion(std::string& out) {
  out += static_cast<char>(10);
  out += static_cast<char>(0);
  Put16(out, 19041);
  out.append(3, '\0');
  out += static_cast<char>(0x0F);
}

Error Malformed(const std::string& what) {
  return Error(hr::E_INVALIDARG, ErrorContext::kNone, "malformed NTLM CHALLENGE: " + what);
}

// A (length, max length, offset) field of a message, checked against its size.
Result<std::string_view> Field(std::string_view message, std::size_t at) {
  if (at + 8 > message.size()) return Malformed("truncated header");
  const std::uint16_t length = Get16(message, at);
  const std::uint32_t offset = Get32(message, at + 4);
  if (length == 0) return std::string_view();
  if (offset > message.size() || length > message.size() - offset) {
    return Malformed("a field points outside the message");
  }
  return message.substr(offset, length);
}

}  // namespace

std::string EncodeNegotiate(std::uint32_t flags) {
  std::string out(kSignature);
  Put32(out, 1);
  Put32(out, flags | kNegotiateVersion);
  out.append(16, '\0');  // no domain, no workstation
  PutVersion(out);
  return out;
}

Result<std::vector<AvPair>> DecodeAvPairs(std::string_view data) {
  std::vector<AvPair> pairs;
  std::size_t at = 0;
  while (true) {
    if (at + 4 > data.size()) return Malformed("target information without MsvAvEOL");
    const std::uint16_t id = Get16(data, at);
    const std::uint16_t length = Get16(data, at + 2);
    at += 4;
    if (id == kAvEol) return pairs;
    if (length > data.size() - at) return Malformed("an AV pair runs past the target information");
    pairs.push_back({id, std::string(data.substr(at, length))});
    at += length;
  }
}

std::string EncodeAvPairs(const std::vector<AvPair>& pairs) {
  std::string out;
  for (const AvPair& pair : pairs) {
    Put16(out, pair.id);
    Put16(out, static_cast<std::uint16_t>(pair.value.size()));
    out += pair.value;
  }
  Put32(out, 0);  // MsvAvEOL, length 0
  return out;
}

Result<ChallengeMessage> DecodeChallenge(std::string_view message) {
  if (message.size() < 32) return Malformed("shorter than 32 bytes");
  if (message.substr(0, 8) != kSignature) return Malformed("no NTLMSSP signature");
  if (Get32(message, 8) != 2) return Malformed("not a CHALLENGE message");
  ChallengeMessage challenge;
  auto target_name = Field(message, 12);
  if (!target_name) return target_name.error();
  challenge.target_name = std::string(*target_name);
  challenge.flags = Get32(message, 20);
  std::memcpy(challenge.server_challenge.data(), message.data() + 24, 8);
  if ((challenge.flags & kNegotiateTargetInfo) && message.size() >= 48) {
    auto info = Field(message, 40);
    if (!info) return info.error();
    challenge.target_info = std::string(*info);
    if (!challenge.target_info.empty()) {
      auto pairs = DecodeAvPairs(challenge.target_info);
      if (!pairs) return pairs.error();
      challenge.av_pairs = std::move(*pairs);
      for (const AvPair& pair : challenge.av_pairs) {
        if (pair.id == kAvTimestamp && pair.value.size() == 8) {
          std::uint64_t time = 0;
          for (int i = 7; i >= 0; --i)
            time = (time << 8) | static_cast<std::uint8_t>(pair.value[i]);
          challenge.timestamp = time;
        }
      }
    }
  }
  return challenge;
}

std::string EncodeAuthenticate(const AuthenticateFields& fields) {
  std::string out(kSignature);
  Put32(out, 3);
  std::size_t offset = kAuthenticateHeader;
  std::string payload;
  for (const std::string* value : {&fields.lm_response, &fields.nt_response, &fields.domain,
                                   &fields.user, &fields.workstation}) {
    Put16(out, static_cast<std::uint16_t>(value->size()));
    Put16(out, static_cast<std::uint16_t>(value->size()));
    Put32(out, static_cast<std::uint32_t>(offset + payload.size()));
    payload += *value;
  }
  // No EncryptedRandomSessionKey: KEY_EXCH is not negotiated.
  Put16(out, 0);
  Put16(out, 0);
  Put32(out, static_cast<std::uint32_t>(offset + payload.size()));
  Put32(out, fields.flags | kNegotiateVersion);
  PutVersion(out);
  out.append(16, '\0');  // MIC, filled in by the caller when with_mic
  return out + payload;
}

std::string Utf16Le(std::string_view utf8, bool upper) {
  std::string out;
  for (std::size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    std::uint32_t code = 0xFFFD;
    std::size_t length = 1;
    if (c < 0x80) {
      code = c;
    } else if ((c >> 5) == 0x6 && i + 1 < utf8.size()) {
      code = ((c & 0x1F) << 6) | (utf8[i + 1] & 0x3F);
      length = 2;
    } else if ((c >> 4) == 0xE && i + 2 < utf8.size()) {
      code = ((c & 0x0F) << 12) | ((utf8[i + 1] & 0x3F) << 6) | (utf8[i + 2] & 0x3F);
      length = 3;
    } else if ((c >> 3) == 0x1E && i + 3 < utf8.size()) {
      code = ((c & 0x07) << 18) | ((utf8[i + 1] & 0x3F) << 12) | ((utf8[i + 2] & 0x3F) << 6) |
             (utf8[i + 3] & 0x3F);
      length = 4;
    }
    i += length;
    if (upper && code >= 'a' && code <= 'z') code -= 'a' - 'A';
    if (code >= 0x10000) {
      code -= 0x10000;
      Put16(out, static_cast<std::uint16_t>(0xD800 | (code >> 10)));
      Put16(out, static_cast<std::uint16_t>(0xDC00 | (code & 0x3FF)));
    } else {
      Put16(out, static_cast<std::uint16_t>(code));
    }
  }
  return out;
}

// MD4 (RFC 1320): the NT hash needs it, and OpenSSL 3 keeps it only in its legacy provider,
// which would have to be loaded process-wide.
std::string Md4(std::string_view data) {
  std::uint32_t state[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  std::string message(data);
  const std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
  message += static_cast<char>(0x80);
  while (message.size() % 64 != 56) message += '\0';
  Put64(message, bits);
  auto rotl = [](std::uint32_t x, int s) { return (x << s) | (x >> (32 - s)); };
  for (std::size_t block = 0; block < message.size(); block += 64) {
    std::uint32_t x[16];
    for (int i = 0; i < 16; ++i) x[i] = Get32(message, block + 4 * i);
    std::uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    auto f = [](std::uint32_t x1, std::uint32_t y, std::uint32_t z) {
      return (x1 & y) | (~x1 & z);
    };
    auto g = [](std::uint32_t x1, std::uint32_t y, std::uint32_t z) {
      return (x1 & y) | (x1 & z) | (y & z);
    };
    auto h = [](std::uint32_t x1, std::uint32_t y, std::uint32_t z) { return x1 ^ y ^ z; };
    for (int i : {0, 4, 8, 12}) {
      a = rotl(a + f(b, c, d) + x[i], 3);
      d = rotl(d + f(a, b, c) + x[i + 1], 7);
      c = rotl(c + f(d, a, b) + x[i + 2], 11);
      b = rotl(b + f(c, d, a) + x[i + 3], 19);
    }
    for (int i : {0, 1, 2, 3}) {
      a = rotl(a + g(b, c, d) + x[i] + 0x5a827999, 3);
      d = rotl(d + g(a, b, c) + x[i + 4] + 0x5a827999, 5);
      c = rotl(c + g(d, a, b) + x[i + 8] + 0x5a827999, 9);
      b = rotl(b + g(c, d, a) + x[i + 12] + 0x5a827999, 13);
    }
    for (int i : {0, 2, 1, 3}) {
      a = rotl(a + h(b, c, d) + x[i] + 0x6ed9eba1, 3);
      d = rotl(d + h(a, b, c) + x[i + 8] + 0x6ed9eba1, 9);
      c = rotl(c + h(d, a, b) + x[i + 4] + 0x6ed9eba1, 11);
      b = rotl(b + h(c, d, a) + x[i + 12] + 0x6ed9eba1, 15);
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
  }
  std::string digest;
  for (std::uint32_t word : state) Put32(digest, word);
  return digest;
}

std::string HmacMd5(std::string_view key, std::string_view data) {
  unsigned char out[16];
  unsigned length = 0;
  HMAC(EVP_md5(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

std::string NtOwfV2(std::string_view password, std::string_view user, std::string_view domain) {
  std::string unicode_password = Utf16Le(password);
  std::string nt_hash = Md4(unicode_password);
  std::string identity = Utf16Le(user, /*upper=*/true) + Utf16Le(domain);
  std::string owf = HmacMd5(nt_hash, identity);
  std::fill(unicode_password.begin(), unicode_password.end(), '\0');
  std::fill(nt_hash.begin(), nt_hash.end(), '\0');
  return owf;
}

V2Responses ComputeV2(std::string_view nt_owf_v2, const std::array<std::uint8_t, 8>& server,
                      const std::array<std::uint8_t, 8>& client, std::uint64_t timestamp,
                      std::string_view target_info, bool zero_lm) {
  const std::string_view server_challenge(reinterpret_cast<const char*>(server.data()), 8);
  const std::string_view client_challenge(reinterpret_cast<const char*>(client.data()), 8);
  std::string temp;
  temp += '\x01';
  temp += '\x01';
  temp.append(6, '\0');
  Put64(temp, timestamp);
  temp += client_challenge;
  temp.append(4, '\0');
  temp += target_info;
  temp.append(4, '\0');
  V2Responses responses;
  const std::string proof = HmacMd5(nt_owf_v2, std::string(server_challenge) + temp);
  responses.nt_response = proof + temp;
  responses.session_base_key = HmacMd5(nt_owf_v2, proof);
  responses.lm_response =
      zero_lm ? std::string(24, '\0')
              : HmacMd5(nt_owf_v2, std::string(server_challenge) + std::string(client_challenge)) +
                    std::string(client_challenge);
  return responses;
}

}  // namespace openbits::auth::ntlm
