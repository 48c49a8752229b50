// HRESULT codes and error contexts of BITS, as OpenBITS reports them.
//
// Values are Microsoft's (bitsmsg.h, winerror.h, winhttp.h) so that scripts and people
// who know BITS can search for them. HTTP status n maps to 0x80190000 + n.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace openbits {

using HRESULT = std::uint32_t;

constexpr bool Succeeded(HRESULT hr) { return (hr & 0x80000000u) == 0; }
constexpr bool Failed(HRESULT hr) { return !Succeeded(hr); }

namespace hr {
// Generic COM codes.
inline constexpr HRESULT S_OK = 0x00000000;
inline constexpr HRESULT S_FALSE = 0x00000001;
inline constexpr HRESULT E_NOTIMPL = 0x80004001;
inline constexpr HRESULT E_FAIL = 0x80004005;
inline constexpr HRESULT E_ACCESSDENIED = 0x80070005;
inline constexpr HRESULT E_OUTOFMEMORY = 0x8007000E;
inline constexpr HRESULT E_INVALIDARG = 0x80070057;
// HRESULT_FROM_WIN32 codes.
inline constexpr HRESULT ERROR_FILE_NOT_FOUND = 0x80070002;
inline constexpr HRESULT ERROR_PATH_NOT_FOUND = 0x80070003;
inline constexpr HRESULT ERROR_FILE_EXISTS = 0x80070050;
inline constexpr HRESULT ERROR_DISK_FULL = 0x80070070;
inline constexpr HRESULT ERROR_NOT_LOGGED_ON = 0x800704DD;
// WinHTTP transport codes (HRESULT_FROM_WIN32(ERROR_WINHTTP_*)).
inline constexpr HRESULT WINHTTP_TIMEOUT = 0x80072EE2;
inline constexpr HRESULT WINHTTP_INTERNAL_ERROR = 0x80072EE4;
inline constexpr HRESULT WINHTTP_UNRECOGNIZED_SCHEME = 0x80072EE6;
inline constexpr HRESULT WINHTTP_NAME_NOT_RESOLVED = 0x80072EE7;
inline constexpr HRESULT WINHTTP_CANNOT_CONNECT = 0x80072EFD;
inline constexpr HRESULT WINHTTP_CONNECTION_ERROR = 0x80072EFE;
inline constexpr HRESULT WINHTTP_REDIRECT_FAILED = 0x80072F7A;
inline constexpr HRESULT WINHTTP_INVALID_SERVER_RESPONSE = 0x80072F78;
inline constexpr HRESULT WINHTTP_CLIENT_AUTH_CERT_NEEDED = 0x80072F0C;
inline constexpr HRESULT WINHTTP_SECURE_FAILURE = 0x80072F8F;
inline constexpr HRESULT WINHTTP_SECURE_CERT_DATE_INVALID = 0x80072F05;
inline constexpr HRESULT WINHTTP_SECURE_CERT_CN_INVALID = 0x80072F06;
inline constexpr HRESULT WINHTTP_SECURE_INVALID_CA = 0x80072F0D;
inline constexpr HRESULT WINHTTP_SECURE_CERT_REV_FAILED = 0x80072F19;
inline constexpr HRESULT WINHTTP_SECURE_CERT_REVOKED = 0x80072F8A;
inline constexpr HRESULT WINHTTP_SECURE_CERT_WRONG_USAGE = 0x80072F93;
inline constexpr HRESULT CRYPT_E_NOT_FOUND = 0x80092004;
// BITS success codes.
inline constexpr HRESULT BG_S_PARTIAL_COMPLETE = 0x00200017;
inline constexpr HRESULT BG_S_UNABLE_TO_DELETE_FILES = 0x0020001A;
// BITS error codes.
inline constexpr HRESULT BG_E_NOT_FOUND = 0x80200001;
inline constexpr HRESULT BG_E_INVALID_STATE = 0x80200002;
inline constexpr HRESULT BG_E_EMPTY = 0x80200003;
inline constexpr HRESULT BG_E_FILE_NOT_AVAILABLE = 0x80200004;
inline constexpr HRESULT BG_E_PROTOCOL_NOT_AVAILABLE = 0x80200005;
inline constexpr HRESULT BG_E_ERROR_INFORMATION_UNAVAILABLE = 0x8020000F;
inline constexpr HRESULT BG_E_NETWORK_DISCONNECTED = 0x80200010;
inline constexpr HRESULT BG_E_MISSING_FILE_SIZE = 0x80200011;
inline constexpr HRESULT BG_E_INSUFFICIENT_HTTP_SUPPORT = 0x80200012;
inline constexpr HRESULT BG_E_INSUFFICIENT_RANGE_SUPPORT = 0x80200013;
inline constexpr HRESULT BG_E_INVALID_SERVER_RESPONSE = 0x8020001B;
inline constexpr HRESULT BG_E_TOO_MANY_FILES = 0x8020001C;
inline constexpr HRESULT BG_E_NEW_OWNER_NO_FILE_ACCESS = 0x80200016;
inline constexpr HRESULT BG_E_STRING_TOO_LONG = 0x80200021;
inline constexpr HRESULT BG_E_NO_PROGRESS = 0x80200024;
inline constexpr HRESULT BG_E_FILE_NOT_FOUND = 0x80200029;
inline constexpr HRESULT BG_E_INVALID_RANGE = 0x8020002B;
inline constexpr HRESULT BG_E_OVERLAPPING_RANGES = 0x8020002C;
inline constexpr HRESULT BG_E_CONNECT_FAILURE = 0x8020002D;
inline constexpr HRESULT BG_E_CONNECTION_CLOSED = 0x8020002E;
inline constexpr HRESULT BG_E_INVALID_PROXY_INFO = 0x8020003F;
inline constexpr HRESULT BG_E_TOO_MANY_JOBS_PER_USER = 0x80200049;
inline constexpr HRESULT BG_E_TOO_MANY_JOBS_PER_MACHINE = 0x80200050;
inline constexpr HRESULT BG_E_TOO_MANY_FILES_IN_JOB = 0x80200051;
inline constexpr HRESULT BG_E_TOO_MANY_RANGES_IN_FILE = 0x80200052;
inline constexpr HRESULT BG_E_VALIDATION_FAILED = 0x80200053;
inline constexpr HRESULT BG_E_MAXDOWNLOAD_TIMEOUT = 0x80200054;
inline constexpr HRESULT BG_E_UNKNOWN_PROPERTY_ID = 0x80200057;
inline constexpr HRESULT BG_E_READ_ONLY_PROPERTY = 0x80200058;
inline constexpr HRESULT BG_E_READ_ONLY_PROPERTY_AFTER_ADDFILE = 0x80200061;
inline constexpr HRESULT BG_E_READ_ONLY_PROPERTY_AFTER_RESUME = 0x80200062;
inline constexpr HRESULT BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE = 0x80200063;
inline constexpr HRESULT BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED = 0x80200064;
inline constexpr HRESULT BG_E_DATABASE_CORRUPT = 0x8020006C;
inline constexpr HRESULT BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD = 0x80200071;
inline constexpr HRESULT BG_E_REMOTE_FILE_CHANGED = 0x80200073;
// The rest of bitsmsg.h, so that every code has a name and a text.
inline constexpr HRESULT BG_S_PROXY_CHANGED = 0x0020002A;
inline constexpr HRESULT BG_S_OVERRIDDEN_BY_POLICY = 0x00200055;
inline constexpr HRESULT BG_E_DESTINATION_LOCKED = 0x8020000D;
inline constexpr HRESULT BG_E_VOLUME_CHANGED = 0x8020000E;
inline constexpr HRESULT BG_E_REMOTE_NOT_SUPPORTED = 0x80200014;
inline constexpr HRESULT BG_E_NEW_OWNER_DIFF_MAPPING = 0x80200015;
inline constexpr HRESULT BG_E_PROXY_LIST_TOO_LARGE = 0x80200018;
inline constexpr HRESULT BG_E_PROXY_BYPASS_LIST_TOO_LARGE = 0x80200019;
inline constexpr HRESULT BG_E_LOCAL_FILE_CHANGED = 0x8020001D;
inline constexpr HRESULT BG_E_ERROR_CONTEXT_REMOTE_APPLICATION = 0x8020001E;
inline constexpr HRESULT BG_E_SESSION_NOT_FOUND = 0x8020001F;
inline constexpr HRESULT BG_E_TOO_LARGE = 0x80200020;
inline constexpr HRESULT BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH = 0x80200022;
inline constexpr HRESULT BG_E_SERVER_EXECUTE_ENABLE = 0x80200023;
inline constexpr HRESULT BG_E_USERNAME_TOO_LARGE = 0x80200025;
inline constexpr HRESULT BG_E_PASSWORD_TOO_LARGE = 0x80200026;
inline constexpr HRESULT BG_E_INVALID_AUTH_TARGET = 0x80200027;
inline constexpr HRESULT BG_E_INVALID_AUTH_SCHEME = 0x80200028;
inline constexpr HRESULT BG_E_BLOCKED_BY_POLICY = 0x8020003E;
inline constexpr HRESULT BG_E_INVALID_CREDENTIALS = 0x80200040;
inline constexpr HRESULT BG_E_TOKEN_REQUIRED = 0x80200056;
inline constexpr HRESULT BG_E_BLOCKED_BY_COST_TRANSFER_POLICY = 0x80200059;
inline constexpr HRESULT BG_E_PROPERTY_SUPPORTED_FOR_DOWNLOAD_JOBS_ONLY = 0x80200060;
inline constexpr HRESULT BG_E_STANDBY_MODE = 0x80200065;
inline constexpr HRESULT BG_E_USE_STORED_CREDENTIALS_NOT_SUPPORTED = 0x80200066;
inline constexpr HRESULT BG_E_BLOCKED_BY_BATTERY_POLICY = 0x80200067;
inline constexpr HRESULT BG_E_BLOCKED_BY_BATTERY_SAVER = 0x80200068;
inline constexpr HRESULT BG_E_WATCHDOG_TIMEOUT = 0x80200069;
inline constexpr HRESULT BG_E_RANDOM_ACCESS_NOT_SUPPORTED = 0x8020006D;
inline constexpr HRESULT BG_E_BLOCKED_BY_BACKGROUND_ACCESS_POLICY = 0x8020006E;
inline constexpr HRESULT BG_E_BLOCKED_BY_GAME_MODE = 0x8020006F;
inline constexpr HRESULT BG_E_BLOCKED_BY_SYSTEM_POLICY = 0x80200070;
inline constexpr HRESULT BG_E_UNSUPPORTED_JOB_CONFIGURATION = 0x80200072;
inline constexpr HRESULT BG_E_SERVER_CERT_VALIDATION_INTERFACE_REQUIRED = 0x80200074;
inline constexpr HRESULT BG_E_READ_ONLY_WHEN_JOB_ACTIVE = 0x80200075;
// BG_E_HTTP_ERROR_nnn = kHttpErrorBase + nnn.
inline constexpr HRESULT kHttpErrorBase = 0x80190000;
}  // namespace hr

constexpr HRESULT HttpStatusToHresult(int status) {
  return hr::kHttpErrorBase + static_cast<HRESULT>(status);
}

// BG_ERROR_CONTEXT: where an error happened.
enum class ErrorContext : std::uint32_t {
  kNone = 0,
  kUnknown = 1,
  kGeneralQueueManager = 2,
  kQueueManagerNotification = 3,
  kLocalFile = 4,
  kRemoteFile = 5,
  kGeneralTransport = 6,
  kRemoteApplication = 7,
  kServerCertificateCallback = 8,
};

// The symbolic name of a code ("BG_E_NOT_FOUND", "BG_E_HTTP_ERROR_404"), or nullopt.
std::optional<std::string> HresultName(HRESULT code);
// The human description of a code, as GetErrorDescription returns it. Never empty.
std::string DescribeHresult(HRESULT code);
// The human description of an error context, as GetErrorContextDescription returns it.
std::string_view DescribeErrorContext(ErrorContext context);
// "0x80200001".
std::string FormatHresult(HRESULT code);

}  // namespace openbits
