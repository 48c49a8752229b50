// ManagerAdaptor: org.openbits.bits1.Manager at /org/openbits/bits1.
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include "core/account_proxies.h"
#include "core/job_manager.h"
#include "ipc/caller_registry.h"
#include "openbits_dbus/manager_adaptor.h"

namespace openbits::ipc {

class ManagerAdaptor final
    : public sdbus::AdaptorInterfaces<org::openbits::bits1::Manager_adaptor> {
 public:
  ManagerAdaptor(sdbus::IConnection& connection, core::JobManager& manager, CallerRegistry& callers,
                 core::CertificateStore& certificates, core::AccountProxies& account_proxies);
  ~ManagerAdaptor();

 private:
  core::Caller CurrentCaller();

  std::tuple<std::string, sdbus::ObjectPath> CreateJob(
      const std::string& display_name, const uint32_t& type,
      const std::map<std::string, std::string>& proxy_environment) override;
  std::tuple<std::string, sdbus::ObjectPath> SubmitJob(
      const std::string& display_name, const uint32_t& type,
      const std::map<std::string, std::string>& proxy_environment,
      const std::vector<sdbus::Struct<std::string, std::string>>& files, const uint32_t& priority,
      const uint32_t& flags) override;
  void SetAccountProxy(const uint32_t& uid, const uint32_t& mode, const std::string& list,
                       const std::string& bypass, const std::string& autoscript_url) override;
  void ResetAccountProxy(const uint32_t& uid) override;
  std::tuple<bool, uint32_t, std::string, std::string, std::string> GetAccountProxy(
      const uint32_t& uid) override;
  std::string CreateHelperToken(const std::string& credential_cache) override;
  std::string CreateHelperTokenFor(const uint32_t& uid,
                                   const std::string& credential_cache) override;
  sdbus::ObjectPath GetJob(const std::string& job_id) override;
  std::vector<sdbus::ObjectPath> EnumJobs(const uint32_t& flags) override;
  using JobSummaryWire =
      sdbus::Struct<std::string, std::string, uint32_t, uint32_t, uint32_t, uint32_t, std::string,
                    uint64_t, uint64_t, uint32_t, uint32_t, uint64_t>;
  std::tuple<std::vector<JobSummaryWire>, std::string> ListJobs(const std::string& cursor,
                                                                const uint32_t& max_count,
                                                                const uint32_t& flags) override;
  std::string GetErrorDescription(const uint32_t& hresult, const uint32_t& language_id) override;
  std::vector<sdbus::Struct<std::string, std::string, uint64_t>> ListCertificates(
      const uint32_t& location, const std::string& store) override;

  core::JobManager& manager_;
  CallerRegistry& callers_;
  core::CertificateStore& certificates_;
  core::AccountProxies& account_proxies_;
};

}  // namespace openbits::ipc
