#include "auth/challenge.h"

#include "base/text.h"

#include <cctype>

namespace openbits::auth {
namespace {

using text::Lower;

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A cursor over one header value.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}
  bool done() const { return pos_ >= text_.size(); }
  char peek() const { return done() ? '\0' : text_[pos_]; }
  void SkipSpace() {
    while (!done() && (peek() == ' ' || peek() == '\t')) ++pos_;
  }
  // Skips spaces and commas (empty list elements are allowed, RFC 9110 5.6.1).
  void SkipSeparators() {
    while (!done() && (peek() == ' ' || peek() == '\t' || peek() == ',')) ++pos_;
  }
  std::string_view Token() {
    const std::size_t start = pos_;
    while (!done() && IsTokenChar(peek())) ++pos_;
    return text_.substr(start, pos_ - start);
  }
  // token68: token characters plus '/', '+', '-', '.', '_', '~' and trailing '='.
  std::string_view Token68() {
    const std::size_t start = pos_;
    while (!done() && (std::isalnum(static_cast<unsigned char>(peek())) ||
                       std::string_view("-._~+/").find(peek()) != std::string_view::npos)) {
      ++pos_;
    }
    while (!done() && peek() == '=') ++pos_;
    return text_.substr(start, pos_ - start);
  }
  std::optional<std::string> QuotedString() {
    if (peek() != '"') return std::nullopt;
    ++pos_;
    std::string value;
    while (!done()) {
      char c = text_[pos_++];
      if (c == '"') return value;
      if (c == '\\' && !done()) c = text_[pos_++];
      value += c;
    }
    return std::nullopt;  // unterminated
  }
  std::size_t pos() const { return pos_; }
  void Seek(std::size_t pos) { pos_ = pos; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// After a scheme name: is what follows an auth-param ("name = value") rather than a token68
// ("abc==", whose padding also starts with '=') or the next challenge?
bool AtAuthParam(Reader& reader) {
  const std::size_t start = reader.pos();
  bool is_param = false;
  if (!reader.Token().empty()) {
    reader.SkipSpace();
    if (reader.peek() == '=') {
      reader.Seek(reader.pos() + 1);
      reader.SkipSpace();
      // A parameter has a value; padding is followed by more '=', a comma or the end.
      is_param = !reader.done() && reader.peek() != '=' && reader.peek() != ',';
    }
  }
  reader.Seek(start);
  return is_param;
}

}  // namespace

std::optional<std::string> Challenge::Param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return std::nullopt;
}

std::vector<Challenge> ParseChallenges(std::string_view header_value) {
  std::vector<Challenge> challenges;
  Reader reader(header_value);
  reader.SkipSeparators();
  while (!reader.done()) {
    const std::string_view scheme = reader.Token();
    if (scheme.empty()) break;  // garbage: keep what was read so far
    Challenge challenge;
    challenge.scheme = Lower(scheme);
    reader.SkipSpace();
    if (!reader.done() && reader.peek() != ',' && !AtAuthParam(reader)) {
      challenge.token68 = std::string(reader.Token68());
      reader.SkipSpace();
    } else {
      // auth-params, until the next challenge (a token not followed by '=').
      while (AtAuthParam(reader)) {
        std::string name = Lower(reader.Token());
        reader.SkipSpace();
        reader.Seek(reader.pos() + 1);  // '='
        reader.SkipSpace();
        std::string value;
        if (reader.peek() == '"') {
          auto quoted = reader.QuotedString();
          if (!quoted) {
            challenges.push_back(std::move(challenge));
            return challenges;  // unterminated quote: the rest is unreadable
          }
          value = std::move(*quoted);
        } else {
          value = std::string(reader.Token());
        }
        challenge.params.emplace_back(std::move(name), std::move(value));
        const std::size_t after = reader.pos();
        reader.SkipSeparators();
        if (!AtAuthParam(reader)) {
          reader.Seek(after);
          break;
        }
      }
    }
    challenges.push_back(std::move(challenge));
    const std::size_t before = reader.pos();
    reader.SkipSeparators();
    if (reader.pos() == before && !reader.done()) break;  // not a separator: stop
  }
  return challenges;
}

std::vector<std::string_view> HeaderValues(std::string_view raw_headers,
                                           std::string_view header_name) {
  std::vector<std::string_view> values;
  const std::string wanted = Lower(header_name);
  std::size_t start = 0;
  while (start < raw_headers.size()) {
    std::size_t end = raw_headers.find('\n', start);
    if (end == std::string_view::npos) end = raw_headers.size();
    std::string_view line = raw_headers.substr(start, end - start);
    start = end + 1;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || Lower(line.substr(0, colon)) != wanted) continue;
    values.push_back(text::Trim(line.substr(colon + 1)));
  }
  return values;
}

std::vector<Challenge> ChallengesFromHeaders(std::string_view raw_headers,
                                             std::string_view header_name) {
  std::vector<Challenge> challenges;
  for (std::string_view value : HeaderValues(raw_headers, header_name)) {
    for (Challenge& challenge : ParseChallenges(value)) challenges.push_back(std::move(challenge));
  }
  return challenges;
}

std::string Base64Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < bytes.size()) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

}  // namespace openbits::auth
