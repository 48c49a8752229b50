#include "ipc/job_adaptor.h"

#include "core/proxy_settings.h"
#include "identity/users.h"
#include "ipc/error_names.h"
#include "openbits/dbus_names.h"

namespace openbits::ipc {

JobAdaptor::JobAdaptor(FallbackObject& object, core::JobManager& manager, CallerRegistry& callers,
                       SlowCalls& slow_calls)
    : Job_adaptor(object),
      TokenOptions_adaptor(object),
      object_(object),
      manager_(manager),
      callers_(callers),
      slow_calls_(slow_calls) {}

Guid JobAdaptor::CurrentJob() const {
  const std::string path = object_.getCurrentlyProcessedMessage()->getPath();
  const auto id = JobIdOfPath(path);
  // FallbackObject asked JobObjects, which accepts job paths only.
  if (!id) throw ToDbusError(Error::InvalidArg("'" + path + "' is not a job path"));
  return *id;
}

core::Caller JobAdaptor::CurrentCaller() {
  return callers_.Resolve(*object_.getCurrentlyProcessedMessage());
}

std::uint32_t JobAdaptor::CallerFileMode() {
  return callers_.FileCreationMode(*object_.getCurrentlyProcessedMessage());
}

core::Job JobAdaptor::Snapshot() {
  return ValueOrThrow(manager_.GetJob(CurrentCaller(), CurrentJob()));
}

template <typename... Args>
void JobAdaptor::Unicast(const Guid& job, const std::vector<std::string>& destinations,
                         const char* signal_name, const Args&... args) {
  const std::string path = dbus::JobPath(job);
  for (const std::string& destination : destinations) {
    auto signal = object_.CreateSignalAt(path, dbus::kJobInterface, signal_name);
    ((signal << args), ...);
    signal.setDestination(destination);
    signal.send();
  }
}

void JobAdaptor::SendJobTransferred(const Guid& job, const std::vector<std::string>& destinations) {
  Unicast(job, destinations, "JobTransferred");
}

void JobAdaptor::SendJobError(const Guid& job, const std::vector<std::string>& destinations,
                              HRESULT code, ErrorContext context) {
  Unicast(job, destinations, "JobError", static_cast<uint32_t>(code),
          static_cast<uint32_t>(context));
}

void JobAdaptor::SendJobModification(const Guid& job, const std::vector<std::string>& destinations,
                                     JobState state) {
  Unicast(job, destinations, "JobModification", static_cast<uint32_t>(state));
}

void JobAdaptor::SendFileTransferred(const Guid& job, const std::vector<std::string>& destinations,
                                     std::uint32_t file_index) {
  Unicast(job, destinations, "FileTransferred", static_cast<uint32_t>(file_index));
}

void JobAdaptor::AddFile(const std::string& remote_url, const std::string& local_name) {
  core::FileSpec spec{remote_url, local_name, {}};
  spec.mode = CallerFileMode();
  ThrowIfError(manager_.AddFiles(CurrentCaller(), CurrentJob(), {spec}));
}

void JobAdaptor::AddFileSet(const std::vector<sdbus::Struct<std::string, std::string>>& files) {
  std::vector<core::FileSpec> specs;
  const std::uint32_t mode = CallerFileMode();
  for (const auto& file : files) {
    specs.push_back({std::get<0>(file), std::get<1>(file), {}});
    specs.back().mode = mode;
  }
  ThrowIfError(manager_.AddFiles(CurrentCaller(), CurrentJob(), specs));
}

void JobAdaptor::AddFileWithRanges(const std::string& remote_url, const std::string& local_name,
                                   const std::vector<sdbus::Struct<uint64_t, uint64_t>>& ranges) {
  core::FileSpec spec{remote_url, local_name, {}};
  for (const auto& range : ranges) spec.ranges.push_back({std::get<0>(range), std::get<1>(range)});
  spec.mode = CallerFileMode();
  ThrowIfError(manager_.AddFiles(CurrentCaller(), CurrentJob(), {spec}));
}

std::vector<sdbus::Struct<uint64_t, uint64_t>> JobAdaptor::GetFileRanges(
    const uint32_t& file_index) {
  std::vector<sdbus::Struct<uint64_t, uint64_t>> ranges;
  const core::Job job = Snapshot();  // FileOf returns into it: keep it alive
  for (const core::FileRange& range : FileOf(job, file_index).ranges) {
    ranges.emplace_back(range.offset, range.length);
  }
  return ranges;
}

std::vector<sdbus::Struct<std::string, std::string, uint64_t, uint64_t, bool>>
JobAdaptor::EnumFiles() {
  std::vector<sdbus::Struct<std::string, std::string, uint64_t, uint64_t, bool>> files;
  for (const core::JobFile& file : Snapshot().files) {
    files.emplace_back(file.remote_url, file.local_path, file.bytes_total, file.bytes_transferred,
                       file.completed);
  }
  return files;
}

void JobAdaptor::Resume() { ThrowIfError(manager_.Resume(CurrentCaller(), CurrentJob())); }
void JobAdaptor::Suspend() { ThrowIfError(manager_.Suspend(CurrentCaller(), CurrentJob())); }
// Who calls on which job is read from the message here, on the bus thread; the work runs on
// SlowCalls with exactly those. It holds the manager, not this adaptor: the workers finish
// after the adaptor is gone.
void JobAdaptor::Cancel(sdbus::Result<uint32_t>&& reply) {
  slow_calls_.Run<uint32_t>(std::move(reply),
                            [&manager = manager_, caller = CurrentCaller(), job = CurrentJob()]() {
                              return manager.Cancel(caller, job);
                            });
}
void JobAdaptor::Complete(sdbus::Result<uint32_t>&& reply) {
  slow_calls_.Run<uint32_t>(std::move(reply),
                            [&manager = manager_, caller = CurrentCaller(), job = CurrentJob()]() {
                              return manager.Complete(caller, job);
                            });
}

sdbus::Struct<uint64_t, uint64_t, uint32_t, uint32_t> JobAdaptor::GetProgress() {
  const JobProgress progress = Read([](const core::Job& job) { return job.Progress(); });
  return {progress.bytes_total, progress.bytes_transferred, progress.files_total,
          progress.files_transferred};
}

uint32_t JobAdaptor::GetState() {
  return Read([](const core::Job& job) { return static_cast<uint32_t>(job.state); });
}

sdbus::Struct<uint32_t, uint32_t, int32_t, std::string, std::string> JobAdaptor::GetError() {
  const core::Job job = Snapshot();
  if (!job.error || (job.state != JobState::kError && job.state != JobState::kTransientError)) {
    throw ToDbusError(
        Error(hr::BG_E_ERROR_INFORMATION_UNAVAILABLE, ErrorContext::kNone,
              "the job is in state " + std::string(JobStateName(job.state)) + " and has no error"));
  }
  const core::JobError& error = *job.error;
  std::string protocol;
  int32_t file_index = -1;
  if (error.file_index && *error.file_index < job.files.size()) {
    file_index = static_cast<int32_t>(*error.file_index);
    const std::string& url = job.files[*error.file_index].remote_url;
    protocol = url.substr(0, url.find(':'));
  }
  std::string description = DescribeHresult(error.code);
  if (!error.message.empty()) description += " " + error.message;
  return {static_cast<uint32_t>(error.context), error.code, file_index, protocol, description};
}

uint32_t JobAdaptor::GetErrorCount() {
  return Read([](const core::Job& job) { return job.error_count; });
}

sdbus::Struct<uint64_t, uint64_t, uint64_t> JobAdaptor::GetTimes() {
  const JobTimes times = Read([](const core::Job& job) { return job.times; });
  return {static_cast<uint64_t>(times.creation_us), static_cast<uint64_t>(times.modification_us),
          static_cast<uint64_t>(times.transfer_completion_us)};
}

std::tuple<uint32_t, std::string> JobAdaptor::GetOwner() {
  const std::uint32_t uid = Snapshot().owner_uid;
  return {uid, identity::UserName(uid)};
}

std::string JobAdaptor::GetId() { return Snapshot().id.ToString(); }
uint32_t JobAdaptor::GetType() { return static_cast<uint32_t>(Snapshot().type); }

void JobAdaptor::SetDisplayName(const std::string& display_name) {
  ThrowIfError(manager_.SetDisplayName(CurrentCaller(), CurrentJob(), display_name));
}
std::string JobAdaptor::GetDisplayName() { return Snapshot().display_name; }

void JobAdaptor::SetDescription(const std::string& description) {
  ThrowIfError(manager_.SetDescription(CurrentCaller(), CurrentJob(), description));
}
std::string JobAdaptor::GetDescription() { return Snapshot().description; }

void JobAdaptor::SetPriority(const uint32_t& priority) {
  ThrowIfError(manager_.SetPriority(CurrentCaller(), CurrentJob(), priority));
}
uint32_t JobAdaptor::GetPriority() { return static_cast<uint32_t>(Snapshot().priority); }

void JobAdaptor::SetMinimumRetryDelay(const uint32_t& seconds) {
  ThrowIfError(manager_.SetMinimumRetryDelay(CurrentCaller(), CurrentJob(), seconds));
}
uint32_t JobAdaptor::GetMinimumRetryDelay() { return Snapshot().minimum_retry_delay_s; }

void JobAdaptor::SetNoProgressTimeout(const uint32_t& seconds) {
  ThrowIfError(manager_.SetNoProgressTimeout(CurrentCaller(), CurrentJob(), seconds));
}
uint32_t JobAdaptor::GetNoProgressTimeout() { return Snapshot().no_progress_timeout_s; }

const core::JobFile& JobAdaptor::FileOf(const core::Job& job, uint32_t file_index) {
  if (file_index >= job.files.size()) {
    throw ToDbusError(Error::InvalidArg("the job has no file " + std::to_string(file_index)));
  }
  return job.files[file_index];
}

void JobAdaptor::SetRemoteName(const uint32_t& file_index, const std::string& remote_url) {
  ThrowIfError(manager_.SetRemoteName(CurrentCaller(), CurrentJob(), file_index, remote_url));
}

void JobAdaptor::ReplaceRemotePrefix(const std::string& old_prefix, const std::string& new_prefix) {
  ThrowIfError(manager_.ReplaceRemotePrefix(CurrentCaller(), CurrentJob(), old_prefix, new_prefix));
}

std::string JobAdaptor::GetTemporaryName(const uint32_t& file_index) {
  return FileOf(Snapshot(), file_index).temp_path;
}

void JobAdaptor::SetValidationState(const uint32_t& file_index, const bool& valid) {
  ThrowIfError(manager_.SetValidationState(CurrentCaller(), CurrentJob(), file_index, valid));
}

bool JobAdaptor::GetValidationState(const uint32_t& file_index) {
  return FileOf(Snapshot(), file_index).validation_state.value_or(false);
}

sdbus::Variant JobAdaptor::GetFileProperty(const uint32_t& file_index,
                                           const uint32_t& property_id) {
  const core::Job job = Snapshot();
  const core::JobFile& file = FileOf(job, file_index);
  if (property_id != kFilePropertyHttpResponseHeaders) {
    throw ToDbusError(Error(hr::BG_E_UNKNOWN_PROPERTY_ID, ErrorContext::kNone,
                            "unknown file property " + std::to_string(property_id)));
  }
  return sdbus::Variant(file.response_headers);
}

void JobAdaptor::SetSecurityFlags(const uint32_t& flags) {
  ThrowIfError(manager_.SetSecurityFlags(CurrentCaller(), CurrentJob(), flags));
}
uint32_t JobAdaptor::GetSecurityFlags() { return Snapshot().security_flags; }

void JobAdaptor::SetMaximumDownloadTime(const uint32_t& seconds) {
  ThrowIfError(manager_.SetMaximumDownloadTime(CurrentCaller(), CurrentJob(), seconds));
}
uint32_t JobAdaptor::GetMaximumDownloadTime() { return Snapshot().maximum_download_time_s; }

void JobAdaptor::TakeOwnership() {
  ThrowIfError(manager_.TakeOwnership(CurrentCaller(), CurrentJob()));
}

void JobAdaptor::SetClientCertificateByID(const uint32_t& location, const std::string& store,
                                          const std::vector<uint8_t>& sha1) {
  if (sha1.size() != 20) {
    throw ToDbusError(Error::InvalidArg("a SHA-1 thumbprint has 20 bytes"));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (uint8_t b : sha1) {
    hex += kHex[b >> 4];
    hex += kHex[b & 0xF];
  }
  ThrowIfError(manager_.SetClientCertificate(CurrentCaller(), CurrentJob(),
                                             core::ClientCertificateRef{location, store, hex, ""}));
}

void JobAdaptor::SetClientCertificateByName(const uint32_t& location, const std::string& store,
                                            const std::string& subject) {
  if (subject.empty()) throw ToDbusError(Error::InvalidArg("the subject is empty"));
  ThrowIfError(manager_.SetClientCertificate(
      CurrentCaller(), CurrentJob(), core::ClientCertificateRef{location, store, "", subject}));
}

void JobAdaptor::RemoveClientCertificate() {
  ThrowIfError(manager_.SetClientCertificate(CurrentCaller(), CurrentJob(), std::nullopt));
}

std::tuple<uint32_t, std::string, std::vector<uint8_t>, std::string>
JobAdaptor::GetClientCertificate() {
  const core::Job job = Snapshot();
  if (!job.client_certificate) {
    throw ToDbusError(
        Error(hr::CRYPT_E_NOT_FOUND, ErrorContext::kNone, "the job has no client certificate"));
  }
  const core::ClientCertificateRef& ref = *job.client_certificate;
  std::vector<uint8_t> sha1;
  for (std::size_t i = 0; i + 1 < ref.sha1.size(); i += 2) {
    sha1.push_back(static_cast<uint8_t>(std::stoi(ref.sha1.substr(i, 2), nullptr, 16)));
  }
  return {ref.location, ref.store, sha1, ref.subject};
}

void JobAdaptor::SetHttpMethod(const std::string& method) {
  ThrowIfError(manager_.SetHttpMethod(CurrentCaller(), CurrentJob(), method));
}
std::string JobAdaptor::GetHttpMethod() {
  const std::string method = Snapshot().http_method;
  return method.empty() ? "GET" : method;
}

void JobAdaptor::SetProperty(const uint32_t& property_id, const sdbus::Variant& value) {
  // D-Bus variants carry their type; each property takes exactly one.
  core::PropertyValue typed;
  const std::string signature = value.peekValueType();
  if (signature == "b") {
    typed = value.get<bool>();
  } else if (signature == "u") {
    typed = value.get<uint32_t>();
  } else if (signature == "t") {
    typed = value.get<uint64_t>();
  } else if (signature == "s") {
    typed = value.get<std::string>();
  } else {
    throw ToDbusError(Error::InvalidArg("unsupported value type '" + signature + "'"));
  }
  ThrowIfError(manager_.SetProperty(CurrentCaller(), CurrentJob(),
                                    static_cast<JobPropertyId>(property_id), typed));
}

sdbus::Variant JobAdaptor::GetProperty(const uint32_t& property_id) {
  auto value =
      manager_.GetProperty(CurrentCaller(), CurrentJob(), static_cast<JobPropertyId>(property_id));
  if (!value) throw ToDbusError(value.error());
  return std::visit([](const auto& v) { return sdbus::Variant(v); }, *value);
}

void JobAdaptor::SetProxySettings(const uint32_t& usage, const std::string& list,
                                  const std::string& bypass) {
  ThrowIfError(manager_.SetProxySettings(CurrentCaller(), CurrentJob(), usage, list, bypass));
}

std::tuple<uint32_t, std::string, std::string> JobAdaptor::GetProxySettings() {
  const core::Job job = Snapshot();
  // Never a password, even one an older version accepted in the list.
  return {static_cast<uint32_t>(job.proxy.usage), core::RedactProxyUserinfo(job.proxy.list),
          job.proxy.bypass};
}

void JobAdaptor::SetCredentials(const uint32_t& target, const uint32_t& scheme,
                                const bool& implicit, const std::string& user,
                                const std::string& password, const std::string& credential_cache,
                                const std::string& ntlm_user_file) {
  core::Credential credential;
  credential.target = static_cast<AuthTarget>(target);
  credential.scheme = static_cast<AuthScheme>(scheme);
  credential.implicit = implicit;
  credential.user = SecretString(user);
  credential.password = SecretString(password);
  credential.credential_cache = credential_cache;
  credential.ntlm_user_file = ntlm_user_file;
  ThrowIfError(manager_.SetCredentials(CurrentCaller(), CurrentJob(), credential));
}

uint32_t JobAdaptor::RemoveCredentials(const uint32_t& target, const uint32_t& scheme) {
  auto removed = manager_.RemoveCredentials(CurrentCaller(), CurrentJob(), target, scheme);
  if (!removed) throw ToDbusError(removed.error());
  return *removed;
}

void JobAdaptor::SetCustomHeaders(const std::string& headers) {
  ThrowIfError(manager_.SetCustomHeaders(CurrentCaller(), CurrentJob(), SecretString(headers)));
}

std::string JobAdaptor::GetCustomHeaders() {
  auto headers = manager_.GetCustomHeaders(CurrentCaller(), CurrentJob());
  if (!headers) throw ToDbusError(headers.error());
  return std::string(headers->reveal());
}

void JobAdaptor::MakeCustomHeadersWriteOnly() {
  ThrowIfError(manager_.MakeCustomHeadersWriteOnly(CurrentCaller(), CurrentJob()));
}

void JobAdaptor::SetNotifyFlags(const uint32_t& flags) {
  ThrowIfError(manager_.SetNotifyFlags(CurrentCaller(), CurrentJob(), flags));
}
uint32_t JobAdaptor::GetNotifyFlags() { return Snapshot().notify_flags; }

void JobAdaptor::SetNotifyCmdLine(const std::string& program, const std::string& parameters) {
  ThrowIfError(manager_.SetNotifyCmdLine(CurrentCaller(), CurrentJob(), program, parameters));
}
std::tuple<std::string, std::string> JobAdaptor::GetNotifyCmdLine() {
  const core::Job job = Snapshot();
  if (!job.notify_command) return {"", ""};
  return {job.notify_command->program, job.notify_command->parameters};
}

void JobAdaptor::SetHelperToken(const std::string& token) {
  ThrowIfError(manager_.SetHelperToken(CurrentCaller(), CurrentJob(), SecretString(token)));
}

void JobAdaptor::ClearHelperToken() {
  ThrowIfError(manager_.ClearHelperToken(CurrentCaller(), CurrentJob()));
}

void JobAdaptor::SetHelperTokenFlags(const uint32_t& flags) {
  ThrowIfError(manager_.SetHelperTokenFlags(CurrentCaller(), CurrentJob(), flags));
}

uint32_t JobAdaptor::GetHelperTokenFlags() {
  return ValueOrThrow(manager_.GetHelperBinding(CurrentCaller(), CurrentJob())).flags;
}

std::string JobAdaptor::GetHelperTokenSid() {
  const core::HelperBinding binding =
      ValueOrThrow(manager_.GetHelperBinding(CurrentCaller(), CurrentJob()));
  if (!binding.identity) return "";
  const std::uint32_t uid = binding.identity->uid;
  return "uid:" + std::to_string(uid) + " (" + identity::UserName(uid) + ")";
}

}  // namespace openbits::ipc
