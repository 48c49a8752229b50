// The one translation table from libcurl results to BITS HRESULTs and error contexts.
#pragma once

#include <curl/curl.h>

#include "openbits/result.h"

namespace openbits::transfer {

// A failed transfer as BITS reports it: WinHTTP-style transport codes with context
// REMOTE_FILE (as BITS reports connection failures), TLS trust failures, timeouts.
Error CurlError(CURLcode code, const char* detail, const std::string& redacted_url);

}  // namespace openbits::transfer
