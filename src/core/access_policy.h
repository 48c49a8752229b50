// The access policy: the one place that decides who may do what to a job. JobManager asks it
// before every method; nothing else in the core compares a caller's uid with a job's owner.
//
// The rules, and why:
//  - A job is visible to its owner and to administrators (uid 0 or `[identity] admin_group`).
//    To anybody else it does not exist (BG_E_NOT_FOUND, as for a missing job).
//  - Administrators manage every job: they see it, suspend, resume, cancel and complete it,
//    change its names, priority and timeouts, and may take it over (TakeOwnership).
//  - A job's files are written with its owner's identity. So whoever chooses what is written
//    where chooses it with the owner's file access: adding files (where the bytes go) and
//    changing the origin (remote names, HTTP method, proxy, TLS checks: which server is asked
//    what, and so what the bytes are) belong to the owner alone. An administrator who is not
//    root would otherwise write as root into /etc through root's jobs; any administrator
//    would write as the user through the user's jobs.
//  - Secrets (credentials, custom headers, client certificates, the notification command
//    line, which runs as the owner) are the owner's alone to set and read: they are sent only
//    to the origin the owner chose. An administrator who takes a job over gets it without them.
//  - LOCAL_MACHINE certificate keys belong to the machine: only administrators, and the uids
//    of `[tls] local_machine_cert_uids`, bind one to their job.
//  - A helper token lends the identity of the user who minted it (core/helper_tokens.h). The
//    job's owner, or an administrator, binds it; holding the token is the lender's consent.
//    A token of an administrator's identity is bound only by an administrator, so that an
//    administrator's token that leaked does not give a user the administrator's files.
#pragma once

#include <cstdint>
#include <vector>

#include "core/helper_tokens.h"
#include "core/job.h"
#include "openbits/result.h"

namespace openbits::core {

// Who is calling, as the IPC layer established it.
struct Caller {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  bool is_admin = false;  // uid 0 or member of the admin group
};

// BG_CERT_STORE_LOCATION_LOCAL_MACHINE: the machine's certificate stores.
inline constexpr std::uint32_t kCertStoreLocationLocalMachine = 1;

// What a caller wants to do to a job. Each JobManager method names exactly one.
enum class JobAction {
  kView,                    // read its state, progress, files and properties
  kControl,                 // Resume, Suspend, Cancel, Complete, SetValidationState
  kConfigure,               // names, priority, retry delay, timeouts, notification flags, Job5
  kChangeDestination,       // AddFile, AddFileSet, AddFileWithRanges: which local files
  kChangeOrigin,            // remote names, HTTP method, proxy settings, security flags
  kSetSecrets,              // credentials, custom headers, CURRENT_USER certificate, command line
  kReadSecrets,             // GetCustomHeaders
  kBindMachineCertificate,  // SetClientCertificate* with a LOCAL_MACHINE store
  kTakeOwnership,
  kBindHelperToken,  // SetHelperToken, ClearHelperToken, SetHelperTokenFlags
};

const char* JobActionName(JobAction action);

// The configurable part of the policy.
struct AccessRules {
  // [tls] local_machine_cert_uids: who besides administrators may bind LOCAL_MACHINE keys.
  std::vector<std::uint32_t> local_machine_cert_uids;
};

// Ok; BG_E_NOT_FOUND when the caller may not know the job exists; E_ACCESSDENIED when it may
// see the job but not do `action` to it. REQUIRES: the job is not in a final state (those are
// gone for everybody; the caller of this function looks that up).
Status Authorize(const AccessRules& rules, const Caller& caller, const Job& job, JobAction action);

// Decisions without a job.
// CreateJob: a daemon that is not root can only write as itself, so it serves only its uid.
Status AuthorizeCreateJob(const Caller& caller, std::uint32_t daemon_uid);
// EnumJobs with BG_JOB_ENUM_ALL_USERS.
Status AuthorizeListAllUsers(const Caller& caller);
// Administrators are exempt from [limits] max_jobs_per_user.
bool ExemptFromPerUserJobLimit(const Caller& caller);
// An account's own proxy settings (bitsadmin /util /setieproxy): everybody changes their own.
// An administrator may take another account's proxies away (RESET, NO_PROXY: its jobs then
// go straight to the origins their owners chose) but not route them through a proxy (which
// would receive the jobs' proxy credentials, and over http every header).
Status AuthorizeSetAccountProxy(const Caller& caller, std::uint32_t account_uid,
                                bool routes_through_a_proxy);
// SetHelperToken, after Authorize(kBindHelperToken): whether `caller` may lend `helper`'s
// identity to a job (an administrator's identity only to an administrator).
Status AuthorizeHelperIdentity(const Caller& caller, const HelperIdentity& helper);
// Reading them: the account itself and administrators.
Status AuthorizeReadAccountProxy(const Caller& caller, std::uint32_t account_uid);

}  // namespace openbits::core
