// FileCertificateStore: BITS certificate stores as directories of PEM and PKCS#12 files.
// CURRENT_USER store S is `user_root`/S (default ~/.local/share/openbits/certs/S of the job
// owner, read with the owner's file-system identity); LOCAL_MACHINE store S is
// `machine_root`/S (default /etc/openbits/certs/S). A file holds a certificate with its key
// (PEM, or PKCS#12 without a password), or a certificate with a same-named .key beside it.
// Every store file is read through identity::ReadUserFile: as the reader, without blocking
// (a FIFO or device is skipped, never waited on: List runs on the bus thread), and a key's
// mode is checked on the file that was read.
#pragma once

#include <string>

#include "core/ports.h"

namespace openbits::transfer {

struct CertificateStoreOptions {
  // %h is the owner's home directory, %u the owner's user name.
  std::string user_root = "%h/.local/share/openbits/certs";
  std::string machine_root = "/etc/openbits/certs";
};

class FileCertificateStore : public core::CertificateStore {
 public:
  explicit FileCertificateStore(CertificateStoreOptions options) : options_(std::move(options)) {}
  Result<core::ClientCredential> Resolve(const core::FileOwner& owner,
                                         const core::ClientCertificateRef& reference) override;
  Result<std::vector<core::CertificateInfo>> List(const core::FileOwner& owner,
                                                  std::uint32_t location,
                                                  const std::string& store) override;

 private:
  std::string StoreDirectory(const core::FileOwner& owner, std::uint32_t location,
                             const std::string& store) const;
  CertificateStoreOptions options_;
};

}  // namespace openbits::transfer
