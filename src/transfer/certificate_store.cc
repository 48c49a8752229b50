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

#include "identity/fs_identity.h"
#include "identity/users.h"

namespace openbits::transfer {
namespace {

struct Loaded {
  X509* certificate = nullptr;
  EVP_PKEY* key = nullptr;
  std::string key_path;  // the file the key came from, for its permission check
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

// Loads one store file (with the caller's current file-system identity).
std::unique_ptr<Loaded> LoadFile(const std::string& path) {
  auto loaded = std::make_unique<Loaded>();
  FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) return nullptr;
  const bool pkcs12 = path.ends_with(".p12") || path.ends_with(".pfx");
  if (pkcs12) {
    PKCS12* bundle = d2i_PKCS12_fp(file, nullptr);
    if (bundle) {
      PKCS12_parse(bundle, "", &loaded->key, &loaded->certificate, nullptr);
      PKCS12_free(bundle);
    }
    loaded->key_path = path;
  } else {
    loaded->certificate = PEM_read_X509(file, nullptr, nullptr, nullptr);
    std::rewind(file);
    loaded->key = PEM_read_PrivateKey(file, nullptr, nullptr, nullptr);
    loaded->key_path = path;
  }
  std::fclose(file);
  if (!loaded->certificate) return nullptr;
  if (!loaded->key && !pkcs12) {
    // A key beside the certificate: name.key for name.pem / name.crt.
    const std::string key_path = path.substr(0, path.rfind('.')) + ".key";
    if (FILE* key_file = std::fopen(key_path.c_str(), "rb")) {
      loaded->key = PEM_read_PrivateKey(key_file, nullptr, nullptr, nullptr);
      loaded->key_path = key_path;
      std::fclose(key_file);
    }
  }
  return loaded;
}

// The store's certificate files, sorted.
std::vector<std::string> StoreFiles(const std::string& directory) {
  std::vector<std::string> files;
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
  const bool user_store = reference.location == 0;
  identity::ScopedFsIdentity as_owner(user_store ? owner.uid : 0, user_store ? owner.gid : 0);
  OPENBITS_RETURN_IF_ERROR(as_owner.status());
  const std::string directory = StoreDirectory(owner, reference.location, reference.store);
  for (const std::string& path : StoreFiles(directory)) {
    auto loaded = LoadFile(path);
    if (!loaded) continue;
    const bool match = reference.sha1.empty()
                           ? Contains(Subject(loaded->certificate), reference.subject)
                           : Sha1Hex(loaded->certificate) == reference.sha1;
    if (!match) continue;
    if (!loaded->key) {
      return Error(hr::CRYPT_E_NOT_FOUND, ErrorContext::kLocalFile,
                   "the certificate " + path + " has no private key beside it");
    }
    struct stat st {};
    if (stat(loaded->key_path.c_str(), &st) != 0 || (st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
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
  const bool user_store = location == 0;
  identity::ScopedFsIdentity as_owner(user_store ? owner.uid : 0, user_store ? owner.gid : 0);
  OPENBITS_RETURN_IF_ERROR(as_owner.status());
  std::vector<core::CertificateInfo> certificates;
  for (const std::string& path : StoreFiles(StoreDirectory(owner, location, store))) {
    if (auto loaded = LoadFile(path)) {
      certificates.push_back({Sha1Hex(loaded->certificate), Subject(loaded->certificate),
                              NotAfter(loaded->certificate)});
    }
  }
  return certificates;
}

}  // namespace openbits::transfer
