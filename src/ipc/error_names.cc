#include "ipc/error_names.h"

#include "openbits/dbus_names.h"

namespace openbits::ipc {

sdbus::Error ToDbusError(const Error& error) {
  const std::string name =
      HresultName(error.code()).value_or("HRESULT_" + FormatHresult(error.code()));
  const std::string text =
      error.message().empty() ? DescribeHresult(error.code()) : error.message();
  return sdbus::Error(dbus::kErrorPrefix + name, FormatHresult(error.code()) + ": " + text);
}

}  // namespace openbits::ipc
