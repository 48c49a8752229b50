// ASCII text helpers for protocol tokens (header names, schemes, host names): one place, so
// that every parser of untrusted input folds case and trims the same way.
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

}  // namespace openbits::text
