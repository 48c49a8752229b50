#include "openbits/client.h"

#include <sdbus-c++/sdbus-c++.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <tuple>

#include "openbits/dbus_names.h"
#include "openbits_dbus/job_proxy.h"
#include "openbits_dbus/manager_proxy.h"

namespace openbits {
namespace {

// Generated proxies need handlers for the signals; this client only makes calls.
class ManagerProxy final : public sdbus::ProxyInterfaces<org::openbits::bits1::Manager_proxy> {
 public:
  explicit ManagerProxy(sdbus::IConnection& connection)
      : ProxyInterfaces(connection, dbus::kBusName, dbus::kManagerPath) {
    registerProxy();
  }
  ~ManagerProxy() { unregisterProxy(); }
};

// Generated proxies register handlers for the job's signals in their constructor, but a
// handler only reaches the bus (as a match rule) when the proxy's registration is finished.
// Job proxies never finish it: the client makes calls only, and dbus-daemon admits 512 match
// rules per connection, which four per job used up at the 129th job.
class JobProxy final : public sdbus::ProxyInterfaces<org::openbits::bits1::Job_proxy,
                                                     org::openbits::bits1::TokenOptions_proxy> {
 public:
  JobProxy(sdbus::IConnection& connection, const std::string& path)
      : ProxyInterfaces(connection, dbus::kBusName, path) {}

 private:
  void onJobTransferred() override {}
  void onJobError(const uint32_t&, const uint32_t&) override {}
  void onJobModification(const uint32_t&) override {}
  void onFileTransferred(const uint32_t&) override {}
};

// Maps a D-Bus error back to the daemon's HRESULT ("0x%08X: text" message), or to a
// transport-level error when the daemon never answered.
Error FromDbusError(const sdbus::Error& error) {
  const std::string& message = error.getMessage();
  if (error.getName().starts_with(dbus::kErrorPrefix) && message.size() > 12 &&
      message.starts_with("0x") && message[10] == ':') {
    const auto code = static_cast<HRESULT>(std::strtoul(message.substr(2, 8).c_str(), nullptr, 16));
    return Error(code, ErrorContext::kNone, message.substr(12));
  }
  if (error.getName() == "org.freedesktop.DBus.Error.UnknownObject" ||
      error.getName() == "org.freedesktop.DBus.Error.UnknownMethod") {
    return Error::NotFound("the job no longer exists");
  }
  if (error.getName() == "org.freedesktop.DBus.Error.ServiceUnknown" ||
      error.getName() == "org.freedesktop.DBus.Error.NameHasNoOwner") {
    return Error(hr::E_FAIL, ErrorContext::kGeneralQueueManager,
                 "bitsd is not running on this bus (" + message + ")");
  }
  return Error(hr::E_FAIL, ErrorContext::kGeneralQueueManager, error.getName() + ": " + message);
}

template <typename F>
auto Call(F&& call) -> Result<decltype(call())> {
  try {
    if constexpr (std::is_void_v<decltype(call())>) {
      call();
      return Ok();
    } else {
      return call();
    }
  } catch (const sdbus::Error& error) {
    return FromDbusError(error);
  }
}

}  // namespace

// The connection and the manager proxy, shared by the client and its jobs.
class Connection {
 public:
  explicit Connection(std::unique_ptr<sdbus::IConnection> bus)
      : bus_(std::move(bus)), manager_(*bus_) {}
  sdbus::IConnection& bus() { return *bus_; }
  ManagerProxy& manager() { return manager_; }
  // A proxy for one call on a job: cheap (no bus traffic, no signal subscription), so none
  // is kept and a client's memory does not grow with the number of jobs it touched.
  std::unique_ptr<JobProxy> Job(const Guid& id) {
    return std::make_unique<JobProxy>(*bus_, dbus::JobPath(id));
  }

 private:
  std::unique_ptr<sdbus::IConnection> bus_;
  ManagerProxy manager_;
};

BusChoice BusChoice::Parse(const std::string& text) {
  if (text == "system") return {Kind::kSystem, ""};
  if (text == "session") return {Kind::kSession, ""};
  if (text.empty() || text == "auto") return {};
  return {Kind::kAddress, text};
}

Result<std::unique_ptr<Client>> Client::Connect(const BusChoice& bus) {
  try {
    std::unique_ptr<sdbus::IConnection> connection;
    switch (bus.kind) {
      case BusChoice::Kind::kSystem:
        connection = sdbus::createSystemBusConnection();
        break;
      case BusChoice::Kind::kSession:
        connection = sdbus::createSessionBusConnection();
        break;
      case BusChoice::Kind::kAddress:
        connection = sdbus::createSessionBusConnectionWithAddress(bus.address);
        break;
      case BusChoice::Kind::kAuto: {
        // The system bitsd serves everybody; a user-mode bitsd on the session bus is the
        // fallback (tests, quick start, machines without the service).
        try {
          auto system = sdbus::createSystemBusConnection();
          auto driver =
              sdbus::createProxy(*system, "org.freedesktop.DBus", "/org/freedesktop/DBus");
          bool has_owner = false;
          driver->callMethod("NameHasOwner")
              .onInterface("org.freedesktop.DBus")
              .withArguments(std::string(dbus::kBusName))
              .storeResultsTo(has_owner);
          if (has_owner) connection = std::move(system);
        } catch (const sdbus::Error&) {
          // no system bus here
        }
        if (!connection) {
          if (!std::getenv("DBUS_SESSION_BUS_ADDRESS")) {
            return Error(hr::E_FAIL, ErrorContext::kGeneralQueueManager,
                         "bitsd is not on the system bus and DBUS_SESSION_BUS_ADDRESS is not "
                         "set; pass --bus=ADDRESS");
          }
          connection = sdbus::createSessionBusConnection();
        }
        break;
      }
    }
    auto shared = std::make_shared<Connection>(std::move(connection));
    return std::unique_ptr<Client>(new Client(std::move(shared)));
  } catch (const sdbus::Error& error) {
    return Error(hr::E_FAIL, ErrorContext::kGeneralQueueManager,
                 "cannot connect to the bus: " + error.getMessage());
  }
}

namespace {

// PRECONFIG jobs use the caller's proxy environment (DESIGN.md 3); bitsd keeps only these.
std::map<std::string, std::string> ProxyEnvironment() {
  std::map<std::string, std::string> proxy_environment;
  for (const char* name : {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY",
                           "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"}) {
    if (const char* value = std::getenv(name)) proxy_environment[name] = value;
  }
  return proxy_environment;
}

}  // namespace

Result<Job> Client::SubmitJob(const std::string& display_name,
                              const std::vector<std::pair<std::string, std::string>>& files,
                              JobPriority priority, bool resume) {
  std::vector<sdbus::Struct<std::string, std::string>> set;
  set.reserve(files.size());
  for (const auto& [remote, local] : files) set.emplace_back(remote, local);
  std::tuple<std::string, sdbus::ObjectPath> submitted;
  try {
    submitted = connection_->manager().SubmitJob(
        display_name, static_cast<uint32_t>(JobType::kDownload), ProxyEnvironment(), set,
        static_cast<uint32_t>(priority), resume ? 1u : 0u);
  } catch (const sdbus::Error& error) {
    // On the manager an unknown method is a bitsd older than SubmitJob, not a missing job.
    if (error.getName() == "org.freedesktop.DBus.Error.UnknownMethod") {
      return Error(hr::E_NOTIMPL, ErrorContext::kGeneralQueueManager,
                   "this bitsd has no Manager.SubmitJob (it is older than this client)");
    }
    return FromDbusError(error);
  }
  auto id = Guid::Parse(std::get<0>(submitted));
  if (!id) return Error::Internal("bitsd returned a malformed job id");
  return Job(connection_, *id);
}

Result<Job> Client::CreateJob(const std::string& display_name, JobType type) {
  const std::map<std::string, std::string> proxy_environment = ProxyEnvironment();
  auto created = Call([&] {
    return connection_->manager().CreateJob(display_name, static_cast<uint32_t>(type),
                                            proxy_environment);
  });
  if (!created) return created.error();
  auto id = Guid::Parse(std::get<0>(*created));
  if (!id) return Error::Internal("bitsd returned a malformed job id");
  return Job(connection_, *id);
}

Result<Job> Client::GetJob(const Guid& id) {
  auto found = Call([&] { return connection_->manager().GetJob(id.ToString()); });
  if (!found) return found.error();
  return Job(connection_, id);
}

Result<std::vector<Job>> Client::EnumJobs(bool all_users) {
  auto paths = Call([&] { return connection_->manager().EnumJobs(all_users ? 1u : 0u); });
  if (!paths) return paths.error();
  std::vector<Job> jobs;
  for (const auto& path : *paths) {
    const std::string text = path;
    if (auto id = Guid::Parse(text.substr(text.rfind('/') + 1))) {
      jobs.push_back(Job(connection_, *id));
    }
  }
  return jobs;
}

Job Client::OpenJob(const Guid& id) { return Job(connection_, id); }

Result<JobListPage> Client::ListJobsPage(const std::string& cursor, std::uint32_t max_count,
                                         bool all_users) {
  auto wire =
      Call([&] { return connection_->manager().ListJobs(cursor, max_count, all_users ? 1u : 0u); });
  if (!wire) return wire.error();
  auto& [jobs, next_cursor] = *wire;
  JobListPage page;
  page.jobs.reserve(jobs.size());
  for (const auto& job : jobs) {
    const auto id = Guid::Parse(std::get<0>(job));
    if (!id)
      return Error(hr::E_FAIL, ErrorContext::kGeneralQueueManager,
                   "bitsd listed a job with the id '" + std::get<0>(job) + "'");
    page.jobs.push_back(
        {*id, std::get<1>(job), static_cast<JobType>(std::get<2>(job)),
         static_cast<JobState>(std::get<3>(job)), static_cast<JobPriority>(std::get<4>(job)),
         JobOwner{std::get<5>(job), std::get<6>(job)},
         JobProgress{std::get<7>(job), std::get<8>(job), std::get<9>(job), std::get<10>(job)},
         static_cast<std::int64_t>(std::get<11>(job))});
  }
  page.next_cursor = std::move(next_cursor);
  return page;
}

Result<std::vector<JobSummary>> Client::ListJobs(bool all_users) {
  std::vector<JobSummary> all;
  std::string cursor;
  do {
    auto page = ListJobsPage(cursor, 0, all_users);
    if (!page) return page.error();
    all.insert(all.end(), std::make_move_iterator(page->jobs.begin()),
               std::make_move_iterator(page->jobs.end()));
    cursor = std::move(page->next_cursor);
  } while (!cursor.empty());
  std::sort(all.begin(), all.end(), [](const JobSummary& a, const JobSummary& b) {
    return std::tie(a.creation_us, a.id) < std::tie(b.creation_us, b.id);
  });
  return all;
}

Status Client::SetAccountProxy(std::uint32_t uid, const AccountProxySettings& settings) {
  return Call([&] {
    connection_->manager().SetAccountProxy(uid, settings.mode, settings.list, settings.bypass,
                                           settings.autoscript_url);
  });
}

Status Client::ResetAccountProxy(std::uint32_t uid) {
  return Call([&] { connection_->manager().ResetAccountProxy(uid); });
}

Result<SecretString> Client::CreateHelperToken() {
  const char* ccache = std::getenv("KRB5CCNAME");
  return Call(
      [&] { return SecretString(connection_->manager().CreateHelperToken(ccache ? ccache : "")); });
}

Result<SecretString> Client::CreateHelperTokenFor(std::uint32_t uid,
                                                  const std::string& credential_cache) {
  return Call([&] {
    return SecretString(connection_->manager().CreateHelperTokenFor(uid, credential_cache));
  });
}

Result<std::optional<AccountProxySettings>> Client::GetAccountProxy(std::uint32_t uid) {
  return Call([&]() -> std::optional<AccountProxySettings> {
    auto [set, mode, list, bypass, url] = connection_->manager().GetAccountProxy(uid);
    if (!set) return std::nullopt;
    return AccountProxySettings{mode, list, bypass, url};
  });
}

Result<std::vector<StoreCertificate>> Client::ListCertificates(std::uint32_t location,
                                                               const std::string& store) {
  auto wire = Call([&] { return connection_->manager().ListCertificates(location, store); });
  if (!wire) return wire.error();
  std::vector<StoreCertificate> certificates;
  for (const auto& item : *wire) {
    certificates.push_back(
        {std::get<0>(item), std::get<1>(item), static_cast<std::int64_t>(std::get<2>(item))});
  }
  return certificates;
}

Result<std::string> Client::GetErrorDescription(HRESULT code) {
  return Call([&] { return connection_->manager().GetErrorDescription(code, 0); });
}

Job::Job(std::shared_ptr<Connection> connection, Guid id)
    : connection_(std::move(connection)), id_(id) {}

Status Job::AddFile(const std::string& remote_url, const std::string& local_name) {
  return Call([&] { connection_->Job(id_)->AddFile(remote_url, local_name); });
}

Status Job::AddFileSet(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<sdbus::Struct<std::string, std::string>> set;
  for (const auto& [remote, local] : files) set.emplace_back(remote, local);
  return Call([&] { connection_->Job(id_)->AddFileSet(set); });
}

Status Job::AddFileWithRanges(const std::string& remote_url, const std::string& local_name,
                              const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges) {
  std::vector<sdbus::Struct<uint64_t, uint64_t>> wire;
  for (const auto& [offset, length] : ranges) wire.emplace_back(offset, length);
  return Call([&] { connection_->Job(id_)->AddFileWithRanges(remote_url, local_name, wire); });
}

Result<std::vector<std::pair<std::uint64_t, std::uint64_t>>> Job::GetFileRanges(
    std::uint32_t file_index) {
  auto wire = Call([&] { return connection_->Job(id_)->GetFileRanges(file_index); });
  if (!wire) return wire.error();
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  for (const auto& range : *wire) ranges.emplace_back(std::get<0>(range), std::get<1>(range));
  return ranges;
}

Result<std::vector<FileInfo>> Job::EnumFiles() {
  auto files = Call([&] { return connection_->Job(id_)->EnumFiles(); });
  if (!files) return files.error();
  std::vector<FileInfo> out;
  for (const auto& f : *files) {
    out.push_back({std::get<0>(f), std::get<1>(f), std::get<2>(f), std::get<3>(f), std::get<4>(f)});
  }
  return out;
}

Status Job::Resume() {
  return Call([&] { connection_->Job(id_)->Resume(); });
}
Status Job::Suspend() {
  return Call([&] { connection_->Job(id_)->Suspend(); });
}
Result<HRESULT> Job::Cancel() {
  return Call([&] { return static_cast<HRESULT>(connection_->Job(id_)->Cancel()); });
}
Result<HRESULT> Job::Complete() {
  return Call([&] { return static_cast<HRESULT>(connection_->Job(id_)->Complete()); });
}

Result<JobProgress> Job::GetProgress() {
  auto p = Call([&] { return connection_->Job(id_)->GetProgress(); });
  if (!p) return p.error();
  return JobProgress{std::get<0>(*p), std::get<1>(*p), std::get<2>(*p), std::get<3>(*p)};
}

Result<JobState> Job::GetState() {
  auto state = Call([&] { return connection_->Job(id_)->GetState(); });
  if (!state) return state.error();
  return static_cast<JobState>(*state);
}

Result<JobErrorInfo> Job::GetError() {
  auto e = Call([&] { return connection_->Job(id_)->GetError(); });
  if (!e) return e.error();
  JobErrorInfo info;
  info.context = static_cast<ErrorContext>(std::get<0>(*e));
  info.code = std::get<1>(*e);
  if (std::get<2>(*e) >= 0) info.file_index = static_cast<std::uint32_t>(std::get<2>(*e));
  info.protocol = std::get<3>(*e);
  info.description = std::get<4>(*e);
  return info;
}

Result<std::uint32_t> Job::GetErrorCount() {
  return Call([&] { return connection_->Job(id_)->GetErrorCount(); });
}

Result<JobTimes> Job::GetTimes() {
  auto t = Call([&] { return connection_->Job(id_)->GetTimes(); });
  if (!t) return t.error();
  return JobTimes{static_cast<std::int64_t>(std::get<0>(*t)),
                  static_cast<std::int64_t>(std::get<1>(*t)),
                  static_cast<std::int64_t>(std::get<2>(*t))};
}

Result<JobOwner> Job::GetOwner() {
  auto owner = Call([&] { return connection_->Job(id_)->GetOwner(); });
  if (!owner) return owner.error();
  return JobOwner{std::get<0>(*owner), std::get<1>(*owner)};
}

Result<JobType> Job::GetType() {
  auto type = Call([&] { return connection_->Job(id_)->GetType(); });
  if (!type) return type.error();
  return static_cast<JobType>(*type);
}

Status Job::SetDisplayName(const std::string& name) {
  return Call([&] { connection_->Job(id_)->SetDisplayName(name); });
}
Result<std::string> Job::GetDisplayName() {
  return Call([&] { return connection_->Job(id_)->GetDisplayName(); });
}
Status Job::SetDescription(const std::string& description) {
  return Call([&] { connection_->Job(id_)->SetDescription(description); });
}
Result<std::string> Job::GetDescription() {
  return Call([&] { return connection_->Job(id_)->GetDescription(); });
}
Status Job::SetPriority(JobPriority priority) {
  return Call([&] { connection_->Job(id_)->SetPriority(static_cast<uint32_t>(priority)); });
}
Result<JobPriority> Job::GetPriority() {
  auto priority = Call([&] { return connection_->Job(id_)->GetPriority(); });
  if (!priority) return priority.error();
  return static_cast<JobPriority>(*priority);
}
Status Job::SetMinimumRetryDelay(std::uint32_t seconds) {
  return Call([&] { connection_->Job(id_)->SetMinimumRetryDelay(seconds); });
}
Result<std::uint32_t> Job::GetMinimumRetryDelay() {
  return Call([&] { return connection_->Job(id_)->GetMinimumRetryDelay(); });
}
Status Job::SetNoProgressTimeout(std::uint32_t seconds) {
  return Call([&] { connection_->Job(id_)->SetNoProgressTimeout(seconds); });
}
Result<std::uint32_t> Job::GetNoProgressTimeout() {
  return Call([&] { return connection_->Job(id_)->GetNoProgressTimeout(); });
}
Status Job::SetRemoteName(std::uint32_t file_index, const std::string& remote_url) {
  return Call([&] { connection_->Job(id_)->SetRemoteName(file_index, remote_url); });
}
Status Job::ReplaceRemotePrefix(const std::string& old_prefix, const std::string& new_prefix) {
  return Call([&] { connection_->Job(id_)->ReplaceRemotePrefix(old_prefix, new_prefix); });
}
Result<std::string> Job::GetTemporaryName(std::uint32_t file_index) {
  return Call([&] { return connection_->Job(id_)->GetTemporaryName(file_index); });
}
Status Job::SetValidationState(std::uint32_t file_index, bool valid) {
  return Call([&] { connection_->Job(id_)->SetValidationState(file_index, valid); });
}
Result<bool> Job::GetValidationState(std::uint32_t file_index) {
  return Call([&] { return connection_->Job(id_)->GetValidationState(file_index); });
}
Result<std::string> Job::GetHttpResponseHeaders(std::uint32_t file_index) {
  return Call([&] {
    return connection_->Job(id_)
        ->GetFileProperty(file_index, kFilePropertyHttpResponseHeaders)
        .get<std::string>();
  });
}
Status Job::SetSecurityFlags(std::uint32_t flags) {
  return Call([&] { connection_->Job(id_)->SetSecurityFlags(flags); });
}
Result<std::uint32_t> Job::GetSecurityFlags() {
  return Call([&] { return connection_->Job(id_)->GetSecurityFlags(); });
}
Status Job::SetMaximumDownloadTime(std::uint32_t seconds) {
  return Call([&] { connection_->Job(id_)->SetMaximumDownloadTime(seconds); });
}
Result<std::uint32_t> Job::GetMaximumDownloadTime() {
  return Call([&] { return connection_->Job(id_)->GetMaximumDownloadTime(); });
}
Status Job::SetProxySettings(ProxyUsage usage, const std::string& list, const std::string& bypass) {
  return Call(
      [&] { connection_->Job(id_)->SetProxySettings(static_cast<uint32_t>(usage), list, bypass); });
}
Result<Job::ProxySettings> Job::GetProxySettings() {
  return Call([&] {
    auto [usage, list, bypass] = connection_->Job(id_)->GetProxySettings();
    return ProxySettings{static_cast<ProxyUsage>(usage), list, bypass};
  });
}
Status Job::SetCredentials(AuthTarget target, AuthScheme scheme, const SecretString& user,
                           const SecretString& password) {
  return Call([&] {
    connection_->Job(id_)->SetCredentials(
        static_cast<uint32_t>(target), static_cast<uint32_t>(scheme), false,
        std::string(user.reveal()), std::string(password.reveal()), "", "");
  });
}
Status Job::SetImplicitCredentials(AuthTarget target, AuthScheme scheme) {
  const char* ccache = std::getenv("KRB5CCNAME");
  const char* ntlm_users = std::getenv("NTLM_USER_FILE");
  return Call([&] {
    connection_->Job(id_)->SetCredentials(static_cast<uint32_t>(target),
                                          static_cast<uint32_t>(scheme), true, "", "",
                                          ccache ? ccache : "", ntlm_users ? ntlm_users : "");
  });
}
Status Job::SetHelperToken(const SecretString& token) {
  return Call([&] { connection_->Job(id_)->SetHelperToken(std::string(token.reveal())); });
}
Status Job::ClearHelperToken() {
  return Call([&] { connection_->Job(id_)->ClearHelperToken(); });
}
Status Job::SetHelperTokenFlags(std::uint32_t flags) {
  return Call([&] { connection_->Job(id_)->SetHelperTokenFlags(flags); });
}
Result<std::uint32_t> Job::GetHelperTokenFlags() {
  return Call([&] { return connection_->Job(id_)->GetHelperTokenFlags(); });
}
Result<std::string> Job::GetHelperTokenSid() {
  return Call([&] { return connection_->Job(id_)->GetHelperTokenSid(); });
}
Result<HRESULT> Job::RemoveCredentials(AuthTarget target, AuthScheme scheme) {
  return Call([&] {
    return static_cast<HRESULT>(connection_->Job(id_)->RemoveCredentials(
        static_cast<uint32_t>(target), static_cast<uint32_t>(scheme)));
  });
}
Status Job::SetCustomHeaders(const std::string& headers) {
  return Call([&] { connection_->Job(id_)->SetCustomHeaders(headers); });
}
Result<std::string> Job::GetCustomHeaders() {
  return Call([&] { return connection_->Job(id_)->GetCustomHeaders(); });
}
Status Job::MakeCustomHeadersWriteOnly() {
  return Call([&] { connection_->Job(id_)->MakeCustomHeadersWriteOnly(); });
}
Status Job::SetHttpMethod(const std::string& method) {
  return Call([&] { connection_->Job(id_)->SetHttpMethod(method); });
}
Result<std::string> Job::GetHttpMethod() {
  return Call([&] { return connection_->Job(id_)->GetHttpMethod(); });
}

namespace {
template <typename T>
Status SetJobProperty(JobProxy& proxy, JobPropertyId id, T value) {
  return Call([&] { proxy.SetProperty(static_cast<uint32_t>(id), sdbus::Variant(value)); });
}
template <typename T>
Result<T> GetJobProperty(JobProxy& proxy, JobPropertyId id) {
  return Call([&] { return proxy.GetProperty(static_cast<uint32_t>(id)).get<T>(); });
}
}  // namespace

Status Job::SetDynamicContent(bool enable) {
  return SetJobProperty(*connection_->Job(id_), JobPropertyId::kDynamicContent, enable);
}
Status Job::SetHighPerformance(bool enable) {
  return SetJobProperty(*connection_->Job(id_), JobPropertyId::kHighPerformance, enable);
}
Status Job::SetMaxDownloadSize(std::uint64_t bytes) {
  return SetJobProperty(*connection_->Job(id_), JobPropertyId::kMaxDownloadSize, bytes);
}
Status Job::SetUseStoredCredentials(std::uint32_t targets) {
  return SetJobProperty(*connection_->Job(id_), JobPropertyId::kUseStoredCredentials, targets);
}
Result<std::uint32_t> Job::GetUseStoredCredentials() {
  return GetJobProperty<std::uint32_t>(*connection_->Job(id_),
                                       JobPropertyId::kUseStoredCredentials);
}
Status Job::SetMinimumNotificationInterval(std::uint32_t milliseconds) {
  return SetJobProperty(*connection_->Job(id_), JobPropertyId::kMinimumNotificationIntervalMs,
                        milliseconds);
}
Result<bool> Job::GetDynamicContent() {
  return GetJobProperty<bool>(*connection_->Job(id_), JobPropertyId::kDynamicContent);
}
Result<bool> Job::GetHighPerformance() {
  return GetJobProperty<bool>(*connection_->Job(id_), JobPropertyId::kHighPerformance);
}
Result<std::uint64_t> Job::GetMaxDownloadSize() {
  return GetJobProperty<std::uint64_t>(*connection_->Job(id_), JobPropertyId::kMaxDownloadSize);
}
Result<std::uint32_t> Job::GetMinimumNotificationInterval() {
  return GetJobProperty<std::uint32_t>(*connection_->Job(id_),
                                       JobPropertyId::kMinimumNotificationIntervalMs);
}
Status Job::SetParallelFiles(std::uint32_t files) {
  return SetJobProperty(*connection_->Job(id_), JobPropertyId::kParallelFiles, files);
}
Result<std::uint32_t> Job::GetParallelFiles() {
  return GetJobProperty<std::uint32_t>(*connection_->Job(id_), JobPropertyId::kParallelFiles);
}

Status Job::SetClientCertificateByID(std::uint32_t location, const std::string& store,
                                     const std::string& sha1_hex) {
  std::vector<uint8_t> sha1;
  for (std::size_t i = 0; i + 1 < sha1_hex.size(); i += 2) {
    char* end = nullptr;
    const std::string pair = sha1_hex.substr(i, 2);
    const long byte = std::strtol(pair.c_str(), &end, 16);
    if (*end != '\0') return Error::InvalidArg("the thumbprint is not hexadecimal");
    sha1.push_back(static_cast<uint8_t>(byte));
  }
  if (sha1_hex.size() != 40) return Error::InvalidArg("a SHA-1 thumbprint has 40 hex digits");
  return Call([&] { connection_->Job(id_)->SetClientCertificateByID(location, store, sha1); });
}
Status Job::SetClientCertificateByName(std::uint32_t location, const std::string& store,
                                       const std::string& subject) {
  return Call([&] { connection_->Job(id_)->SetClientCertificateByName(location, store, subject); });
}
Status Job::RemoveClientCertificate() {
  return Call([&] { connection_->Job(id_)->RemoveClientCertificate(); });
}
Result<ClientCertificate> Job::GetClientCertificate() {
  auto wire = Call([&] { return connection_->Job(id_)->GetClientCertificate(); });
  if (!wire) return wire.error();
  ClientCertificate certificate{std::get<0>(*wire), std::get<1>(*wire), "", std::get<3>(*wire)};
  static constexpr char kHex[] = "0123456789abcdef";
  for (uint8_t b : std::get<2>(*wire)) {
    certificate.sha1 += kHex[b >> 4];
    certificate.sha1 += kHex[b & 0xF];
  }
  return certificate;
}
Status Job::TakeOwnership() {
  return Call([&] { connection_->Job(id_)->TakeOwnership(); });
}
Status Job::SetNotifyFlags(std::uint32_t flags) {
  return Call([&] { connection_->Job(id_)->SetNotifyFlags(flags); });
}
Result<std::uint32_t> Job::GetNotifyFlags() {
  return Call([&] { return connection_->Job(id_)->GetNotifyFlags(); });
}
Status Job::SetNotifyCmdLine(const std::string& program, const std::string& parameters) {
  return Call([&] { connection_->Job(id_)->SetNotifyCmdLine(program, parameters); });
}
Result<NotifyCmdLine> Job::GetNotifyCmdLine() {
  auto line = Call([&] { return connection_->Job(id_)->GetNotifyCmdLine(); });
  if (!line) return line.error();
  return NotifyCmdLine{std::get<0>(*line), std::get<1>(*line)};
}

}  // namespace openbits
