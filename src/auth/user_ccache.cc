#include "auth/user_ccache.h"

#include <krb5.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "identity/user_file.h"

namespace openbits::auth {
namespace {

constexpr std::size_t kMaxCacheBytes = 1 << 20;

Error Refuse(const std::string& message) {
  return Error(hr::E_ACCESSDENIED, ErrorContext::kNone, message);
}

struct CacheName {
  std::string type = "FILE";  // a bare path is a FILE: cache
  std::string residual;
};

// The type and the rest of a krb5 cache name; only FILE: and DIR: caches are files whose
// owner bitsd can check.
Result<CacheName> ParseCacheName(const std::string& name) {
  CacheName parsed{"FILE", name};
  if (const auto colon = name.find(':'); colon != std::string::npos && name[0] != '/') {
    parsed.type = name.substr(0, colon);
    parsed.residual = name.substr(colon + 1);
  }
  if (parsed.type != "FILE" && parsed.type != "DIR") {
    return Refuse("the credential cache '" + name +
                  "' is of a type whose owner cannot be checked; use a FILE: or DIR: cache");
  }
  return parsed;
}

// The file that holds the cache `name`, or why there is none that can be checked.
Result<std::string> CacheFile(const core::FileOwner& owner, const std::string& name) {
  auto parsed = ParseCacheName(name);
  if (!parsed) return parsed.error();
  const std::string& residual = parsed->residual;
  if (parsed->type == "FILE") return residual;
  if (residual.starts_with(":")) return residual.substr(1);  // DIR::file, one cache file
  // DIR:directory: `primary` names the current cache, a file of the same directory (as krb5
  // requires). Read as the caller, like the cache itself.
  identity::UserFileRules rules;
  rules.what = "the primary file of the DIR: cache";
  rules.max_bytes = 4096;
  auto primary = identity::ReadUserFile(owner, residual + "/primary", rules);
  if (!primary) return primary.error();
  std::string file(primary->bytes.reveal().substr(0, primary->bytes.reveal().find('\n')));
  if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos) {
    return Refuse("the primary file of the DIR: cache '" + name +
                  "' does not name a file of that directory");
  }
  return residual + "/" + file;
}

// The bytes of the cache `name` of `owner`, read once as `owner`.
Result<identity::UserFileContent> ReadCache(const core::FileOwner& owner, const std::string& name) {
  auto path = CacheFile(owner, name);
  if (!path) return path.error();
  identity::UserFileRules rules;
  rules.what = "the Kerberos credential cache";
  rules.max_bytes = kMaxCacheBytes;
  return identity::ReadUserFile(owner, *path, rules);
}

}  // namespace

Status CheckCredentialCache(const core::FileOwner& owner, const std::string& name) {
  // A type that cannot be checked is refused by name (no file was looked at).
  if (auto parsed = ParseCacheName(name); !parsed) return parsed.error();
  // One answer for every failure of the file itself: another user's private cache, a missing
  // file, a link, a FIFO or a cache writable by others all read the same, so that naming
  // other users' paths at minting tells nothing about them.
  if (auto content = ReadCache(owner, name); !content) {
    return Refuse("the credential cache '" + name +
                  "' is not a Kerberos credential cache that uid " + std::to_string(owner.uid) +
                  " owns and may read (a regular file of its own, writable by it alone)");
  }
  return Ok();
}

struct MemoryCredentialCache::Krb5 {
  krb5_context context = nullptr;
  krb5_ccache memory = nullptr;
  ~Krb5() {
    if (memory) krb5_cc_destroy(context, memory);
    if (context) krb5_free_context(context);
  }
  Error Failure(const std::string& what, krb5_error_code code) const {
    const char* text = krb5_get_error_message(context, code);
    Error error = Refuse("Failed to " + what + ": " + text);
    krb5_free_error_message(context, text);
    return error;
  }
};

Result<std::unique_ptr<MemoryCredentialCache>> MemoryCredentialCache::CopyOf(
    const core::FileOwner& owner, const std::string& name) {
  auto content = ReadCache(owner, name);
  if (!content) return content.error();

  // krb5 parses caches from files only: the bytes go into an anonymous memory file of this
  // process, which krb5 opens through /proc/self/fd (no other process can name or lock it).
  const int memfd = memfd_create("openbits-ccache", MFD_CLOEXEC);
  if (memfd < 0)
    return Refuse(std::string("Failed to copy the credential cache: ") + strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{memfd};
  const std::string_view bytes = content->bytes.reveal();
  for (std::size_t written = 0; written < bytes.size();) {
    const ssize_t put = write(memfd, bytes.data() + written, bytes.size() - written);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0)
      return Refuse(std::string("Failed to copy the credential cache: ") + strerror(errno));
    written += static_cast<std::size_t>(put);
  }

  std::unique_ptr<MemoryCredentialCache> copy(new MemoryCredentialCache);
  copy->krb5_ = std::make_unique<Krb5>();
  Krb5& k = *copy->krb5_;
  if (krb5_error_code code = krb5_init_context(&k.context)) {
    k.context = nullptr;
    return Refuse("Failed to start Kerberos (error " + std::to_string(code) + ")");
  }
  krb5_ccache source = nullptr;
  const std::string source_name = "FILE:/proc/self/fd/" + std::to_string(memfd);
  if (krb5_error_code code = krb5_cc_resolve(k.context, source_name.c_str(), &source)) {
    return k.Failure("read the credential cache " + name, code);
  }
  krb5_principal principal = nullptr;
  krb5_error_code code = krb5_cc_get_principal(k.context, source, &principal);
  if (code == 0) code = krb5_cc_new_unique(k.context, "MEMORY", nullptr, &k.memory);
  if (code == 0) code = krb5_cc_initialize(k.context, k.memory, principal);
  if (code == 0) code = krb5_cc_copy_creds(k.context, source, k.memory);
  if (principal) krb5_free_principal(k.context, principal);
  krb5_cc_close(k.context, source);
  if (code != 0) return k.Failure("read the credential cache " + name, code);
  copy->name_ = std::string("MEMORY:") + krb5_cc_get_name(k.context, k.memory);
  return copy;
}

MemoryCredentialCache::~MemoryCredentialCache() = default;

}  // namespace openbits::auth
