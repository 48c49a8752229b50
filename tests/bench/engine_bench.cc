// engine_bench: N files through transfer::CurlMultiEngine, PARALLEL in flight, each written to
// OUT_DIR (tests/bench/engine_bench.sh compares it with curl -Z --parallel-max on the same
// nginx). Prints "files=N seconds=S files_per_s=R connections=C" on stdout.
//
// usage: engine_bench BASE_URL COUNT PARALLEL OUT_DIR [CA_FILE]
//        fetches BASE_URL/f0.bin .. BASE_URL/f<COUNT-1>.bin
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "transfer/curl_multi_engine.h"

namespace {

using openbits::Ok;
using openbits::Status;
namespace core = openbits::core;

// Writes the body to a file, as a job's temp file would be written.
class FileSink : public core::DownloadSink {
 public:
  explicit FileSink(const std::string& path)
      : fd_(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) {}
  ~FileSink() override {
    if (fd_ >= 0) close(fd_);
  }
  Status OnResponse(const core::DownloadResponse&) override { return Ok(); }
  Status OnData(const char* data, std::size_t length) override {
    while (length > 0) {
      const ssize_t written = write(fd_, data, length);
      if (written <= 0) {
        return openbits::Error(openbits::hr::E_FAIL, openbits::ErrorContext::kLocalFile,
                               "write failed");
      }
      data += written;
      length -= static_cast<std::size_t>(written);
    }
    return Ok();
  }
  void OnRemoteNameChanged(const std::string&) override {}
  void OnRetryAfter(std::chrono::seconds) override {}
  bool StopRequested() const override { return false; }

 private:
  int fd_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: engine_bench BASE_URL COUNT PARALLEL OUT_DIR [CA_FILE]\n");
    return 2;
  }
  const std::string base = argv[1];
  const int count = std::stoi(argv[2]);
  const int parallel = std::stoi(argv[3]);
  const std::string out = argv[4];
  openbits::transfer::CurlTransportOptions options;
  if (argc > 5) options.extra_ca_file = argv[5];
  auto services = openbits::transfer::NetworkServices::Create(options, nullptr, nullptr);
  if (!services) {
    std::fprintf(stderr, "%s\n", services.error().ToString().c_str());
    return 1;
  }
  openbits::transfer::CurlMultiEngine engine(**services);

  std::vector<std::unique_ptr<FileSink>> sinks(count);
  std::mutex mutex;
  std::condition_variable changed;
  int next = 0, finished = 0, failed = 0;
  std::function<void()> start_next = [&] {  // REQUIRES: mutex held
    const int i = next++;
    const std::string name = "/f" + std::to_string(i) + ".bin";
    sinks[i] = std::make_unique<FileSink>(out + name);
    core::DownloadRequest request;
    request.url = base + name;
    request.proxy.usage = openbits::ProxyUsage::kNoProxy;
    engine.Start(std::move(request), *sinks[i], [&, i](Status status) {
      if (!status) std::fprintf(stderr, "f%d: %s\n", i, status.error().ToString().c_str());
      std::lock_guard lock(mutex);
      sinks[i].reset();
      ++finished;
      if (!status) ++failed;
      if (next < count) start_next();
      changed.notify_all();
    });
  };
  const auto began = std::chrono::steady_clock::now();
  {
    std::unique_lock lock(mutex);
    for (int i = 0; i < parallel && next < count; ++i) start_next();
    changed.wait(lock, [&] { return finished == count; });
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  engine.Shutdown();
  std::printf("files=%d seconds=%.3f files_per_s=%.0f connections=%llu failed=%d\n", count, seconds,
              count / seconds, static_cast<unsigned long long>(engine.stats().connections_opened),
              failed);
  return failed == 0 ? 0 : 1;
}
