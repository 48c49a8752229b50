// IBitsTokenOptions on JobManager: minting, binding and clearing helper tokens.
#include <string>

#include "core/core_log.h"
#include "core/job_manager.h"

namespace openbits::core {

Result<SecretString> JobManager::CreateHelperToken(const Caller& caller,
                                                   const std::string& credential_cache) {
  return CreateHelperTokenFor(caller, caller, credential_cache);
}

Result<SecretString> JobManager::CreateHelperTokenFor(const Caller& caller, const Caller& lender,
                                                      const std::string& credential_cache) {
  if (credential_cache.size() > kMaxCredentialCacheLength) {
    return Error::InvalidArg("the credential cache name is longer than " +
                             std::to_string(kMaxCredentialCacheLength) + " bytes");
  }
  if (lender.uid != caller.uid) {
    // BITS: an administrator may mint a token for any user; nobody else lends another's.
    if (!caller.is_admin) {
      return Error(hr::E_ACCESSDENIED, ErrorContext::kNone,
                   "only an administrator may create a helper token for another user (uid " +
                       std::to_string(lender.uid) + ")");
    }
    if (options_.user_exists && !options_.user_exists(lender.uid)) {
      return Error::InvalidArg("no user has uid " + std::to_string(lender.uid));
    }
  }
  // The cache must be the lent user's own, read as that user: a token never carries another
  // user's cache name. "" is the user's default cache, found by the transfer as that user.
  if (!credential_cache.empty() && options_.credential_cache_check) {
    if (auto own =
            options_.credential_cache_check(FileOwner{lender.uid, lender.gid}, credential_cache);
        !own) {
      return Error(own.error().code(), ErrorContext::kNone,
                   "cannot create a helper token with the credential cache '" + credential_cache +
                       "': " + own.error().message());
    }
  }
  // The administrator bit is the lent identity's: a token lending an administrator is bound
  // only by an administrator, whoever minted it.
  auto token = helper_tokens_.Mint(
      HelperIdentity{lender.uid, lender.gid, lender.is_admin, credential_cache});
  if (!token) return token;
  if (lender.uid == caller.uid) {
    Log()->info("helper token minted for uid {}", lender.uid);
  } else {
    Log()->info("helper token minted for uid {} by administrator uid {}", lender.uid, caller.uid);
  }
  return token;
}

Status JobManager::SetHelperToken(const Caller& caller, const Guid& id, const SecretString& token) {
  std::optional<std::uint32_t> lent;
  const Status status = Mutate(caller, id, JobAction::kBindHelperToken, [&](Job& job) -> Status {
    // Only once the caller may bind to this job is the token used up.
    auto identity = helper_tokens_.Redeem(token);
    if (!identity) return identity.error();
    OPENBITS_RETURN_IF_ERROR(AuthorizeHelperIdentity(caller, *identity));
    lent = identity->uid;
    job.helper.identity = std::move(*identity);
    return Ok();
  });
  if (status) {
    Log()->info("job={} helper identity uid {} bound by uid {}", id.ToString(), *lent, caller.uid);
  }
  return status;
}

Status JobManager::ClearHelperToken(const Caller& caller, const Guid& id) {
  Notifications notifications;
  {
    MutexLock lock(mutex_);
    auto found = FindFor(caller, id, JobAction::kBindHelperToken);
    if (!found) return found.error();
    Entry& entry = **found;
    // A run acting as the helper cannot go on without it (BITS: BG_E_TOKEN_REQUIRED).
    const bool in_use = entry.job.helper.identity && entry.job.helper.flags != 0 &&
                        entry.worker_running && entry.control && !entry.control->stop;
    // Temp files written as the helper (BG_TOKEN_LOCAL_FILE) become the owner's, who writes
    // them from now on: otherwise a resumed job could neither reopen nor delete them (0600,
    // the helper's). Done under the lock so that no run of the job opens them in between.
    if (entry.job.helper.Lends(kTokenLocalFile)) {
      const FileOwner owner{entry.job.owner_uid, entry.job.owner_gid};
      for (const JobFile& file : entry.job.files) {
        if (auto given = files_.GiveTemp(owner, file.temp_path); !given) {
          Log()->warn("job={} the helper's temp file {} stays the helper's: {}", id.ToString(),
                      file.temp_path, given.error().message());
        }
      }
    }
    Job changed = entry.job;
    changed.helper.identity.reset();
    changed.times.modification_us = clock_.NowUs();
    OPENBITS_RETURN_IF_ERROR(store_.Save(changed));
    entry.job = std::move(changed);
    if (in_use) {
      FailRunningJob(entry,
                     Error(hr::BG_E_TOKEN_REQUIRED, ErrorContext::kGeneralQueueManager,
                           "the helper token was cleared while the job was transferring with it"),
                     std::nullopt, notifications);
    } else {
      NoteModification(entry, /*immediately=*/false, notifications);
    }
  }
  scheduler_wakeup_.NotifyAll();
  Dispatch(notifications);
  return Ok();
}

Status JobManager::CheckHelperIdentity(const Guid& id, std::uint64_t run_id) {
  std::optional<std::uint32_t> helper_uid;
  {
    MutexLock lock(mutex_);
    const Entry* entry = FindRun(id, run_id);
    if (!entry) return Ok();
    const HelperBinding& helper = entry->job.helper;
    if (helper.identity && helper.flags != 0) helper_uid = helper.identity->uid;
  }
  // The user database is asked without the lock (NSS may be slow or remote).
  if (!helper_uid || !options_.user_exists || options_.user_exists(*helper_uid)) return Ok();
  return Error(hr::BG_E_TOKEN_REQUIRED, ErrorContext::kGeneralQueueManager,
               "the helper identity (uid " + std::to_string(*helper_uid) +
                   ") no longer exists: bind a new helper token or clear it");
}

Status JobManager::SetHelperTokenFlags(const Caller& caller, const Guid& id, std::uint32_t flags) {
  if ((flags & ~kTokenFlagsKnown) != 0) {
    return Error::InvalidArg("unknown helper token flags " + FormatHresult(flags) +
                             " (BG_TOKEN_LOCAL_FILE 1, BG_TOKEN_NETWORK 2)");
  }
  return Mutate(caller, id, JobAction::kBindHelperToken, [&](Job& job) {
    job.helper.flags = flags;
    return Ok();
  });
}

Result<HelperBinding> JobManager::GetHelperBinding(const Caller& caller, const Guid& id) const {
  MutexLock lock(mutex_);
  auto entry = FindFor(caller, id, JobAction::kView);
  if (!entry) return entry.error();
  return (*entry)->job.helper;
}

}  // namespace openbits::core
