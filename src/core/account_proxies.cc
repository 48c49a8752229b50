#include "core/account_proxies.h"

#include "core/access_policy.h"

namespace openbits::core {

Status AccountProxies::Load() {
  auto loaded = store_.LoadAccountProxies();
  if (!loaded) return loaded.error();
  std::lock_guard lock(mutex_);
  accounts_ = std::move(*loaded);
  return Ok();
}

Status AccountProxies::Set(std::uint32_t caller_uid, bool caller_is_admin, std::uint32_t uid,
                           const std::optional<AccountProxy>& proxy) {
  const bool routes = proxy && proxy->mode != AccountProxyMode::kNoProxy;
  OPENBITS_RETURN_IF_ERROR(AuthorizeSetAccountProxy({caller_uid, 0, caller_is_admin}, uid, routes));
  if (proxy) OPENBITS_RETURN_IF_ERROR(ValidateAccountProxy(*proxy));
  std::lock_guard lock(mutex_);
  OPENBITS_RETURN_IF_ERROR(store_.SaveAccountProxy(uid, proxy));
  if (proxy) {
    accounts_[uid] = *proxy;
  } else {
    accounts_.erase(uid);
  }
  return Ok();
}

std::optional<AccountProxy> AccountProxies::Get(std::uint32_t uid) const {
  std::lock_guard lock(mutex_);
  const auto it = accounts_.find(uid);
  if (it == accounts_.end()) return std::nullopt;
  return it->second;
}

}  // namespace openbits::core
