// AccountProxies: every account's own proxy settings (bitsadmin /util /setieproxy), kept by
// the daemon and persisted through AccountProxyStore. A user sets their own; an
// administrator may reset any account's (access_policy.h). Read by the proxy resolver on
// transfer threads.
#pragma once

#include <map>
#include <mutex>
#include <optional>

#include "core/proxy_settings.h"

namespace openbits::core {

class AccountProxyStore {
 public:
  virtual ~AccountProxyStore() = default;
  virtual Result<std::map<std::uint32_t, AccountProxy>> LoadAccountProxies() = 0;
  // nullopt removes the account's settings (RESET).
  virtual Status SaveAccountProxy(std::uint32_t uid, const std::optional<AccountProxy>& proxy) = 0;
};

class AccountProxies {
 public:
  explicit AccountProxies(AccountProxyStore& store) : store_(store) {}
  Status Load();
  // E_ACCESSDENIED unless AuthorizeSetAccountProxy (access_policy.h) allows it.
  Status Set(std::uint32_t caller_uid, bool caller_is_admin, std::uint32_t uid,
             const std::optional<AccountProxy>& proxy);
  std::optional<AccountProxy> Get(std::uint32_t uid) const;

 private:
  AccountProxyStore& store_;
  mutable std::mutex mutex_;
  std::map<std::uint32_t, AccountProxy> accounts_;  // guarded by mutex_
};

}  // namespace openbits::core
