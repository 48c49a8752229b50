#include "store/proxy_secrets.h"

#include <vector>

namespace openbits::store {
namespace {

std::string JobContext(const std::string& job_id) { return job_id + "/proxy"; }
std::string HelperContext(const std::string& job_id) { return job_id + "/helper"; }
std::string AccountContext(std::uint32_t uid) {
  return "account/" + std::to_string(uid) + "/proxy";
}

std::string Column(sqlite3_stmt* statement, int column) {
  const auto* text = sqlite3_column_text(statement, column);
  return text ? reinterpret_cast<const char*>(text) : "";
}

Error MigrationError(sqlite3* db, const std::string& what) {
  return Error(hr::E_FAIL, ErrorContext::kGeneralQueueManager,
               "Failed to seal the plaintext " + what + ": " + sqlite3_errmsg(db));
}

// Runs `select` (key first, then the two plaintext columns) and writes each row back with
// `update` (sealed value, then the key), sealed by `seal`.
template <typename Seal>
Status SealRows(sqlite3* db, const char* select_sql, const char* update_sql,
                const std::string& what, Seal seal) {
  sqlite3_stmt* select = nullptr;
  sqlite3_stmt* update = nullptr;
  Status status = Ok();
  if (sqlite3_prepare_v2(db, select_sql, -1, &select, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db, update_sql, -1, &update, nullptr) != SQLITE_OK) {
    status = MigrationError(db, what);
  }
  int rc = SQLITE_DONE;
  while (status && (rc = sqlite3_step(select)) == SQLITE_ROW) {
    auto sealed = seal(select);
    if (!sealed) {
      status = sealed.error();
      break;
    }
    sqlite3_reset(update);
    sqlite3_bind_blob(update, 1, sealed->data(), static_cast<int>(sealed->size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_value(update, 2, sqlite3_column_value(select, 0));
    if (sqlite3_step(update) != SQLITE_DONE) status = MigrationError(db, what);
  }
  if (status && rc != SQLITE_DONE) status = MigrationError(db, what);
  sqlite3_finalize(update);
  sqlite3_finalize(select);
  return status;
}

std::string EncodeProxyEnvironment(const core::ProxyEnvironment& environment) {
  std::string text;
  for (const auto& [name, value] : environment) text += name + "=" + value + "\n";
  return text;
}

core::ProxyEnvironment DecodeProxyEnvironment(std::string_view text) {
  core::ProxyEnvironment environment;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    if (const auto equals = line.find('='); equals != std::string_view::npos) {
      environment[std::string(line.substr(0, equals))] = std::string(line.substr(equals + 1));
    }
    start = end + 1;
  }
  return environment;
}

// The "user:password" parts of a proxy list's entries or an environment's URLs.
std::vector<std::string> Userinfos(std::string_view text) {
  std::vector<std::string> found;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find_first_of(" \t;,\n", start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view entry = text.substr(start, end - start);
    if (const auto scheme_end = entry.find("://"); scheme_end != std::string_view::npos) {
      entry.remove_prefix(scheme_end + 3);
    } else if (const auto equals = entry.find('='); equals != std::string_view::npos) {
      entry.remove_prefix(equals + 1);  // "http=user:password@host", "http_proxy=..."
      if (const auto inner = entry.find("://"); inner != std::string_view::npos) {
        entry.remove_prefix(inner + 3);
      }
    }
    entry = entry.substr(0, entry.find_first_of("/?#"));
    if (const auto at = entry.rfind('@'); at != std::string_view::npos && at > 0) {
      found.emplace_back(entry.substr(0, at));
    }
    start = end + 1;
  }
  return found;
}

// Versions before schema 11 repeated an unusable proxy entry, password and all, in the job's
// error message (stored in jobs.error_message): replaced by "***".
Status RedactErrorMessages(sqlite3* db) {
  sqlite3_stmt* select = nullptr;
  sqlite3_stmt* update = nullptr;
  Status status = Ok();
  if (sqlite3_prepare_v2(db,
                         "SELECT id, proxy_list, proxy_environment, error_message FROM jobs "
                         "WHERE error_message IS NOT NULL",
                         -1, &select, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "UPDATE jobs SET error_message = ? WHERE id = ?", -1, &update,
                         nullptr) != SQLITE_OK) {
    status = MigrationError(db, "error messages");
  }
  int rc = SQLITE_DONE;
  while (status && (rc = sqlite3_step(select)) == SQLITE_ROW) {
    std::string message = Column(select, 3);
    bool changed = false;
    for (const std::string& source : {Column(select, 1), Column(select, 2)}) {
      for (const std::string& userinfo : Userinfos(source)) {
        for (auto at = message.find(userinfo); at != std::string::npos;
             at = message.find(userinfo, at + 3)) {
          message.replace(at, userinfo.size(), "***");
          changed = true;
        }
      }
    }
    if (!changed) continue;
    sqlite3_reset(update);
    sqlite3_bind_text(update, 1, message.c_str(), static_cast<int>(message.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_value(update, 2, sqlite3_column_value(select, 0));
    if (sqlite3_step(update) != SQLITE_DONE) status = MigrationError(db, "error messages");
  }
  if (status && rc != SQLITE_DONE) status = MigrationError(db, "error messages");
  sqlite3_finalize(update);
  sqlite3_finalize(select);
  return status;
}

}  // namespace

Result<std::string> SealJobProxy(const SecretBox& box, const std::string& job_id,
                                 const std::string& list,
                                 const core::ProxyEnvironment& environment) {
  const std::string encoded = EncodeProxyEnvironment(environment);
  return box.Seal(PackFields({list, encoded}), JobContext(job_id));
}

std::optional<JobProxySecrets> OpenJobProxy(const SecretBox& box, const std::string& job_id,
                                            std::string_view sealed) {
  auto opened = box.Open(sealed, JobContext(job_id));
  if (!opened) return std::nullopt;
  auto fields = UnpackFields(*opened, 2);
  if (!fields) return std::nullopt;
  return JobProxySecrets{std::move((*fields)[0]), DecodeProxyEnvironment((*fields)[1])};
}

// flags, then (when bound) uid, gid, is_admin and the credential cache name, then the
// USE_STORED_CREDENTIALS targets (absent in rows written before it existed: 0).
Result<std::string> SealHelperBinding(const SecretBox& box, const std::string& job_id,
                                      const core::HelperBinding& binding) {
  const std::string flags = std::to_string(binding.flags);
  const std::string stored = std::to_string(binding.stored_credentials);
  if (!binding.identity) return box.Seal(PackFields({flags, stored}), HelperContext(job_id));
  const core::HelperIdentity& identity = *binding.identity;
  const std::string uid = std::to_string(identity.uid);
  const std::string gid = std::to_string(identity.gid);
  return box.Seal(PackFields({flags, uid, gid, identity.is_admin ? "1" : "0",
                              identity.credential_cache, stored}),
                  HelperContext(job_id));
}

std::optional<core::HelperBinding> OpenHelperBinding(const SecretBox& box,
                                                     const std::string& job_id,
                                                     std::string_view sealed) {
  auto opened = box.Open(sealed, HelperContext(job_id));
  if (!opened) return std::nullopt;
  auto number = [](const std::string& text) -> std::optional<std::uint32_t> {
    if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != text.npos) {
      return std::nullopt;
    }
    const unsigned long long value = std::stoull(text);
    if (value > 0xffffffffULL) return std::nullopt;
    return static_cast<std::uint32_t>(value);
  };
  core::HelperBinding binding;
  for (std::size_t count : {1, 2}) {
    auto unbound = UnpackFields(*opened, count);
    if (!unbound) continue;
    const auto flags = number((*unbound)[0]);
    const auto stored = count == 2 ? number((*unbound)[1]) : std::optional<std::uint32_t>(0);
    if (!flags || !stored) return std::nullopt;
    binding.flags = *flags;
    binding.stored_credentials = *stored;
    return binding;
  }
  for (std::size_t count : {5, 6}) {
    auto fields = UnpackFields(*opened, count);
    if (!fields) continue;
    const auto flags = number((*fields)[0]);
    const auto uid = number((*fields)[1]);
    const auto gid = number((*fields)[2]);
    const auto stored = count == 6 ? number((*fields)[5]) : std::optional<std::uint32_t>(0);
    if (!flags || !uid || !gid || !stored) return std::nullopt;
    binding.flags = *flags;
    binding.stored_credentials = *stored;
    binding.identity =
        core::HelperIdentity{*uid, *gid, (*fields)[3] == "1", std::move((*fields)[4])};
    return binding;
  }
  return std::nullopt;
}

Result<std::string> SealAccountProxy(const SecretBox& box, std::uint32_t uid,
                                     const std::string& list, const std::string& autoscript_url) {
  return box.Seal(PackFields({list, autoscript_url}), AccountContext(uid));
}

std::optional<AccountProxySecrets> OpenAccountProxy(const SecretBox& box, std::uint32_t uid,
                                                    std::string_view sealed) {
  auto opened = box.Open(sealed, AccountContext(uid));
  if (!opened) return std::nullopt;
  auto fields = UnpackFields(*opened, 2);
  if (!fields) return std::nullopt;
  return AccountProxySecrets{std::move((*fields)[0]), std::move((*fields)[1])};
}

Status SealPlaintextProxyRows(sqlite3* db, const SecretBox& box) {
  OPENBITS_RETURN_IF_ERROR(RedactErrorMessages(db));
  OPENBITS_RETURN_IF_ERROR(SealRows(
      db, "SELECT id, proxy_list, proxy_environment FROM jobs",
      "UPDATE jobs SET proxy_sealed = ?, proxy_list = '', proxy_environment = '' WHERE id = ?",
      "job proxy settings", [&](sqlite3_stmt* row) {
        return SealJobProxy(box, Column(row, 0), Column(row, 1),
                            DecodeProxyEnvironment(Column(row, 2)));
      }));
  return SealRows(db, "SELECT uid, list, autoscript_url FROM account_proxies",
                  "UPDATE account_proxies SET sealed = ?, list = '', autoscript_url = '' "
                  "WHERE uid = ?",
                  "account proxy settings", [&](sqlite3_stmt* row) {
                    return SealAccountProxy(
                        box, static_cast<std::uint32_t>(sqlite3_column_int64(row, 0)),
                        Column(row, 1), Column(row, 2));
                  });
}

}  // namespace openbits::store
