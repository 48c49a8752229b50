#include "store/secret_box.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace openbits::store {
namespace {

constexpr std::size_t kNonceSize = 12;
constexpr std::size_t kTagSize = 16;

Error KeyError(const std::string& what) {
  return Error(hr::E_ACCESSDENIED, ErrorContext::kGeneralQueueManager, what);
}

struct CipherContext {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~CipherContext() { EVP_CIPHER_CTX_free(ctx); }
};

}  // namespace

Result<std::unique_ptr<SecretBox>> SecretBox::OpenOrCreate(const std::string& key_path) {
  std::unique_ptr<SecretBox> box(new SecretBox());
  int fd = open(key_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    if (RAND_bytes(box->key_.data(), static_cast<int>(box->key_.size())) != 1) {
      return KeyError("cannot generate a machine key");
    }
    const std::string temp = key_path + ".new";
    // A key file half-written by a start that crashed was never used: without this, O_EXCL
    // would refuse every later start.
    if (unlink(temp.c_str()) != 0 && errno != ENOENT) {
      return KeyError("cannot remove the stale " + temp + ": " + std::strerror(errno));
    }
    const int out = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) return KeyError("cannot create " + temp + ": " + std::strerror(errno));
    const bool written =
        write(out, box->key_.data(), box->key_.size()) == static_cast<ssize_t>(box->key_.size()) &&
        fsync(out) == 0;
    close(out);
    if (!written || rename(temp.c_str(), key_path.c_str()) != 0) {
      unlink(temp.c_str());
      return KeyError("cannot write the machine key " + key_path);
    }
    return box;
  }
  if (fd < 0)
    return KeyError("cannot read the machine key " + key_path + ": " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
    close(fd);
    return KeyError("the machine key " + key_path +
                    " must be owned by bitsd's user and readable by nobody else (mode 0600)");
  }
  const ssize_t n = read(fd, box->key_.data(), box->key_.size());
  close(fd);
  if (n != static_cast<ssize_t>(box->key_.size())) {
    return KeyError("the machine key " + key_path + " is not 32 bytes long");
  }
  return box;
}

SecretBox::~SecretBox() { OPENSSL_cleanse(key_.data(), key_.size()); }

Result<std::string> SecretBox::Seal(const SecretString& plaintext, std::string_view context) const {
  std::string sealed(kNonceSize + plaintext.size() + kTagSize, '\0');
  auto* out = reinterpret_cast<unsigned char*>(sealed.data());
  if (RAND_bytes(out, kNonceSize) != 1) return Error::Internal("cannot generate a nonce");
  CipherContext c;
  int length = 0;
  const std::string_view text = plaintext.reveal();
  if (!c.ctx || EVP_EncryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, key_.data(), out) != 1 ||
      EVP_EncryptUpdate(c.ctx, nullptr, &length,
                        reinterpret_cast<const unsigned char*>(context.data()),
                        static_cast<int>(context.size())) != 1 ||
      EVP_EncryptUpdate(c.ctx, out + kNonceSize, &length,
                        reinterpret_cast<const unsigned char*>(text.data()),
                        static_cast<int>(text.size())) != 1 ||
      EVP_EncryptFinal_ex(c.ctx, out + kNonceSize + length, &length) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_GET_TAG, kTagSize,
                          out + kNonceSize + plaintext.size()) != 1) {
    return Error::Internal("cannot encrypt a secret");
  }
  return sealed;
}

Result<SecretString> SecretBox::Open(std::string_view sealed, std::string_view context) const {
  auto corrupt = [] {
    return Error(hr::BG_E_DATABASE_CORRUPT, ErrorContext::kGeneralQueueManager,
                 "a stored secret cannot be decrypted (altered, moved, or the machine key "
                 "changed)");
  };
  if (sealed.size() < kNonceSize + kTagSize) return corrupt();
  const auto* in = reinterpret_cast<const unsigned char*>(sealed.data());
  const std::size_t text_size = sealed.size() - kNonceSize - kTagSize;
  std::string plain(text_size, '\0');
  CipherContext c;
  int length = 0;
  std::array<unsigned char, kTagSize> tag{};
  std::memcpy(tag.data(), in + kNonceSize + text_size, kTagSize);
  const bool ok = c.ctx &&
                  EVP_DecryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, key_.data(), in) == 1 &&
                  EVP_DecryptUpdate(c.ctx, nullptr, &length,
                                    reinterpret_cast<const unsigned char*>(context.data()),
                                    static_cast<int>(context.size())) == 1 &&
                  EVP_DecryptUpdate(c.ctx, reinterpret_cast<unsigned char*>(plain.data()), &length,
                                    in + kNonceSize, static_cast<int>(text_size)) == 1 &&
                  EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) == 1 &&
                  EVP_DecryptFinal_ex(
                      c.ctx, reinterpret_cast<unsigned char*>(plain.data()) + length, &length) == 1;
  SecretString secret(std::move(plain));
  if (!ok) return corrupt();
  return secret;
}

std::string Sha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    std::abort();  // only fails when OpenSSL cannot allocate; no token may go unhashed
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

SecretString PackFields(std::initializer_list<std::string_view> fields) {
  std::string packed;
  for (std::string_view field : fields) {
    packed += std::to_string(field.size());
    packed += ':';
    packed += field;
  }
  return SecretString(std::move(packed));
}

std::optional<std::vector<std::string>> UnpackFields(const SecretString& packed,
                                                     std::size_t count) {
  std::string_view rest = packed.reveal();
  std::vector<std::string> fields(count);
  for (std::string& field : fields) {
    const auto colon = rest.find(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    std::size_t length = 0;
    for (char c : rest.substr(0, colon)) {
      if (c < '0' || c > '9') return std::nullopt;
      length = length * 10 + static_cast<std::size_t>(c - '0');
    }
    rest.remove_prefix(colon + 1);
    if (length > rest.size()) return std::nullopt;
    field.assign(rest.substr(0, length));
    rest.remove_prefix(length);
  }
  if (!rest.empty()) return std::nullopt;
  return fields;
}

}  // namespace openbits::store
