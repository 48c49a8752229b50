// SecretBox: encryption of secrets at rest (custom headers, credentials) with AES-256-GCM
// under a machine key, the Linux stand-in for BITS's CryptoAPI protection. The key lives in
// <state-dir>/secret.key (32 random bytes, mode 0600, owned by the daemon's user), made at
// first start; a key file that others can read is refused.
#pragma once

#include <array>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "openbits/result.h"
#include "openbits/secret.h"

namespace openbits::store {

class SecretBox {
 public:
  static Result<std::unique_ptr<SecretBox>> OpenOrCreate(const std::string& key_path);
  ~SecretBox();
  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;

  // nonce (12 bytes) || ciphertext || tag (16 bytes). `context` (e.g. the job id) is
  // authenticated too, so a sealed value cannot be moved to another job.
  Result<std::string> Seal(const SecretString& plaintext, std::string_view context) const;
  // BG_E_DATABASE_CORRUPT when the value was altered, belongs elsewhere or the key changed.
  Result<SecretString> Open(std::string_view sealed, std::string_view context) const;

 private:
  SecretBox() = default;
  std::array<unsigned char, 32> key_{};
};

// The SHA-256 of `data` (32 raw bytes): how the daemon keeps helper tokens in memory.
std::string Sha256(std::string_view data);

// What a sealed row holds: fields, each as "<length>:<bytes>".
SecretString PackFields(std::initializer_list<std::string_view> fields);
// The `count` fields of a packed value; nullopt when it holds another number or is malformed.
std::optional<std::vector<std::string>> UnpackFields(const SecretString& packed, std::size_t count);

}  // namespace openbits::store
