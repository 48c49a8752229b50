#include "core/error_policy.h"

namespace openbits::core {

bool IsTransientError(HRESULT code) {
  if (code >= hr::kHttpErrorBase && code <= hr::kHttpErrorBase + 999) {
    const int status = static_cast<int>(code - hr::kHttpErrorBase);
    if (status >= 300 && status < 400) return !(status <= 305 || status == 307);
    if (status >= 400 && status < 500) return status == 408 || status == 409;
    if (status >= 500 && status < 600) return status != 501 && status != 505;
    return true;
  }
  switch (code) {
    case hr::WINHTTP_TIMEOUT:
    case hr::WINHTTP_NAME_NOT_RESOLVED:
    case hr::WINHTTP_CANNOT_CONNECT:
    case hr::WINHTTP_CONNECTION_ERROR:
    case hr::WINHTTP_INVALID_SERVER_RESPONSE:
    case hr::BG_E_NETWORK_DISCONNECTED:
    case hr::BG_E_CONNECT_FAILURE:
    case hr::BG_E_CONNECTION_CLOSED:
    case hr::ERROR_DISK_FULL:
      return true;
    default:
      return false;
  }
}

}  // namespace openbits::core
