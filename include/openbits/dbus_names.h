// The names of the OpenBITS D-Bus API (idl/*.xml is the definition; DESIGN.md 4).
#pragma once

#include <string>

#include "openbits/guid.h"

namespace openbits::dbus {

inline constexpr const char* kBusName = "org.openbits.bits1";
inline constexpr const char* kManagerPath = "/org/openbits/bits1";
inline constexpr const char* kJobPathPrefix = "/org/openbits/bits1/job/";
inline constexpr const char* kManagerInterface = "org.openbits.bits1.Manager";
inline constexpr const char* kJobInterface = "org.openbits.bits1.Job";
// Error names are kErrorPrefix + the code's symbolic name ("BG_E_NOT_FOUND"); the error
// message starts with the HRESULT as "0x%08X: ".
inline constexpr const char* kErrorPrefix = "org.openbits.bits1.Error.";

inline std::string JobPath(const Guid& id) { return kJobPathPrefix + id.ToHex(); }

}  // namespace openbits::dbus
