// The one table from HRESULT to D-Bus error: name org.openbits.bits1.Error.<BG_E_NAME>,
// message "0x%08X: <text>".
#pragma once

#include <sdbus-c++/Error.h>

#include "openbits/result.h"

namespace openbits::ipc {

sdbus::Error ToDbusError(const Error& error);

// Throws the D-Bus form of a failed Result; returns its value otherwise. sdbus-c++ turns
// exceptions thrown from method handlers into error replies.
template <typename T>
T ValueOrThrow(Result<T> result) {
  if (!result) throw ToDbusError(result.error());
  return std::move(result).value();
}
inline void ThrowIfError(const Status& status) {
  if (!status) throw ToDbusError(status.error());
}

}  // namespace openbits::ipc
