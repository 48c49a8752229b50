// JobAdaptor: every job on the bus (org.openbits.bits1.Job and TokenOptions), one handler for
// all of /org/openbits/bits1/job/<hex>: it serves the FallbackObject of the job subtree and
// takes the job of each call from the call's path. Domain logic stays in core::JobManager;
// this file only translates arguments, callers and errors.
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include <utility>

#include "core/job_manager.h"
#include "ipc/caller_registry.h"
#include "ipc/error_names.h"
#include "ipc/fallback_object.h"
#include "ipc/job_paths.h"
#include "ipc/slow_calls.h"
#include "openbits_dbus/job_adaptor.h"

namespace openbits::ipc {

class JobAdaptor final : public org::openbits::bits1::Job_adaptor,
                         public org::openbits::bits1::TokenOptions_adaptor {
 public:
  // Registers the interfaces on `object`; the caller then calls object.finishRegistration().
  // Complete and Cancel run on `slow_calls`.
  JobAdaptor(FallbackObject& object, core::JobManager& manager, CallerRegistry& callers,
             SlowCalls& slow_calls);

  // Signals of `job`, unicast to each of `destinations` (the owner's connections).
  void SendJobTransferred(const Guid& job, const std::vector<std::string>& destinations);
  void SendJobError(const Guid& job, const std::vector<std::string>& destinations, HRESULT code,
                    ErrorContext context);
  void SendJobModification(const Guid& job, const std::vector<std::string>& destinations,
                           JobState state);
  void SendFileTransferred(const Guid& job, const std::vector<std::string>& destinations,
                           std::uint32_t file_index);

 private:
  // The job whose path the current call names (FallbackObject only calls for job paths).
  Guid CurrentJob() const;
  core::Caller CurrentCaller();
  // The mode of a file the caller would create now (CallerRegistry::FileCreationMode).
  std::uint32_t CallerFileMode();
  core::Job Snapshot();
  // What `field` answers of the job, read under the manager's lock without copying the job.
  template <typename Field>
  auto Read(Field field) {
    decltype(field(std::declval<const core::Job&>())) value{};
    ThrowIfError(manager_.ReadJob(CurrentCaller(), CurrentJob(),
                                  [&](const core::Job& job) { value = field(job); }));
    return value;
  }
  // The file of a snapshot, or E_INVALIDARG.
  static const core::JobFile& FileOf(const core::Job& job, uint32_t file_index);
  // Sends `signal` with `args` to each destination.
  template <typename... Args>
  void Unicast(const Guid& job, const std::vector<std::string>& destinations, const char* signal,
               const Args&... args);

  void AddFile(const std::string& remote_url, const std::string& local_name) override;
  void AddFileSet(const std::vector<sdbus::Struct<std::string, std::string>>& files) override;
  void AddFileWithRanges(const std::string& remote_url, const std::string& local_name,
                         const std::vector<sdbus::Struct<uint64_t, uint64_t>>& ranges) override;
  std::vector<sdbus::Struct<uint64_t, uint64_t>> GetFileRanges(const uint32_t& file_index) override;
  std::vector<sdbus::Struct<std::string, std::string, uint64_t, uint64_t, bool>> EnumFiles()
      override;
  void Resume() override;
  void Suspend() override;
  void Cancel(sdbus::Result<uint32_t>&& reply) override;
  void Complete(sdbus::Result<uint32_t>&& reply) override;
  sdbus::Struct<uint64_t, uint64_t, uint32_t, uint32_t> GetProgress() override;
  uint32_t GetState() override;
  sdbus::Struct<uint32_t, uint32_t, int32_t, std::string, std::string> GetError() override;
  uint32_t GetErrorCount() override;
  sdbus::Struct<uint64_t, uint64_t, uint64_t> GetTimes() override;
  std::tuple<uint32_t, std::string> GetOwner() override;
  std::string GetId() override;
  uint32_t GetType() override;
  void SetDisplayName(const std::string& display_name) override;
  std::string GetDisplayName() override;
  void SetDescription(const std::string& description) override;
  std::string GetDescription() override;
  void SetPriority(const uint32_t& priority) override;
  uint32_t GetPriority() override;
  void SetMinimumRetryDelay(const uint32_t& seconds) override;
  uint32_t GetMinimumRetryDelay() override;
  void SetNoProgressTimeout(const uint32_t& seconds) override;
  uint32_t GetNoProgressTimeout() override;
  void SetRemoteName(const uint32_t& file_index, const std::string& remote_url) override;
  void ReplaceRemotePrefix(const std::string& old_prefix, const std::string& new_prefix) override;
  std::string GetTemporaryName(const uint32_t& file_index) override;
  void SetValidationState(const uint32_t& file_index, const bool& valid) override;
  bool GetValidationState(const uint32_t& file_index) override;
  sdbus::Variant GetFileProperty(const uint32_t& file_index, const uint32_t& property_id) override;
  void SetSecurityFlags(const uint32_t& flags) override;
  uint32_t GetSecurityFlags() override;
  void SetMaximumDownloadTime(const uint32_t& seconds) override;
  uint32_t GetMaximumDownloadTime() override;
  void TakeOwnership() override;
  void SetClientCertificateByID(const uint32_t& location, const std::string& store,
                                const std::vector<uint8_t>& sha1) override;
  void SetClientCertificateByName(const uint32_t& location, const std::string& store,
                                  const std::string& subject) override;
  void RemoveClientCertificate() override;
  std::tuple<uint32_t, std::string, std::vector<uint8_t>, std::string> GetClientCertificate()
      override;
  void SetHttpMethod(const std::string& method) override;
  std::string GetHttpMethod() override;
  void SetProperty(const uint32_t& property_id, const sdbus::Variant& value) override;
  sdbus::Variant GetProperty(const uint32_t& property_id) override;
  void SetProxySettings(const uint32_t& usage, const std::string& list,
                        const std::string& bypass) override;
  std::tuple<uint32_t, std::string, std::string> GetProxySettings() override;
  void SetCredentials(const uint32_t& target, const uint32_t& scheme, const bool& implicit,
                      const std::string& user, const std::string& password,
                      const std::string& credential_cache,
                      const std::string& ntlm_user_file) override;
  uint32_t RemoveCredentials(const uint32_t& target, const uint32_t& scheme) override;
  void SetCustomHeaders(const std::string& headers) override;
  std::string GetCustomHeaders() override;
  void MakeCustomHeadersWriteOnly() override;
  void SetNotifyFlags(const uint32_t& flags) override;
  uint32_t GetNotifyFlags() override;
  void SetNotifyCmdLine(const std::string& program, const std::string& parameters) override;
  std::tuple<std::string, std::string> GetNotifyCmdLine() override;
  // org.openbits.bits1.TokenOptions
  void SetHelperToken(const std::string& token) override;
  void ClearHelperToken() override;
  void SetHelperTokenFlags(const uint32_t& flags) override;
  uint32_t GetHelperTokenFlags() override;
  std::string GetHelperTokenSid() override;

  FallbackObject& object_;
  core::JobManager& manager_;
  CallerRegistry& callers_;
  SlowCalls& slow_calls_;
};

}  // namespace openbits::ipc
