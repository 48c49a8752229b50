// JobManager: the setters of job and file properties beyond the basics (remote names,
// validation, security flags, download time, ownership, custom headers, notifications).
#include "core/core_log.h"
#include "core/job_manager.h"

#include <cctype>

namespace openbits::core {

Status JobManager::SetRemoteName(const Caller& caller, const Guid& id, std::uint32_t file_index,
                                 const std::string& url) {
  OPENBITS_RETURN_IF_ERROR(ValidateRemoteUrl(url));
  return Mutate(caller, id, JobAction::kChangeOrigin, [&](Job& job) -> Status {
    if (file_index >= job.files.size()) {
      return Error::InvalidArg("the job has no file " + std::to_string(file_index));
    }
    job.files[file_index].remote_url = url;
    return Ok();
  });
}

Status JobManager::ReplaceRemotePrefix(const Caller& caller, const Guid& id,
                                       const std::string& old_prefix,
                                       const std::string& new_prefix) {
  if (old_prefix.empty() || new_prefix.empty()) {
    return Error::InvalidArg("both prefixes must be given");
  }
  if (old_prefix.size() > kMaxUrlLength || new_prefix.size() > kMaxUrlLength) {
    return Error::InvalidArg("a prefix is longer than a URL may be (" +
                             std::to_string(kMaxUrlLength) + " characters)");
  }
  return Mutate(caller, id, JobAction::kChangeOrigin, [&](Job& job) -> Status {
    std::vector<std::string> urls;
    for (const JobFile& file : job.files) {
      std::string url = file.remote_url;
      if (url.starts_with(old_prefix)) url = new_prefix + url.substr(old_prefix.size());
      OPENBITS_RETURN_IF_ERROR(ValidateRemoteUrl(url));  // all or nothing
      urls.push_back(std::move(url));
    }
    for (std::size_t i = 0; i < urls.size(); ++i) job.files[i].remote_url = std::move(urls[i]);
    return Ok();
  });
}

Status JobManager::SetValidationState(const Caller& caller, const Guid& id,
                                      std::uint32_t file_index, bool valid) {
  Notifications notifications;
  {
    MutexLock lock(mutex_);
    auto found = FindFor(caller, id, JobAction::kControl);
    if (!found) return found.error();
    Entry* entry = *found;
    if (file_index >= entry->job.files.size()) {
      return Error::InvalidArg("the job has no file " + std::to_string(file_index));
    }
    if (!entry->job.files[file_index].completed) {
      return Error::InvalidState("file " + std::to_string(file_index) + " is not transferred yet");
    }
    entry->job.files[file_index].validation_state = valid;
    if (valid) {
      OPENBITS_RETURN_IF_ERROR(store_.Save(entry->job));
    } else {
      // The content is refused: the file starts over on the next Resume.
      if (entry->worker_running) {
        StopRun(*entry);
        StopWorkerAndWait(id);
        found = FindFor(caller, id, JobAction::kControl);
        if (!found) return found.error();
        entry = *found;
      }
      JobFile& file = entry->job.files[file_index];
      file.completed = false;
      file.bytes_committed = file.bytes_transferred = 0;
      file.validators = {};
      entry->job.error = JobError{hr::BG_E_VALIDATION_FAILED, ErrorContext::kRemoteFile, file_index,
                                  "the application rejected " + file.remote_url};
      ++entry->job.error_count;
      OPENBITS_RETURN_IF_ERROR(Transition(*entry, JobEvent::kRejected, notifications));
    }
  }
  Dispatch(notifications);
  return Ok();
}

Status JobManager::SetSecurityFlags(const Caller& caller, const Guid& id, std::uint32_t flags) {
  const std::uint32_t policy = flags & kRedirectPolicyMask;
  if ((flags & ~kSecurityFlagsKnown) != 0 ||
      (policy != kRedirectPolicyAllowSilent && policy != kRedirectPolicyAllowReport &&
       policy != kRedirectPolicyDisallow)) {
    return Error(hr::E_NOTIMPL, ErrorContext::kNone,
                 "unsupported security flags " + FormatHresult(flags));
  }
  // Which servers the job trusts (certificate checks, redirects) decides where its secrets go.
  return Mutate(caller, id, JobAction::kChangeOrigin, [&](Job& job) {
    job.security_flags = flags;
    return Ok();
  });
}

Status JobManager::SetMaximumDownloadTime(const Caller& caller, const Guid& id,
                                          std::uint32_t seconds) {
  const Status status = Mutate(caller, id, JobAction::kConfigure, [&](Job& job) {
    job.maximum_download_time_s = seconds;
    return Ok();
  });
  scheduler_wakeup_.NotifyAll();
  return status;
}

Status JobManager::TakeOwnership(const Caller& caller, const Guid& id) {
  const FileOwner new_owner{caller.uid, caller.gid};
  Notifications notifications;
  MutexLock lock(mutex_);
  auto found = FindFor(caller, id, JobAction::kTakeOwnership);
  if (!found) return found.error();
  Entry* entry = *found;
  if (entry->job.owner_uid == caller.uid) return Ok();
  // The transfer holds files open as the old owner: stop it first, and start none until the
  // files and the job have changed hands.
  Hold(*entry);
  if (entry->worker_running) {
    StopRun(*entry);
    (void)Transition(*entry, JobEvent::kYield, notifications);
    StopWorkerAndWait(id);
  }
  found = FindFor(caller, id, JobAction::kTakeOwnership);
  if (!found) {
    Release(id);
    return found.error();
  }
  const Job job = (*found)->job;
  lock.Unlock();
  // Whatever the outcome, the job may run again afterwards.
  struct ReleaseHold {
    JobManager& manager;
    const Guid& id;
    ~ReleaseHold() {
      MutexLock relock(manager.mutex_);
      manager.Release(id);
    }
  } release_hold{*this, id};
  for (const JobFile& file : job.files) {
    if (auto access = files_.CheckDestination(new_owner, file.local_path); !access) {
      return Error(hr::BG_E_NEW_OWNER_NO_FILE_ACCESS, ErrorContext::kLocalFile,
                   "uid " + std::to_string(caller.uid) + " cannot use " + file.local_path + ": " +
                       access.error().message());
    }
  }
  for (const JobFile& file : job.files) {
    OPENBITS_RETURN_IF_ERROR(files_.GiveTemp(new_owner, file.temp_path));
  }
  const Status status = Mutate(caller, id, JobAction::kTakeOwnership, [&](Job& changed) {
    changed.owner_uid = new_owner.uid;
    changed.owner_gid = new_owner.gid;
    // Secrets of the old owner do not pass to the new one.
    changed.notify_command.reset();
    changed.custom_headers = SecretString();
    changed.client_certificate.reset();
    changed.credentials.Clear();
    changed.custom_headers_write_only = false;
    // An identity lent to the old owner's job is not the new owner's; USE_STORED_CREDENTIALS
    // stays (it then names the new owner's store).
    changed.helper.identity.reset();
    changed.helper.flags = 0;

    return Ok();
  });
  if (status) {
    // The old owner's command line is gone, and so is any retry of it still pending
    // (RunDueNotifyCommands checks again before it runs anything).
    MutexLock relock(mutex_);
    if (auto it = jobs_.find(id); it != jobs_.end()) it->second.notify_due_us = 0;
    Log()->info("job={} taken over by uid {} from uid {}", id.ToString(), caller.uid,
                job.owner_uid);
  }
  Dispatch(notifications);
  return status;
}

Status JobManager::SetClientCertificate(const Caller& caller, const Guid& id,
                                        std::optional<ClientCertificateRef> reference) {
  if (reference) {
    OPENBITS_RETURN_IF_ERROR(ValidateClientCertificate(*reference));
    if (reference->subject.size() > kMaxCertificateSubjectLength) {
      return Error::InvalidArg("a certificate subject may have at most " +
                               std::to_string(kMaxCertificateSubjectLength) + " characters");
    }
  }
  const bool machine_key = reference && reference->location == kCertStoreLocationLocalMachine;
  return Mutate(caller, id,
                machine_key ? JobAction::kBindMachineCertificate : JobAction::kSetSecrets,
                [&](Job& job) {
                  job.client_certificate = reference;
                  return Ok();
                });
}

Status JobManager::SetCredentials(const Caller& caller, const Guid& id,
                                  const Credential& credential) {
  OPENBITS_RETURN_IF_ERROR(ValidateCredential(credential));
  return Mutate(caller, id, JobAction::kSetSecrets, [&](Job& job) {
    job.credentials.Set(credential);
    return Ok();
  });
}

Result<HRESULT> JobManager::RemoveCredentials(const Caller& caller, const Guid& id,
                                              std::uint32_t target, std::uint32_t scheme) {
  OPENBITS_RETURN_IF_ERROR(ValidateAuthSlot(target, scheme));
  bool removed = false;
  const Status status = Mutate(caller, id, JobAction::kSetSecrets, [&](Job& job) {
    removed =
        job.credentials.Remove(static_cast<AuthTarget>(target), static_cast<AuthScheme>(scheme));
    return Ok();
  });
  if (!status) return status.error();
  return removed ? hr::S_OK : hr::S_FALSE;
}

Status JobManager::SetProxySettings(const Caller& caller, const Guid& id, std::uint32_t usage,
                                    const std::string& list, const std::string& bypass) {
  OPENBITS_RETURN_IF_ERROR(ValidateProxySettings(usage, list, bypass));
  // The proxy sees every request (and, over http, its credentials and headers).
  return Mutate(caller, id, JobAction::kChangeOrigin, [&](Job& job) {
    job.proxy = {static_cast<ProxyUsage>(usage), list, bypass};
    return Ok();
  });
}

Status JobManager::SetCustomHeaders(const Caller& caller, const Guid& id,
                                    const SecretString& headers) {
  OPENBITS_RETURN_IF_ERROR(ValidateCustomHeaders(headers));
  return Mutate(caller, id, JobAction::kSetSecrets, [&](Job& job) {
    job.custom_headers = headers;
    return Ok();
  });
}

Result<SecretString> JobManager::GetCustomHeaders(const Caller& caller, const Guid& id) const {
  MutexLock lock(mutex_);
  auto entry = FindFor(caller, id, JobAction::kReadSecrets);
  if (!entry) return entry.error();
  if ((*entry)->job.custom_headers_write_only) {
    return Error::AccessDenied("the job's custom headers are write-only");
  }
  return (*entry)->job.custom_headers;
}

Status JobManager::MakeCustomHeadersWriteOnly(const Caller& caller, const Guid& id) {
  return Mutate(caller, id, JobAction::kSetSecrets, [&](Job& job) {
    job.custom_headers_write_only = true;
    return Ok();
  });
}

Status JobManager::SetHttpMethod(const Caller& caller, const Guid& id, const std::string& method) {
  OPENBITS_RETURN_IF_ERROR(ValidateHttpMethod(method));
  std::string upper = method;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  // What is asked of the origin, with the owner's credentials.
  return Mutate(caller, id, JobAction::kChangeOrigin, [&](Job& job) -> Status {
    if (job.resumed_once) {
      return Error(hr::BG_E_READ_ONLY_PROPERTY_AFTER_RESUME, ErrorContext::kNone,
                   "the HTTP method must be set before the job is first resumed");
    }
    if (upper == "GET") {
      job.http_method.clear();
      return Ok();
    }
    if (job.dynamic_content) {
      return Error(hr::BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD, ErrorContext::kNone,
                   "a dynamic-content job cannot use a custom HTTP method");
    }
    job.http_method = method;
    job.priority = JobPriority::kForeground;
    return Ok();
  });
}

namespace {

// The value of `value` as T, or E_INVALIDARG naming the property.
template <typename T>
Result<T> ValueAs(const PropertyValue& value, const char* property) {
  if (const T* typed = std::get_if<T>(&value)) return *typed;
  return Error::InvalidArg(std::string("wrong value type for ") + property);
}

}  // namespace

Status JobManager::SetProperty(const Caller& caller, const Guid& id, JobPropertyId property,
                               const PropertyValue& value) {
  auto read_only_after_resume = [](const Job& job) -> Status {
    if (job.resumed_once) {
      return Error(hr::BG_E_READ_ONLY_PROPERTY_AFTER_RESUME, ErrorContext::kNone,
                   "this property must be set before the job is first resumed");
    }
    return Ok();
  };
  switch (property) {
    case JobPropertyId::kDynamicContent: {
      auto enable = ValueAs<bool>(value, "DYNAMIC_CONTENT");
      if (!enable) return enable.error();
      return Mutate(caller, id, JobAction::kConfigure, [&](Job& job) -> Status {
        OPENBITS_RETURN_IF_ERROR(read_only_after_resume(job));
        if (*enable && !job.http_method.empty()) {
          return Error(hr::BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD, ErrorContext::kNone,
                       "a job with a custom HTTP method cannot be dynamic content");
        }
        for (const JobFile& file : job.files) {
          if (*enable && !file.ranges.empty()) {
            return Error::InvalidArg("a job with byte ranges cannot be dynamic content");
          }
        }
        job.dynamic_content = *enable;
        return Ok();
      });
    }
    case JobPropertyId::kHighPerformance: {
      auto enable = ValueAs<bool>(value, "HIGH_PERFORMANCE");
      if (!enable) return enable.error();
      return Mutate(caller, id, JobAction::kConfigure, [&](Job& job) -> Status {
        if (!job.files.empty()) {
          return Error(hr::BG_E_READ_ONLY_PROPERTY_AFTER_ADDFILE, ErrorContext::kNone,
                       "HIGH_PERFORMANCE must be set before files are added");
        }
        job.high_performance = *enable;
        return Ok();
      });
    }
    case JobPropertyId::kMaxDownloadSize: {
      auto size = ValueAs<std::uint64_t>(value, "MAX_DOWNLOAD_SIZE");
      if (!size) return size.error();
      if (*size == 0) {
        return Error(hr::BG_E_MAX_DOWNLOAD_SIZE_INVALID_VALUE, ErrorContext::kNone,
                     "the maximum download size must be at least one byte");
      }
      return Mutate(caller, id, JobAction::kConfigure, [&](Job& job) -> Status {
        OPENBITS_RETURN_IF_ERROR(read_only_after_resume(job));
        job.max_download_size = *size;
        return Ok();
      });
    }
    case JobPropertyId::kMinimumNotificationIntervalMs: {
      auto interval = ValueAs<std::uint32_t>(value, "MINIMUM_NOTIFICATION_INTERVAL_MS");
      if (!interval) return interval.error();
      return Mutate(caller, id, JobAction::kConfigure, [&](Job& job) {
        job.minimum_notification_interval_ms = *interval;
        return Ok();
      });
    }
    case JobPropertyId::kUseStoredCredentials: {
      // BITS takes a BG_AUTH_TARGET and supports only PROXY; 0 turns it off again.
      auto targets = ValueAs<std::uint32_t>(value, "USE_STORED_CREDENTIALS");
      if (!targets) return targets.error();
      if (*targets != 0 && *targets != static_cast<std::uint32_t>(AuthTarget::kProxy)) {
        return Error(hr::BG_E_USE_STORED_CREDENTIALS_NOT_SUPPORTED, ErrorContext::kNone,
                     "USE_STORED_CREDENTIALS supports only BG_AUTH_TARGET_PROXY (2), not " +
                         std::to_string(*targets));
      }
      return Mutate(caller, id, JobAction::kConfigure, [&](Job& job) {
        job.helper.stored_credentials = *targets;
        return Ok();
      });
    }
    case JobPropertyId::kParallelFiles: {
      auto files = ValueAs<std::uint32_t>(value, "OPENBITS_JOB_PROPERTY_PARALLEL_FILES");
      if (!files) return files.error();
      if (*files > kMaxParallelFiles) {
        return Error::InvalidArg(
            "OPENBITS_JOB_PROPERTY_PARALLEL_FILES is 0 (the daemon's "
            "default) to " +
            std::to_string(kMaxParallelFiles) + ", not " + std::to_string(*files));
      }
      // Read by the run each time it starts a file (NextFile): a running job takes the new
      // value as files finish, without a restart.
      return Mutate(caller, id, JobAction::kConfigure, [&](Job& job) {
        job.parallel_files = *files;
        return Ok();
      });
    }
    case JobPropertyId::kCostFlags:
    case JobPropertyId::kNotificationClsid:
    case JobPropertyId::kOnDemandMode:
      return Error(hr::E_NOTIMPL, ErrorContext::kNone,
                   "job property " + std::to_string(static_cast<int>(property)) +
                       " is not supported yet (see docs/compatibility.md)");
  }
  return Error(hr::BG_E_UNKNOWN_PROPERTY_ID, ErrorContext::kNone,
               "unknown job property " + std::to_string(static_cast<int>(property)));
}

Result<PropertyValue> JobManager::GetProperty(const Caller& caller, const Guid& id,
                                              JobPropertyId property) const {
  MutexLock lock(mutex_);
  auto entry = FindFor(caller, id, JobAction::kView);
  if (!entry) return entry.error();
  const Job& job = (*entry)->job;
  switch (property) {
    case JobPropertyId::kDynamicContent:
      return PropertyValue(job.dynamic_content);
    case JobPropertyId::kHighPerformance:
      return PropertyValue(job.high_performance);
    case JobPropertyId::kMaxDownloadSize:
      return PropertyValue(job.max_download_size);
    case JobPropertyId::kMinimumNotificationIntervalMs:
      return PropertyValue(job.minimum_notification_interval_ms);
    case JobPropertyId::kUseStoredCredentials:
      return PropertyValue(job.helper.stored_credentials);
    case JobPropertyId::kParallelFiles:
      return PropertyValue(job.parallel_files);
    case JobPropertyId::kCostFlags:
    case JobPropertyId::kNotificationClsid:
    case JobPropertyId::kOnDemandMode:
      return Error(
          hr::E_NOTIMPL, ErrorContext::kNone,
          "job property " + std::to_string(static_cast<int>(property)) + " is not supported yet");
  }
  return Error(hr::BG_E_UNKNOWN_PROPERTY_ID, ErrorContext::kNone,
               "unknown job property " + std::to_string(static_cast<int>(property)));
}

Status JobManager::SetNotifyFlags(const Caller& caller, const Guid& id, std::uint32_t flags) {
  if (flags & ~kNotifyAllFlags) {
    return Error(hr::E_NOTIMPL, ErrorContext::kNone,
                 "unknown notification flags " + FormatHresult(flags & ~kNotifyAllFlags));
  }
  return Mutate(caller, id, JobAction::kConfigure, [&](Job& job) {
    job.notify_flags = flags;
    return Ok();
  });
}

Status JobManager::SetNotifyCmdLine(const Caller& caller, const Guid& id,
                                    const std::string& program, const std::string& parameters) {
  const bool clear = program.empty() && parameters.empty();
  if (!clear) OPENBITS_RETURN_IF_ERROR(ValidateNotifyCommand(program, parameters));
  // The command line runs as the job's owner: only the owner sets it.
  const Status status = Mutate(caller, id, JobAction::kSetSecrets, [&](Job& job) {
    if (clear) {
      job.notify_command.reset();
    } else {
      job.notify_command = NotifyCommand{program, parameters, caller.uid, caller.gid};
    }
    return Ok();
  });
  if (!status) return status;
  {
    // BITS runs a command line registered after the event too.
    MutexLock lock(mutex_);
    auto it = jobs_.find(id);
    if (it != jobs_.end()) {
      Entry& entry = it->second;
      const bool due_state =
          entry.job.state == JobState::kTransferred || entry.job.state == JobState::kError;
      entry.notify_due_us = due_state && MayRunNotifyCommand(entry.job) ? clock_.NowUs() : 0;
      Reindex(entry);
    }
  }
  scheduler_wakeup_.NotifyAll();
  return Ok();
}

}  // namespace openbits::core
