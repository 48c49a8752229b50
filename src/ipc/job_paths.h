// The object paths of the job subtree: /org/openbits/bits1/job/<the GUID's 32 hex digits>.
#pragma once

#include <optional>
#include <string_view>

#include "openbits/dbus_names.h"
#include "openbits/guid.h"

namespace openbits::ipc {

// The parent of every job path.
inline constexpr std::string_view kJobSubtree = "/org/openbits/bits1/job";

// The job `path` names, or nullopt if no job can live there (not under the subtree, not a
// GUID, or not the GUID's own spelling, so that each job has exactly one path).
inline std::optional<Guid> JobIdOfPath(std::string_view path) {
  const std::string_view prefix = dbus::kJobPathPrefix;
  if (!path.starts_with(prefix)) return std::nullopt;
  const std::string_view hex = path.substr(prefix.size());
  const auto id = Guid::Parse(hex);
  if (!id || id->ToHex() != hex) return std::nullopt;
  return id;
}

}  // namespace openbits::ipc
