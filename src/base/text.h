// ASCII text helpers for protocol tokens (header names, schemes, host names): one place, so
// that every parser of untrusted input folds case and trims the same way. And the one escaper
// for text that reaches a log line or a terminal.
#pragma once

#include <string>
#include <string_view>

namespace openbits::text {

// ASCII lower case; other bytes as they are.
std::string Lower(std::string_view text);
// Without leading and trailing white space (space, tab, CR, LF, VT, FF).
std::string_view Trim(std::string_view text);
// Case-insensitive (ASCII) prefix test.
bool StartsWithNoCase(std::string_view text, std::string_view prefix);

// One step of UTF-8 decoding: the code point at text[at] and its length in bytes. A byte that
// does not start a well-formed, shortest-form sequence (or a surrogate, or beyond U+10FFFF)
// decodes as kNotUtf8 with length 1.
inline constexpr char32_t kNotUtf8 = 0xFFFFFFFF;
struct CodePoint {
  char32_t value;
  std::size_t length;
};
CodePoint DecodeUtf8(std::string_view text, std::size_t at);

// Whether a terminal or a log reader would act on `c` rather than show it: C0 controls, DEL,
// C1 controls (U+0080..U+009F, CSI among them), the Unicode line and paragraph separators,
// and the bidirectional embedding, override and isolate controls ("Trojan Source").
bool IsControl(char32_t c);

// `text` made safe for a log line or a terminal: every control character (IsControl) and
// every byte that is not UTF-8 becomes a visible escape (\t \n \r, \xNN for other bytes
// below 0x80 and for non-UTF-8 bytes, \uNNNN for the others); printable ASCII, backslashes
// and valid UTF-8 text pass unchanged. Characters in `keep` (e.g. "\n\t" for multi-line
// output whose layout is our own) pass too.
std::string Printable(std::string_view text, std::string_view keep = {});

}  // namespace openbits::text
