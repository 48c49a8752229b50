#include "core/access_policy.h"

#include <algorithm>
#include <string>

#include "core/core_log.h"

namespace openbits::core {

const char* JobActionName(JobAction action) {
  switch (action) {
    case JobAction::kView:
      return "view";
    case JobAction::kControl:
      return "control";
    case JobAction::kConfigure:
      return "configure";
    case JobAction::kChangeDestination:
      return "change the local files of";
    case JobAction::kChangeOrigin:
      return "change the origin of";
    case JobAction::kSetSecrets:
      return "set the secrets of";
    case JobAction::kReadSecrets:
      return "read the secrets of";
    case JobAction::kBindMachineCertificate:
      return "bind a LOCAL_MACHINE certificate to";
    case JobAction::kTakeOwnership:
      return "take ownership of";
    case JobAction::kBindHelperToken:
      return "bind a helper token to";
  }
  return "act on";
}

Status Authorize(const AccessRules& rules, const Caller& caller, const Job& job, JobAction action) {
  const bool owner = caller.uid == job.owner_uid;
  if (!owner && !caller.is_admin) return JobNotFound(job.id);  // invisible, as if missing
  auto owner_only = [&]() -> Status {
    if (owner) return Ok();
    return Error::AccessDenied("only the job's owner (uid " + std::to_string(job.owner_uid) +
                               ") may " + JobActionName(action) +
                               " it: its files are written with the owner's identity and its "
                               "secrets go only where the owner chose (an administrator may "
                               "take ownership first)");
  };
  switch (action) {
    case JobAction::kView:
    case JobAction::kControl:
    case JobAction::kConfigure:
    case JobAction::kBindHelperToken:  // the identity lent is checked apart (below)
      return Ok();                     // the owner, or an administrator managing it
    case JobAction::kChangeDestination:
    case JobAction::kChangeOrigin:
    case JobAction::kSetSecrets:
    case JobAction::kReadSecrets:
      return owner_only();
    case JobAction::kBindMachineCertificate: {
      OPENBITS_RETURN_IF_ERROR(owner_only());
      const auto& listed = rules.local_machine_cert_uids;
      if (caller.is_admin || std::find(listed.begin(), listed.end(), caller.uid) != listed.end()) {
        return Ok();
      }
      return Error::AccessDenied("uid " + std::to_string(caller.uid) +
                                 " may not use LOCAL_MACHINE certificate keys: only "
                                 "administrators and the uids of [tls] local_machine_cert_uids");
    }
    case JobAction::kTakeOwnership:
      if (caller.is_admin) return Ok();
      return Error::AccessDenied("only administrators may take ownership of a job");
  }
  return Error::AccessDenied("unknown action on job " + job.id.ToString());
}

Status AuthorizeCreateJob(const Caller& caller, std::uint32_t daemon_uid) {
  if (daemon_uid != 0 && caller.uid != daemon_uid) {
    return Error::AccessDenied("this bitsd runs as uid " + std::to_string(daemon_uid) +
                               " and can only write files as that user; use the system bitsd");
  }
  return Ok();
}

Status AuthorizeListAllUsers(const Caller& caller) {
  if (caller.is_admin) return Ok();
  return Error::AccessDenied("only administrators may list the jobs of all users");
}

bool ExemptFromPerUserJobLimit(const Caller& caller) { return caller.is_admin; }

Status AuthorizeSetAccountProxy(const Caller& caller, std::uint32_t account_uid,
                                bool routes_through_a_proxy) {
  if (caller.uid == account_uid) return Ok();
  if (!caller.is_admin) {
    return Error::AccessDenied("only administrators may change another account's proxy settings");
  }
  if (routes_through_a_proxy) {
    return Error::AccessDenied(
        "an administrator may reset another account's proxy settings or set NO_PROXY, but not "
        "send its jobs through a proxy: only uid " +
        std::to_string(account_uid) + " may");
  }
  return Ok();
}

Status AuthorizeHelperIdentity(const Caller& caller, const HelperIdentity& helper) {
  if (!helper.is_admin || caller.is_admin) return Ok();
  return Error::AccessDenied("the helper token lends the identity of an administrator (uid " +
                             std::to_string(helper.uid) +
                             "): only an administrator may bind it to a job");
}

Status AuthorizeReadAccountProxy(const Caller& caller, std::uint32_t account_uid) {
  if (caller.uid == account_uid || caller.is_admin) return Ok();
  return Error::AccessDenied("only administrators may read another account's proxy settings");
}

}  // namespace openbits::core
