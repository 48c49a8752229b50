// What a server or a proxy may make bitsd hold or read (docs/security.md, "Caps"). Each cap
// bounds memory or work per request; an answer over a cap is refused with an error that
// names it, never truncated silently.
#pragma once

#include <cstddef>

namespace openbits::transfer {

// The header block of one response (status line included), as Chrome caps it. Over it:
// BG_E_INVALID_SERVER_RESPONSE. libcurl's own caps are above it (300 KiB for the block).
inline constexpr std::size_t kMaxResponseHeaderBytes = 256 * 1024;
// One header line: libcurl refuses longer ones itself (CURL_MAX_HTTP_HEADER), before bitsd
// sees them; the transport reports it as BG_E_INVALID_SERVER_RESPONSE naming this cap.
inline constexpr std::size_t kMaxHeaderLineBytes = 100 * 1024;
// The body of a 401 or a 407 (an error page nobody reads): drained up to this many bytes
// so that the connection can carry the next authentication leg; past it the connection is
// closed and the next leg opens another one.
inline constexpr std::size_t kMaxChallengeBodyBytes = 1024 * 1024;
// A PAC file, and the body of a Passport side request.
inline constexpr std::size_t kMaxSideBodyBytes = 1024 * 1024;

}  // namespace openbits::transfer
