// Fuzz target: a file in a certificate store (PEM, or PKCS#12 without a password), which
// bitsd parses as root for a job and which the store's owner writes, and the thumbprint and
// subject a job names it by. See fuzz_regression_main.cc.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "transfer/certificate_store.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace openbits;
  // A store of its own, removed at exit.
  static const struct Store {
    Store() { std::filesystem::create_directories(root + "/MY"); }
    ~Store() {
      std::error_code ignored;
      std::filesystem::remove_all(root, ignored);
    }
    std::string root =
        std::filesystem::temp_directory_path() / ("openbits-cert-fuzz-" + std::to_string(getpid()));
  } scratch;
  const std::string& root = scratch.root;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const bool pkcs12 = !text.empty() && text[0] == 0x30;  // DER: a SEQUENCE
  const std::string path = root + (pkcs12 ? "/MY/c.p12" : "/MY/c.pem");
  std::filesystem::remove(root + "/MY/c.p12");
  std::filesystem::remove(root + "/MY/c.pem");
  {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }
  transfer::FileCertificateStore store({root + "/user", root});
  const core::FileOwner owner{static_cast<std::uint32_t>(geteuid()),
                              static_cast<std::uint32_t>(getegid())};
  (void)store.List(owner, 1, "MY");
  core::ClientCertificateRef by_thumbprint{1, "MY", text.substr(0, 40), ""};
  (void)store.Resolve(owner, by_thumbprint);
  core::ClientCertificateRef by_subject{1, "MY", "", text.substr(0, 16)};
  (void)store.Resolve(owner, by_subject);
  return 0;
}
