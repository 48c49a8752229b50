#include "openbits/hresult.h"

#include <array>
#include <cstdio>

#include "openbits/result.h"

namespace openbits {
namespace {

struct CodeInfo {
  HRESULT code;
  const char* name;
  const char* description;
};

// One table for names and texts; GetErrorDescription and bitsadmin /geterror read it.
constexpr std::array kCodes{
    CodeInfo{hr::S_OK, "S_OK", "The operation completed successfully."},
    CodeInfo{hr::S_FALSE, "S_FALSE", "The operation completed, but had nothing to do."},
    CodeInfo{hr::E_NOTIMPL, "E_NOTIMPL", "This operation is not implemented."},
    CodeInfo{hr::E_FAIL, "E_FAIL", "Unspecified error."},
    CodeInfo{hr::E_ACCESSDENIED, "E_ACCESSDENIED", "Access is denied."},
    CodeInfo{hr::E_OUTOFMEMORY, "E_OUTOFMEMORY", "Not enough memory to complete the operation."},
    CodeInfo{hr::E_INVALIDARG, "E_INVALIDARG", "The parameter is incorrect."},
    CodeInfo{hr::ERROR_FILE_NOT_FOUND, "ERROR_FILE_NOT_FOUND",
             "The system cannot find the file specified."},
    CodeInfo{hr::ERROR_PATH_NOT_FOUND, "ERROR_PATH_NOT_FOUND",
             "The system cannot find the path specified."},
    CodeInfo{hr::ERROR_FILE_EXISTS, "ERROR_FILE_EXISTS", "The file exists."},
    CodeInfo{hr::ERROR_DISK_FULL, "ERROR_DISK_FULL", "There is not enough space on the disk."},
    CodeInfo{hr::ERROR_NOT_LOGGED_ON, "ERROR_NOT_LOGGED_ON",
             "The operation was not performed because the owner is not logged on."},
    CodeInfo{hr::WINHTTP_TIMEOUT, "ERROR_WINHTTP_TIMEOUT", "The operation timed out."},
    CodeInfo{hr::WINHTTP_INTERNAL_ERROR, "ERROR_WINHTTP_INTERNAL_ERROR",
             "An internal error occurred in the HTTP client."},
    CodeInfo{hr::WINHTTP_UNRECOGNIZED_SCHEME, "ERROR_WINHTTP_UNRECOGNIZED_SCHEME",
             "The URL uses a scheme other than http or https."},
    CodeInfo{hr::WINHTTP_NAME_NOT_RESOLVED, "ERROR_WINHTTP_NAME_NOT_RESOLVED",
             "The server name or address could not be resolved."},
    CodeInfo{hr::WINHTTP_CANNOT_CONNECT, "ERROR_WINHTTP_CANNOT_CONNECT",
             "A connection with the server could not be established."},
    CodeInfo{hr::WINHTTP_CONNECTION_ERROR, "ERROR_WINHTTP_CONNECTION_ERROR",
             "The connection with the server was reset or terminated."},
    CodeInfo{hr::WINHTTP_REDIRECT_FAILED, "ERROR_WINHTTP_REDIRECT_FAILED",
             "The redirection failed."},
    CodeInfo{hr::WINHTTP_INVALID_SERVER_RESPONSE, "ERROR_WINHTTP_INVALID_SERVER_RESPONSE",
             "The server response could not be parsed."},
    CodeInfo{hr::WINHTTP_CLIENT_AUTH_CERT_NEEDED, "ERROR_WINHTTP_CLIENT_AUTH_CERT_NEEDED",
             "The server requires a client certificate."},
    CodeInfo{hr::WINHTTP_SECURE_FAILURE, "ERROR_WINHTTP_SECURE_FAILURE",
             "The server's TLS certificate is invalid or could not be verified."},
    CodeInfo{hr::WINHTTP_SECURE_CERT_DATE_INVALID, "ERROR_WINHTTP_SECURE_CERT_DATE_INVALID",
             "The server's TLS certificate has expired or is not yet valid."},
    CodeInfo{hr::WINHTTP_SECURE_CERT_CN_INVALID, "ERROR_WINHTTP_SECURE_CERT_CN_INVALID",
             "The server's TLS certificate does not match the host name."},
    CodeInfo{hr::WINHTTP_SECURE_INVALID_CA, "ERROR_WINHTTP_SECURE_INVALID_CA",
             "The server's TLS certificate was issued by an untrusted authority."},
    CodeInfo{hr::WINHTTP_SECURE_CERT_REV_FAILED, "ERROR_WINHTTP_SECURE_CERT_REV_FAILED",
             "The revocation of the server's TLS certificate could not be checked."},
    CodeInfo{hr::WINHTTP_SECURE_CERT_REVOKED, "ERROR_WINHTTP_SECURE_CERT_REVOKED",
             "The server's TLS certificate has been revoked."},
    CodeInfo{hr::WINHTTP_SECURE_CERT_WRONG_USAGE, "ERROR_WINHTTP_SECURE_CERT_WRONG_USAGE",
             "The server's TLS certificate is not valid for server authentication."},
    CodeInfo{hr::CRYPT_E_NOT_FOUND, "CRYPT_E_NOT_FOUND",
             "The certificate was not found in the certificate store."},
    CodeInfo{hr::BG_S_PARTIAL_COMPLETE, "BG_S_PARTIAL_COMPLETE",
             "Some of the transferred files were deleted because they were incomplete."},
    CodeInfo{hr::BG_S_UNABLE_TO_DELETE_FILES, "BG_S_UNABLE_TO_DELETE_FILES",
             "Some of the temporary files could not be deleted."},
    CodeInfo{hr::BG_E_NOT_FOUND, "BG_E_NOT_FOUND", "The requested job was not found."},
    CodeInfo{hr::BG_E_INVALID_STATE, "BG_E_INVALID_STATE",
             "The requested action is not allowed in the current job state."},
    CodeInfo{hr::BG_E_EMPTY, "BG_E_EMPTY", "There are no files attached to this job."},
    CodeInfo{hr::BG_E_FILE_NOT_AVAILABLE, "BG_E_FILE_NOT_AVAILABLE",
             "No file is available because no URL generated an error."},
    CodeInfo{hr::BG_E_PROTOCOL_NOT_AVAILABLE, "BG_E_PROTOCOL_NOT_AVAILABLE",
             "No protocol is available because no URL generated an error."},
    CodeInfo{hr::BG_E_ERROR_INFORMATION_UNAVAILABLE, "BG_E_ERROR_INFORMATION_UNAVAILABLE",
             "No errors have occurred."},
    CodeInfo{hr::BG_E_NETWORK_DISCONNECTED, "BG_E_NETWORK_DISCONNECTED",
             "No network connection is active on this computer."},
    CodeInfo{hr::BG_E_MISSING_FILE_SIZE, "BG_E_MISSING_FILE_SIZE",
             "The server did not return the file size. The URL might point to dynamic content."},
    CodeInfo{hr::BG_E_INSUFFICIENT_HTTP_SUPPORT, "BG_E_INSUFFICIENT_HTTP_SUPPORT",
             "The server does not support HTTP 1.1."},
    CodeInfo{hr::BG_E_INSUFFICIENT_RANGE_SUPPORT, "BG_E_INSUFFICIENT_RANGE_SUPPORT",
             "The server does not support the necessary HTTP protocol: it ignored a Range "
             "request."},
    CodeInfo{hr::BG_E_INVALID_SERVER_RESPONSE, "BG_E_INVALID_SERVER_RESPONSE",
             "The server's response was not valid."},
    CodeInfo{hr::BG_E_TOO_MANY_FILES, "BG_E_TOO_MANY_FILES",
             "Upload jobs can only contain one file."},
    CodeInfo{hr::BG_E_NEW_OWNER_NO_FILE_ACCESS, "BG_E_NEW_OWNER_NO_FILE_ACCESS",
             "The new owner cannot access the job's local files."},
    CodeInfo{hr::BG_E_STRING_TOO_LONG, "BG_E_STRING_TOO_LONG",
             "The string is too long for this property."},
    CodeInfo{hr::BG_E_NO_PROGRESS, "BG_E_NO_PROGRESS",
             "The job made no progress within the no-progress timeout."},
    CodeInfo{hr::BG_E_FILE_NOT_FOUND, "BG_E_FILE_NOT_FOUND", "The remote file was not found."},
    CodeInfo{hr::BG_E_INVALID_RANGE, "BG_E_INVALID_RANGE",
             "The requested byte range is not valid."},
    CodeInfo{hr::BG_E_OVERLAPPING_RANGES, "BG_E_OVERLAPPING_RANGES",
             "The list of byte ranges contains overlapping ranges."},
    CodeInfo{hr::BG_E_CONNECT_FAILURE, "BG_E_CONNECT_FAILURE",
             "A connection could not be established."},
    CodeInfo{hr::BG_E_CONNECTION_CLOSED, "BG_E_CONNECTION_CLOSED",
             "The connection was closed prematurely."},
    CodeInfo{hr::BG_E_INVALID_PROXY_INFO, "BG_E_INVALID_PROXY_INFO",
             "The proxy list or bypass list is not valid."},
    CodeInfo{hr::BG_E_TOO_MANY_JOBS_PER_USER, "BG_E_TOO_MANY_JOBS_PER_USER",
             "The user has reached the maximum number of jobs."},
    CodeInfo{hr::BG_E_TOO_MANY_JOBS_PER_MACHINE, "BG_E_TOO_MANY_JOBS_PER_MACHINE",
             "The machine has reached the maximum number of jobs."},
    CodeInfo{hr::BG_E_TOO_MANY_FILES_IN_JOB, "BG_E_TOO_MANY_FILES_IN_JOB",
             "The job has reached the maximum number of files."},
    CodeInfo{hr::BG_E_VALIDATION_FAILED, "BG_E_VALIDATION_FAILED",
             "The application rejected the content of a downloaded file."},
    CodeInfo{hr::BG_E_MAXDOWNLOAD_TIMEOUT, "BG_E_MAXDOWNLOAD_TIMEOUT",
             "The job did not finish within its maximum download time."},
    CodeInfo{hr::BG_E_UNKNOWN_PROPERTY_ID, "BG_E_UNKNOWN_PROPERTY_ID",
             "The property ID is not known."},
    CodeInfo{hr::BG_E_READ_ONLY_PROPERTY, "BG_E_READ_ONLY_PROPERTY", "The property cannot be set."},
    CodeInfo{hr::BG_E_READ_ONLY_PROPERTY_AFTER_ADDFILE, "BG_E_READ_ONLY_PROPERTY_AFTER_ADDFILE",
             "The property cannot be changed once the job has files."},
    CodeInfo{hr::BG_E_READ_ONLY_PROPERTY_AFTER_RESUME, "BG_E_READ_ONLY_PROPERTY_AFTER_RESUME",
             "The property cannot be changed once the job has been resumed."},
    CodeInfo{hr::BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE, "BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE",
             "The maximum download size is not valid."},
    CodeInfo{hr::BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED, "BG_E_MAX_DOWNLOAD_SIZE_LIMIT_REACHED",
             "The download is larger than the job's maximum download size."},
    CodeInfo{hr::BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD,
             "BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD",
             "The setting is not supported together with a custom HTTP method."},
    CodeInfo{hr::BG_E_TOO_MANY_RANGES_IN_FILE, "BG_E_TOO_MANY_RANGES_IN_FILE",
             "The file has reached the maximum number of byte ranges."},
    CodeInfo{hr::BG_S_PROXY_CHANGED, "BG_S_PROXY_CHANGED", "The proxy settings changed."},
    CodeInfo{hr::BG_S_OVERRIDDEN_BY_POLICY, "BG_S_OVERRIDDEN_BY_POLICY",
             "The setting was saved, but a policy overrides it."},
    CodeInfo{hr::BG_E_DESTINATION_LOCKED, "BG_E_DESTINATION_LOCKED",
             "The destination volume is locked."},
    CodeInfo{hr::BG_E_VOLUME_CHANGED, "BG_E_VOLUME_CHANGED", "The destination volume has changed."},
    CodeInfo{hr::BG_E_REMOTE_NOT_SUPPORTED, "BG_E_REMOTE_NOT_SUPPORTED",
             "Remote use of the transfer service is not supported."},
    CodeInfo{hr::BG_E_NEW_OWNER_DIFF_MAPPING, "BG_E_NEW_OWNER_DIFF_MAPPING",
             "The new owner has a different mapping of the job's drives."},
    CodeInfo{hr::BG_E_PROXY_LIST_TOO_LARGE, "BG_E_PROXY_LIST_TOO_LARGE",
             "The proxy list is too long."},
    CodeInfo{hr::BG_E_PROXY_BYPASS_LIST_TOO_LARGE, "BG_E_PROXY_BYPASS_LIST_TOO_LARGE",
             "The proxy bypass list is too long."},
    CodeInfo{hr::BG_E_LOCAL_FILE_CHANGED, "BG_E_LOCAL_FILE_CHANGED",
             "The local file changed during the upload."},
    CodeInfo{hr::BG_E_ERROR_CONTEXT_REMOTE_APPLICATION, "BG_E_ERROR_CONTEXT_REMOTE_APPLICATION",
             "The server application reported an error."},
    CodeInfo{hr::BG_E_SESSION_NOT_FOUND, "BG_E_SESSION_NOT_FOUND",
             "The upload session is unknown to the server."},
    CodeInfo{hr::BG_E_TOO_LARGE, "BG_E_TOO_LARGE", "The upload is larger than the server accepts."},
    CodeInfo{hr::BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH, "BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH",
             "The client and server share no upload protocol."},
    CodeInfo{hr::BG_E_SERVER_EXECUTE_ENABLE, "BG_E_SERVER_EXECUTE_ENABLE",
             "The server's upload directory allows scripts to run."},
    CodeInfo{hr::BG_E_USERNAME_TOO_LARGE, "BG_E_USERNAME_TOO_LARGE",
             "The user name is longer than 300 characters."},
    CodeInfo{hr::BG_E_PASSWORD_TOO_LARGE, "BG_E_PASSWORD_TOO_LARGE",
             "The password is longer than 65,535 characters."},
    CodeInfo{hr::BG_E_INVALID_AUTH_TARGET, "BG_E_INVALID_AUTH_TARGET",
             "The authentication target is not valid."},
    CodeInfo{hr::BG_E_INVALID_AUTH_SCHEME, "BG_E_INVALID_AUTH_SCHEME",
             "The authentication scheme is not valid."},
    CodeInfo{hr::BG_E_BLOCKED_BY_POLICY, "BG_E_BLOCKED_BY_POLICY",
             "A bandwidth policy blocks the transfer now."},
    CodeInfo{hr::BG_E_INVALID_CREDENTIALS, "BG_E_INVALID_CREDENTIALS",
             "The credentials are not valid."},
    CodeInfo{hr::BG_E_TOKEN_REQUIRED, "BG_E_TOKEN_REQUIRED",
             "A helper token is needed but was discarded."},
    CodeInfo{hr::BG_E_BLOCKED_BY_COST_TRANSFER_POLICY, "BG_E_BLOCKED_BY_COST_TRANSFER_POLICY",
             "The network's cost policy blocks the transfer."},
    CodeInfo{hr::BG_E_PROPERTY_SUPPORTED_FOR_DOWNLOAD_JOBS_ONLY,
             "BG_E_PROPERTY_SUPPORTED_FOR_DOWNLOAD_JOBS_ONLY",
             "The property applies to download jobs only."},
    CodeInfo{hr::BG_E_STANDBY_MODE, "BG_E_STANDBY_MODE", "The computer is in standby."},
    CodeInfo{hr::BG_E_USE_STORED_CREDENTIALS_NOT_SUPPORTED,
             "BG_E_USE_STORED_CREDENTIALS_NOT_SUPPORTED",
             "Stored credentials are not supported for this target."},
    CodeInfo{hr::BG_E_BLOCKED_BY_BATTERY_POLICY, "BG_E_BLOCKED_BY_BATTERY_POLICY",
             "The battery policy blocks the transfer."},
    CodeInfo{hr::BG_E_BLOCKED_BY_BATTERY_SAVER, "BG_E_BLOCKED_BY_BATTERY_SAVER",
             "Battery saver blocks the transfer."},
    CodeInfo{hr::BG_E_WATCHDOG_TIMEOUT, "BG_E_WATCHDOG_TIMEOUT",
             "The transfer did not respond in time."},
    CodeInfo{hr::BG_E_RANDOM_ACCESS_NOT_SUPPORTED, "BG_E_RANDOM_ACCESS_NOT_SUPPORTED",
             "Random access to the file is not possible."},
    CodeInfo{hr::BG_E_BLOCKED_BY_BACKGROUND_ACCESS_POLICY,
             "BG_E_BLOCKED_BY_BACKGROUND_ACCESS_POLICY",
             "The background access policy blocks the transfer."},
    CodeInfo{hr::BG_E_BLOCKED_BY_GAME_MODE, "BG_E_BLOCKED_BY_GAME_MODE",
             "Game mode blocks the transfer."},
    CodeInfo{hr::BG_E_BLOCKED_BY_SYSTEM_POLICY, "BG_E_BLOCKED_BY_SYSTEM_POLICY",
             "A system policy blocks the transfer."},
    CodeInfo{hr::BG_E_UNSUPPORTED_JOB_CONFIGURATION, "BG_E_UNSUPPORTED_JOB_CONFIGURATION",
             "The job's settings cannot be combined."},
    CodeInfo{hr::BG_E_SERVER_CERT_VALIDATION_INTERFACE_REQUIRED,
             "BG_E_SERVER_CERT_VALIDATION_INTERFACE_REQUIRED",
             "A server certificate validation callback is required."},
    CodeInfo{hr::BG_E_READ_ONLY_WHEN_JOB_ACTIVE, "BG_E_READ_ONLY_WHEN_JOB_ACTIVE",
             "The property cannot change while the job is active."},
    CodeInfo{hr::BG_E_DATABASE_CORRUPT, "BG_E_DATABASE_CORRUPT",
             "The job database is corrupt; it was moved aside."},
    CodeInfo{hr::BG_E_REMOTE_FILE_CHANGED, "BG_E_REMOTE_FILE_CHANGED",
             "The remote file changed during the transfer."},
};

const CodeInfo* Find(HRESULT code) {
  for (const CodeInfo& info : kCodes) {
    if (info.code == code) return &info;
  }
  return nullptr;
}

bool IsHttpError(HRESULT code) {
  return code >= hr::kHttpErrorBase + 100 && code <= hr::kHttpErrorBase + 599;
}

}  // namespace

std::string FormatHresult(HRESULT code) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "0x%08X", code);
  return buffer;
}

std::optional<std::string> HresultName(HRESULT code) {
  if (const CodeInfo* info = Find(code)) return std::string(info->name);
  if (IsHttpError(code)) return "BG_E_HTTP_ERROR_" + std::to_string(code - hr::kHttpErrorBase);
  return std::nullopt;
}

std::string DescribeHresult(HRESULT code) {
  if (const CodeInfo* info = Find(code)) return info->description;
  if (IsHttpError(code)) {
    const int status = static_cast<int>(code - hr::kHttpErrorBase);
    switch (status) {
      case 400:
        return "HTTP status 400: the server could not understand the request.";
      case 401:
        return "HTTP status 401: the requested resource requires user authentication.";
      case 403:
        return "HTTP status 403: the server understood the request, but refused it.";
      case 404:
        return "HTTP status 404: the requested URL does not exist on the server.";
      case 407:
        return "HTTP status 407: proxy authentication is required.";
      case 408:
        return "HTTP status 408: the server timed out waiting for the request.";
      case 416:
        return "HTTP status 416: the requested range cannot be satisfied.";
      case 500:
        return "HTTP status 500: the server encountered an unexpected condition.";
      case 501:
        return "HTTP status 501: the server does not support the requested method.";
      case 502:
        return "HTTP status 502: the gateway received an invalid response upstream.";
      case 503:
        return "HTTP status 503: the service is temporarily unavailable.";
      case 504:
        return "HTTP status 504: the gateway timed out.";
      default:
        return "HTTP status " + std::to_string(status) + " returned by the server.";
    }
  }
  return "Unknown error " + FormatHresult(code) + ".";
}

std::string_view DescribeErrorContext(ErrorContext context) {
  switch (context) {
    case ErrorContext::kNone:
      return "An error has not occurred.";
    case ErrorContext::kUnknown:
      return "The error context is unknown.";
    case ErrorContext::kGeneralQueueManager:
      return "The error occurred in the transfer queue manager.";
    case ErrorContext::kQueueManagerNotification:
      return "The error occurred while processing the notification callback.";
    case ErrorContext::kLocalFile:
      return "The error occurred while the local file was being processed.";
    case ErrorContext::kRemoteFile:
      return "The error occurred while the remote file was being processed.";
    case ErrorContext::kGeneralTransport:
      return "The error occurred in the transport layer.";
    case ErrorContext::kRemoteApplication:
      return "The error occurred while the server application was processing the upload.";
    case ErrorContext::kServerCertificateCallback:
      return "The error occurred in the server certificate validation callback.";
  }
  return "The error context is unknown.";
}

std::string Error::ToString() const {
  std::string text = FormatHresult(code_);
  if (auto name = HresultName(code_)) text += " (" + *name + ")";
  text += ": " + (message_.empty() ? DescribeHresult(code_) : message_);
  return text;
}

}  // namespace openbits
