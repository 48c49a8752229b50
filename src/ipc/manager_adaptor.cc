#include "ipc/manager_adaptor.h"

#include <unordered_map>

#include "core/proxy_settings.h"
#include "identity/users.h"
#include "ipc/error_names.h"
#include "openbits/dbus_names.h"

namespace openbits::ipc {
namespace {

constexpr uint32_t kEnumAllUsers = 0x1;  // BG_JOB_ENUM_ALL_USERS
constexpr uint32_t kSubmitResume = 0x1;  // SubmitJob: resume the job

Status CheckEnumFlags(uint32_t flags) {
  if (flags & ~kEnumAllUsers) {
    return Error::InvalidArg("unknown EnumJobs flags " + FormatHresult(flags));
  }
  return Ok();
}

// ListJobs cursors: the GUID of the last job of the page before. Clients treat them as
// opaque, so that the order can change without changing the interface.
Result<std::optional<Guid>> DecodeCursor(const std::string& cursor) {
  if (cursor.empty()) return std::optional<Guid>();
  const auto id = Guid::Parse(cursor);
  if (!id) return Error::InvalidArg("'" + cursor + "' is not a ListJobs cursor");
  return std::optional(*id);
}

}  // namespace

ManagerAdaptor::ManagerAdaptor(sdbus::IConnection& connection, core::JobManager& manager,
                               CallerRegistry& callers, core::CertificateStore& certificates,
                               core::AccountProxies& account_proxies)
    : AdaptorInterfaces(connection, dbus::kManagerPath),
      manager_(manager),
      callers_(callers),
      certificates_(certificates),
      account_proxies_(account_proxies) {
  registerAdaptor();
}

ManagerAdaptor::~ManagerAdaptor() { unregisterAdaptor(); }

core::Caller ManagerAdaptor::CurrentCaller() {
  return callers_.Resolve(*getObject().getCurrentlyProcessedMessage());
}

std::tuple<std::string, sdbus::ObjectPath> ManagerAdaptor::CreateJob(
    const std::string& display_name, const uint32_t& type,
    const std::map<std::string, std::string>& proxy_environment) {
  const Guid id = ValueOrThrow(manager_.CreateJob(CurrentCaller(), display_name,
                                                  static_cast<JobType>(type), proxy_environment));
  return {id.ToString(), sdbus::ObjectPath(dbus::JobPath(id))};
}

std::tuple<std::string, sdbus::ObjectPath> ManagerAdaptor::SubmitJob(
    const std::string& display_name, const uint32_t& type,
    const std::map<std::string, std::string>& proxy_environment,
    const std::vector<sdbus::Struct<std::string, std::string>>& files, const uint32_t& priority,
    const uint32_t& flags) {
  if (flags & ~kSubmitResume) {
    throw ToDbusError(Error::InvalidArg("unknown SubmitJob flags " + FormatHresult(flags)));
  }
  // Each step as its own method would check it, for the same caller (and the same file mode
  // as AddFileSet: the caller's umask now).
  const core::Caller caller = CurrentCaller();
  std::vector<core::FileSpec> specs;
  specs.reserve(files.size());
  const std::uint32_t mode = callers_.FileCreationMode(*getObject().getCurrentlyProcessedMessage());
  for (const auto& file : files) {
    specs.push_back({std::get<0>(file), std::get<1>(file), {}});
    specs.back().mode = mode;
  }
  // All or nothing: the job is stored once it has everything, or not at all.
  const Guid id = ValueOrThrow(manager_.SubmitJob(caller, display_name, static_cast<JobType>(type),
                                                  proxy_environment, specs, priority,
                                                  (flags & kSubmitResume) != 0));
  return {id.ToString(), sdbus::ObjectPath(dbus::JobPath(id))};
}

sdbus::ObjectPath ManagerAdaptor::GetJob(const std::string& job_id) {
  const auto id = Guid::Parse(job_id);
  if (!id) throw ToDbusError(Error::InvalidArg("'" + job_id + "' is not a job GUID"));
  ValueOrThrow(manager_.GetJob(CurrentCaller(), *id));
  return sdbus::ObjectPath(dbus::JobPath(*id));
}

std::vector<sdbus::ObjectPath> ManagerAdaptor::EnumJobs(const uint32_t& flags) {
  ThrowIfError(CheckEnumFlags(flags));
  std::vector<sdbus::ObjectPath> paths;
  for (const Guid& id : ValueOrThrow(manager_.EnumJobs(CurrentCaller(), flags & kEnumAllUsers))) {
    paths.emplace_back(dbus::JobPath(id));
  }
  return paths;
}

std::tuple<std::vector<ManagerAdaptor::JobSummaryWire>, std::string> ManagerAdaptor::ListJobs(
    const std::string& cursor, const uint32_t& max_count, const uint32_t& flags) {
  ThrowIfError(CheckEnumFlags(flags));
  const auto after = ValueOrThrow(DecodeCursor(cursor));
  const core::JobListPage page = ValueOrThrow(
      manager_.ListJobs(CurrentCaller(), after, max_count == 0 ? core::kMaxJobListPage : max_count,
                        flags & kEnumAllUsers));
  // A page holds few distinct owners: each name is looked up once.
  std::unordered_map<uint32_t, std::string> owner_names;
  std::vector<JobSummaryWire> jobs;
  jobs.reserve(page.jobs.size());
  for (const core::JobSummary& job : page.jobs) {
    auto [name, added] = owner_names.try_emplace(job.owner_uid);
    if (added) name->second = identity::UserName(job.owner_uid);
    jobs.emplace_back(job.id.ToString(), job.display_name, static_cast<uint32_t>(job.type),
                      static_cast<uint32_t>(job.state), static_cast<uint32_t>(job.priority),
                      job.owner_uid, name->second, job.progress.bytes_total,
                      job.progress.bytes_transferred, job.progress.files_total,
                      job.progress.files_transferred, static_cast<uint64_t>(job.creation_us));
  }
  return {std::move(jobs), page.next ? page.next->ToString() : std::string()};
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

std::string ManagerAdaptor::CreateHelperToken(const std::string& credential_cache) {
  const SecretString token =
      ValueOrThrow(manager_.CreateHelperToken(CurrentCaller(), credential_cache));
  return std::string(token.reveal());
}

std::string ManagerAdaptor::CreateHelperTokenFor(const uint32_t& uid,
                                                 const std::string& credential_cache) {
  const core::Caller lender{uid, identity::PrimaryGid(uid), callers_.IsAdmin(uid)};
  const SecretString token =
      ValueOrThrow(manager_.CreateHelperTokenFor(CurrentCaller(), lender, credential_cache));
  return std::string(token.reveal());
}

void ManagerAdaptor::SetAccountProxy(const uint32_t& uid, const uint32_t& mode,
                                     const std::string& list, const std::string& bypass,
                                     const std::string& autoscript_url) {
  const core::Caller caller = CurrentCaller();
  ThrowIfError(account_proxies_.Set(
      caller.uid, caller.is_admin, uid,
      core::AccountProxy{static_cast<core::AccountProxyMode>(mode), list, bypass, autoscript_url}));
}

void ManagerAdaptor::ResetAccountProxy(const uint32_t& uid) {
  const core::Caller caller = CurrentCaller();
  ThrowIfError(account_proxies_.Set(caller.uid, caller.is_admin, uid, std::nullopt));
}

std::tuple<bool, uint32_t, std::string, std::string, std::string> ManagerAdaptor::GetAccountProxy(
    const uint32_t& uid) {
  const core::Caller caller = CurrentCaller();
  ThrowIfError(core::AuthorizeReadAccountProxy(caller, uid));
  const auto proxy = account_proxies_.Get(uid);
  if (!proxy) return {false, 0, "", "", ""};
  // Never a password, even one an older version accepted.
  return {true, static_cast<uint32_t>(proxy->mode), core::RedactProxyUserinfo(proxy->list),
          proxy->bypass, core::RedactProxyUserinfo(proxy->autoscript_url)};
}

}  // namespace openbits::ipc
