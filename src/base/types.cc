#include "openbits/types.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace openbits {

std::string_view JobStateName(JobState state) {
  switch (state) {
    case JobState::kQueued:
      return "QUEUED";
    case JobState::kConnecting:
      return "CONNECTING";
    case JobState::kTransferring:
      return "TRANSFERRING";
    case JobState::kSuspended:
      return "SUSPENDED";
    case JobState::kError:
      return "ERROR";
    case JobState::kTransientError:
      return "TRANSIENT_ERROR";
    case JobState::kTransferred:
      return "TRANSFERRED";
    case JobState::kAcknowledged:
      return "ACKNOWLEDGED";
    case JobState::kCancelled:
      return "CANCELLED";
  }
  return "UNKNOWN";
}

std::string_view JobPriorityName(JobPriority priority) {
  switch (priority) {
    case JobPriority::kForeground:
      return "FOREGROUND";
    case JobPriority::kHigh:
      return "HIGH";
    case JobPriority::kNormal:
      return "NORMAL";
    case JobPriority::kLow:
      return "LOW";
  }
  return "UNKNOWN";
}

std::string_view JobTypeName(JobType type) {
  switch (type) {
    case JobType::kDownload:
      return "DOWNLOAD";
    case JobType::kUpload:
      return "UPLOAD";
    case JobType::kUploadReply:
      return "UPLOAD-REPLY";
  }
  return "UNKNOWN";
}

namespace {

std::string Upper(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return upper;
}

}  // namespace

std::optional<JobPriority> ParseJobPriority(std::string_view name) {
  const std::string upper = Upper(name);
  for (JobPriority p :
       {JobPriority::kForeground, JobPriority::kHigh, JobPriority::kNormal, JobPriority::kLow}) {
    if (JobPriorityName(p) == upper) return p;
  }
  return std::nullopt;
}

std::string_view AuthTargetName(AuthTarget target) {
  switch (target) {
    case AuthTarget::kServer:
      return "SERVER";
    case AuthTarget::kProxy:
      return "PROXY";
  }
  return "UNKNOWN";
}

std::string_view AuthSchemeName(AuthScheme scheme) {
  switch (scheme) {
    case AuthScheme::kBasic:
      return "BASIC";
    case AuthScheme::kDigest:
      return "DIGEST";
    case AuthScheme::kNtlm:
      return "NTLM";
    case AuthScheme::kNegotiate:
      return "NEGOTIATE";
    case AuthScheme::kPassport:
      return "PASSPORT";
  }
  return "UNKNOWN";
}

std::string_view ProxyUsageName(ProxyUsage usage) {
  switch (usage) {
    case ProxyUsage::kPreconfig:
      return "PRECONFIG";
    case ProxyUsage::kNoProxy:
      return "NO_PROXY";
    case ProxyUsage::kOverride:
      return "OVERRIDE";
    case ProxyUsage::kAutodetect:
      return "AUTODETECT";
  }
  return "UNKNOWN";
}

std::optional<ProxyUsage> ParseProxyUsage(std::string_view name) {
  const std::string upper = Upper(name);
  for (ProxyUsage u : {ProxyUsage::kPreconfig, ProxyUsage::kNoProxy, ProxyUsage::kOverride,
                       ProxyUsage::kAutodetect}) {
    if (ProxyUsageName(u) == upper) return u;
  }
  return std::nullopt;
}

std::optional<AuthTarget> ParseAuthTarget(std::string_view name) {
  const std::string upper = Upper(name);
  for (AuthTarget t : {AuthTarget::kServer, AuthTarget::kProxy}) {
    if (AuthTargetName(t) == upper) return t;
  }
  return std::nullopt;
}

std::optional<AuthScheme> ParseAuthScheme(std::string_view name) {
  const std::string upper = Upper(name);
  for (AuthScheme s : {AuthScheme::kBasic, AuthScheme::kDigest, AuthScheme::kNtlm,
                       AuthScheme::kNegotiate, AuthScheme::kPassport}) {
    if (AuthSchemeName(s) == upper) return s;
  }
  return std::nullopt;
}

bool IsFinalState(JobState state) {
  return state == JobState::kAcknowledged || state == JobState::kCancelled;
}

}  // namespace openbits
