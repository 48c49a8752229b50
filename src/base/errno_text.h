// How an errno reads in a message: "Read-only file system (EROFS)", the text and the name an
// operator can look up.
#pragma once

#include <cstring>
#include <string>

namespace openbits {

inline std::string ErrnoText(int error_number) {
  const char* name = strerrorname_np(error_number);
  return std::string(std::strerror(error_number)) + " (" +
         (name ? std::string(name) : "errno " + std::to_string(error_number)) + ")";
}

}  // namespace openbits
