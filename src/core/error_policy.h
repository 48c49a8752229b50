// Which errors BITS retries (TRANSIENT_ERROR) and which stop the job (ERROR),
// bits-reference.md 3.2 and DESIGN.md 6.
#pragma once

#include "openbits/hresult.h"

namespace openbits::core {

// HTTP: 4xx fatal except 408/409; 5xx transient except 501/505; 3xx reaching us (redirect
// loops) transient except 300-305 and 307. Transport failures (DNS, connect, reset, timeout,
// truncation) and a full disk are transient; everything else is fatal.
bool IsTransientError(HRESULT code);

}  // namespace openbits::core
