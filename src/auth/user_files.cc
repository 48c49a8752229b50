#include "auth/user_files.h"

#include <pwd.h>

#include <vector>

#include "openbits/hresult.h"

namespace openbits::auth {
namespace {

void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

}  // namespace

Result<std::string> ExpandUserPath(const std::string& pattern, std::uint32_t uid) {
  std::string path = pattern;
  ReplaceAll(path, "%{uid}", std::to_string(uid));
  if (path.find("%{home}") == std::string::npos) return path;
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) != 0 || !found ||
      !found->pw_dir || found->pw_dir[0] != '/') {
    return Error(hr::E_ACCESSDENIED, ErrorContext::kNone,
                 "uid " + std::to_string(uid) + " has no home directory for '" + pattern + "'");
  }
  ReplaceAll(path, "%{home}", found->pw_dir);
  return path;
}

}  // namespace openbits::auth
