// The one translation table from libcurl results and HTTP error statuses to BITS HRESULTs,
// error contexts and messages that name the cause.
#pragma once

#include <curl/curl.h>

#include <string>
#include <string_view>

#include "openbits/result.h"

namespace openbits::transfer {

// A failed transfer as BITS reports it: WinHTTP-style transport codes with context
// REMOTE_FILE (as BITS reports connection failures), TLS trust failures, timeouts.
Error CurlError(CURLcode code, const char* detail, const std::string& redacted_url);
// The same, with the system error of the failed connection (CURLINFO_OS_ERRNO: refused,
// unreachable, reset) when libcurl kept one.
Error CurlError(CURL* curl, CURLcode code, const char* detail, const std::string& redacted_url);

// An HTTP error status (BG_E_HTTP_ERROR_nnn, REMOTE_FILE): which server answered which status,
// and the Retry-After it asked for, if any.
Error HttpStatusError(long status, std::string_view retry_after, const std::string& redacted_url);

// "Not Found" for 404; empty for a status without a standard reason phrase.
std::string_view HttpReasonPhrase(long status);

}  // namespace openbits::transfer
