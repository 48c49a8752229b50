// The proxy settings that may hold a password, sealed at rest: a job's proxy list and its
// creator's proxy environment ("http_proxy=http://user:password@host:port"), an account's
// proxy list and PAC URL. Each is sealed with SecretBox under a context naming its row, so a
// sealed value cannot be moved to another job or account. Schema: docs/storage-schema.md.
// The helper binding of a job (whose identity it borrows, and that identity's credential
// cache name) is sealed the same way.
#pragma once

#include <sqlite3.h>

#include <optional>
#include <string>

#include "core/helper_binding.h"
#include "core/proxy_settings.h"
#include "openbits/result.h"
#include "store/secret_box.h"

namespace openbits::store {

// jobs.proxy_sealed: the job's proxy list and proxy environment.
Result<std::string> SealJobProxy(const SecretBox& box, const std::string& job_id,
                                 const std::string& list,
                                 const core::ProxyEnvironment& environment);
// nullopt when the value was altered, moved or the machine key changed.
struct JobProxySecrets {
  std::string list;
  core::ProxyEnvironment environment;
};
std::optional<JobProxySecrets> OpenJobProxy(const SecretBox& box, const std::string& job_id,
                                            std::string_view sealed);

// account_proxies.sealed: the account's proxy list and PAC URL.
Result<std::string> SealAccountProxy(const SecretBox& box, std::uint32_t uid,
                                     const std::string& list, const std::string& autoscript_url);
struct AccountProxySecrets {
  std::string list;
  std::string autoscript_url;
};
std::optional<AccountProxySecrets> OpenAccountProxy(const SecretBox& box, std::uint32_t uid,
                                                    std::string_view sealed);

// jobs.helper_sealed: the job's helper binding (core::HelperBinding).
Result<std::string> SealHelperBinding(const SecretBox& box, const std::string& job_id,
                                      const core::HelperBinding& binding);
// nullopt when the value was altered, moved or the machine key changed.
std::optional<core::HelperBinding> OpenHelperBinding(const SecretBox& box,
                                                     const std::string& job_id,
                                                     std::string_view sealed);

// The migration step of schema kProxySealingVersion, inside its transaction: seals the
// plaintext proxy columns of every row (jobs.proxy_list and proxy_environment,
// account_proxies.list and autoscript_url) into the sealed columns and empties them, and
// replaces the user names and passwords those held in jobs.error_message by "***".
// REQUIRES: the sealed columns exist; PRAGMA secure_delete is on, so that the old values are
// overwritten in the file, not just unlinked.
Status SealPlaintextProxyRows(sqlite3* db, const SecretBox& box);

}  // namespace openbits::store
