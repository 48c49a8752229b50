#include "ipc/manager_adaptor.h"

#include "ipc/error_names.h"
#include "openbits/dbus_names.h"

namespace openbits::ipc {
namespace {

constexpr uint32_t kEnumAllUsers = 0x1;  // BG_JOB_ENUM_ALL_USERS

}  // namespace

ManagerAdaptor::ManagerAdaptor(sdbus::IConnection& connection, core::JobManager& manager,
                               CallerRegistry& callers, JobObjects& objects,
                               core::CertificateStore& certificates)
    : AdaptorInterfaces(connection, dbus::kManagerPath),
      manager_(manager),
      callers_(callers),
      objects_(objects),
      certificates_(certificates) {
  registerAdaptor();
}

ManagerAdaptor::~ManagerAdaptor() { unregisterAdaptor(); }

core::Caller ManagerAdaptor::CurrentCaller() {
  return callers_.Resolve(*getObject().getCurrentlyProcessedMessage());
}

std::tuple<std::string, sdbus::ObjectPath> ManagerAdaptor::CreateJob(
    const std::string& display_name, const uint32_t& type) {
  const Guid id =
      ValueOrThrow(manager_.CreateJob(CurrentCaller(), display_name, static_cast<JobType>(type)));
  objects_.Publish(id, manager_);
  return {id.ToString(), sdbus::ObjectPath(dbus::JobPath(id))};
}

sdbus::ObjectPath ManagerAdaptor::GetJob(const std::string& job_id) {
  const auto id = Guid::Parse(job_id);
  if (!id) throw ToDbusError(Error::InvalidArg("'" + job_id + "' is not a job GUID"));
  ValueOrThrow(manager_.GetJob(CurrentCaller(), *id));
  return sdbus::ObjectPath(dbus::JobPath(*id));
}

std::vector<sdbus::ObjectPath> ManagerAdaptor::EnumJobs(const uint32_t& flags) {
  if (flags & ~kEnumAllUsers) {
    throw ToDbusError(Error::InvalidArg("unknown EnumJobs flags " + FormatHresult(flags)));
  }
  std::vector<sdbus::ObjectPath> paths;
  for (const Guid& id : ValueOrThrow(manager_.EnumJobs(CurrentCaller(), flags & kEnumAllUsers))) {
    paths.emplace_back(dbus::JobPath(id));
  }
  return paths;
}

std::vector<sdbus::Struct<std::string, std::string, uint64_t>> ManagerAdaptor::ListCertificates(
    const uint32_t& location, const std::string& store) {
  const core::Caller caller = CurrentCaller();
  core::ClientCertificateRef reference{location, store, "", "-"};
  ThrowIfError(core::ValidateClientCertificate(reference));
  auto listed = certificates_.List({caller.uid, caller.gid}, location, reference.store);
  if (!listed) throw ToDbusError(listed.error());
  std::vector<sdbus::Struct<std::string, std::string, uint64_t>> certificates;
  for (const core::CertificateInfo& info : *listed) {
    certificates.emplace_back(info.sha1, info.subject, static_cast<uint64_t>(info.not_after));
  }
  return certificates;
}

std::string ManagerAdaptor::GetErrorDescription(const uint32_t& hresult, const uint32_t&) {
  return DescribeHresult(hresult);
}

}  // namespace openbits::ipc
