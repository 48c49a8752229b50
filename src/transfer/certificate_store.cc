#include "transfer/certificate_store.h"

#include <dirent.h>
#include <pwd.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <memory>
#include <optional>

#include "identity/fs_identity.h"
#include "identity/user_file.h"
#include "identity/users.h"

namespace openbits::transfer {
namespace {

struct Loaded {
  X509* certificate = nullptr;
  EVP_PKEY* key = nullptr;
  std::string key_path;  // the file the key came from, and its mode (permission check)
  mode_t key_mode = 0;
  ~Loaded() {
    X509_free(certificate);
    EVP_PKEY_free(key);
  }
};

std::string Sha1Hex(X509* certificate) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  X509_digest(certificate, EVP_sha1(), digest, &length);
  std::string hex;
  char byte[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

std::string Subject(X509* certificate) {
  BIO* bio = BIO_new(BIO_s_mem());
  // RFC 2253 syntax in the order certificates are written ("CN=..., O=..."), as Windows shows.
  X509_NAME_print_ex(bio, X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253 & ~XN_FLAG_DN_REV);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string subject(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  return subject;
}

std::int64_t NotAfter(X509* certificate) {
  tm when{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(certificate), &when) != 1) return 0;
  return timegm(&when);
}

// Who reads a store's files: the job's owner for CURRENT_USER, bitsd itself (root) for
// LOCAL_MACHINE, whose root the administrator configures.
core::FileOwner Reader(const core::FileOwner& owner, std::uint32_t location) {
  return location == 0 ? owner : core::FileOwner{0, 0};
}

// A store file's bytes, read through identity::ReadUserFile: without blocking (a FIFO is
// skipped, not waited on), as `reader`, from what was opened. Certificates may be shared
// read-only by another owner; the key's mode is checked by Resolve.
std::optional<identity::UserFileContent> ReadStoreFile(const core::FileOwner& reader,
                                                       const std::string& path) {
  identity::UserFileRules rules;
  rules.what = "the certificate file";
  rules.owned_by_user = false;
  rules.forbidden_mode = 0;
  rules.context = ErrorContext::kLocalFile;
  auto content = identity::ReadUserFile(reader, path, rules);
  if (!content) return std::nullopt;
  return std::move(*content);
}

// A read-only BIO over `bytes` (which must outlive it).
std::unique_ptr<BIO, decltype(&BIO_free)> MemoryBio(std::string_view bytes) {
  return {BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())), &BIO_free};
}

// Loads one store file as `reader`.
std::unique_ptr<Loaded> LoadFile(const core::FileOwner& reader, const std::string& path) {
  auto file = ReadStoreFile(reader, path);
  if (!file) return nullptr;
  auto loaded = std::make_unique<Loaded>();
  const std::string_view bytes = file->bytes.reveal();
  const bool pkcs12 = path.ends_with(".p12") || path.ends_with(".pfx");
  if (pkcs12) {
    PKCS12* bundle = d2i_PKCS12_bio(MemoryBio(bytes).get(), nullptr);
    if (bundle) {
      PKCS12_parse(bundle, "", &loaded->key, &loaded->certificate, nullptr);
      PKCS12_free(bundle);
    }
  } else {
    loaded->certificate = PEM_read_bio_X509(MemoryBio(bytes).get(), nullptr, nullptr, nullptr);
    loaded->key = PEM_read_bio_PrivateKey(MemoryBio(bytes).get(), nullptr, nullptr, nullptr);
  }
  loaded->key_path = path;
  loaded->key_mode = file->mode;
  if (!loaded->certificate) return nullptr;
  if (!loaded->key && !pkcs12) {
    // A key beside the certificate: name.key for name.pem / name.crt.
    const std::string key_path = path.substr(0, path.rfind('.')) + ".key";
    if (auto key_file = ReadStoreFile(reader, key_path)) {
      loaded->key = PEM_read_bio_PrivateKey(MemoryBio(key_file->bytes.reveal()).get(), nullptr,
                                            nullptr, nullptr);
      loaded->key_path = key_path;
      loaded->key_mode = key_file->mode;
    }
  }
  return loaded;
}

// The store's certificate files, sorted, listed as `reader` (opendir does not block).
Result<std::vector<std::string>> StoreFiles(const core::FileOwner& reader,
                                            const std::string& directory) {
  std::vector<std::string> files;
  identity::ScopedFsIdentity as_reader(reader.uid, reader.gid);
  OPENBITS_RETURN_IF_ERROR(as_reader.status());
  DIR* dir = opendir(directory.c_str());
  if (!dir) return files;
  while (const dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.ends_with(".pem") || name.ends_with(".crt") || name.ends_with(".p12") ||
        name.ends_with(".pfx")) {
      files.push_back(directory + "/" + name);
    }
  }
  closedir(dir);
  std::sort(files.begin(), files.end());
  return files;
}

bool Contains(std::string haystack, std::string needle) {
  auto lower = [](std::string& text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  };
  lower(haystack);
  lower(needle);
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

std::string FileCertificateStore::StoreDirectory(const core::FileOwner& owner,
                                                 std::uint32_t location,
                                                 const std::string& store) const {
  if (location == 1) return options_.machine_root + "/" + store;
  std::string root = options_.user_root;
  std::string home = "/nonexistent";
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwuid_r(owner.uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found) {
    home = entry.pw_dir;
  }
  for (auto [token, value] :
       {std::pair<std::string, std::string>{"%h", home}, {"%u", identity::UserName(owner.uid)}}) {
    for (auto at = root.find(token); at != std::string::npos; at = root.find(token)) {
      root.replace(at, 2, value);
    }
  }
  return root + "/" + store;
}

Result<core::ClientCredential> FileCertificateStore::Resolve(
    const core::FileOwner& owner, const core::ClientCertificateRef& reference) {
  // A user's store is read as that user: a job cannot use a certificate its owner cannot read.
  const core::FileOwner reader = Reader(owner, reference.location);
  const std::string directory = StoreDirectory(owner, reference.location, reference.store);
  auto files = StoreFiles(reader, directory);
  if (!files) return files.error();
  for (const std::string& path : *files) {
    auto loaded = LoadFile(reader, path);
    if (!loaded) continue;
    const bool match = reference.sha1.empty()
                           ? Contains(Subject(loaded->certificate), reference.subject)
                           : Sha1Hex(loaded->certificate) == reference.sha1;
    if (!match) continue;
    if (!loaded->key) {
      return Error(hr::CRYPT_E_NOT_FOUND, ErrorContext::kLocalFile,
                   "the certificate " + path + " has no private key beside it");
    }
    if ((loaded->key_mode & (S_IRGRP | S_IROTH)) != 0) {
      return Error(
          hr::E_ACCESSDENIED, ErrorContext::kLocalFile,
          "the private key " + loaded->key_path + " is readable by other users; make it mode 0600");
    }
    core::ClientCredential credential;
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, loaded->certificate);
    char* data = nullptr;
    long length = BIO_get_mem_data(bio, &data);
    credential.certificate_pem.assign(data, static_cast<std::size_t>(length));
    BIO_free(bio);
    bio = BIO_new(BIO_s_secmem());
    PEM_write_bio_PrivateKey(bio, loaded->key, nullptr, nullptr, 0, nullptr, nullptr);
    length = BIO_get_mem_data(bio, &data);
    credential.key_pem = SecretString(std::string(data, static_cast<std::size_t>(length)));
    BIO_free(bio);  // a secure-heap BIO wipes itself
    return credential;
  }
  return Error(hr::CRYPT_E_NOT_FOUND, ErrorContext::kLocalFile,
               "no certificate " +
                   (reference.sha1.empty() ? "with subject '" + reference.subject + "'"
                                           : "with thumbprint " + reference.sha1) +
                   " in " + directory);
}

Result<std::vector<core::CertificateInfo>> FileCertificateStore::List(const core::FileOwner& owner,
                                                                      std::uint32_t location,
                                                                      const std::string& store) {
  const core::FileOwner reader = Reader(owner, location);
  auto files = StoreFiles(reader, StoreDirectory(owner, location, store));
  if (!files) return files.error();
  std::vector<core::CertificateInfo> certificates;
  for (const std::string& path : *files) {
    if (auto loaded = LoadFile(reader, path)) {
      certificates.push_back({Sha1Hex(loaded->certificate), Subject(loaded->certificate),
                              NotAfter(loaded->certificate)});
    }
  }
  return certificates;
}

}  // namespace openbits::transfer
