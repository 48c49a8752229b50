// HTTP/2 where the server offers it: a job of many files fetched several at a time from an
// Apache with mod_http2 travels as streams of one multiplexed h2 connection (TLS, ALPN), every
// file's bytes checked by hash, Apache's log telling the protocol and the connection of each
// request. Over cleartext bitsd speaks HTTP/1.1 even where h2c is offered (no Upgrade, no
// prior knowledge), as BITS does: HTTP/2 only over TLS.
#include <algorithm>
#include <map>

#include "harness/apache_http2.h"
#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

class Http2Test : public DaemonTest {
 protected:
  void SetUp() override {
    if (!harness::Http2Apache::Installed()) GTEST_SKIP() << "Apache or mod_http2 not installed";
    pki_ = harness::MakeTestPki(dir_, "http2");
    DaemonTest::SetUp();
    apache_ = std::make_unique<harness::Http2Apache>(dir_, www(), pki_);
  }
  std::string Config() override {
    return DaemonTest::Config() +
           "[limits]\nmax_files_per_job = 300\n[engine]\nparallel_files = 8\n"
           "[tls]\nextra_ca_file = " +
           pki_.ca_cert + "\n";
  }
  // `count` files <prefix><i>.bin of random bytes in Apache's root, as (URL, destination).
  std::vector<std::pair<std::string, std::string>> ServeFiles(const std::string& prefix, int count,
                                                              bool tls) {
    std::vector<std::pair<std::string, std::string>> files;
    for (int i = 0; i < count; ++i) {
      const std::string name = prefix + std::to_string(i) + ".bin";
      harness::WriteRandomFile(www() + "/" + name, 200 * 1024 + static_cast<std::uint64_t>(i) * 997,
                               static_cast<std::uint32_t>(i + 1));
      const std::string path = "/" + name;
      files.emplace_back(tls ? apache_->TlsUrl(path) : apache_->CleartextUrl(path),
                         out() + "/" + name);
    }
    return files;
  }
  // Creates the job, transfers it, completes it and compares every file with the server's.
  void TransferAndCheck(const std::vector<std::pair<std::string, std::string>>& files) {
    auto job = client_->CreateJob("http2");
    ASSERT_TRUE(job) << job.error().ToString();
    ASSERT_TRUE(job->AddFileSet(files));
    ASSERT_TRUE(job->Resume());
    ASSERT_EQ(WaitForState(*job, {JobState::kTransferred, JobState::kError}, 120s),
              JobState::kTransferred)
        << (job->GetError() ? job->GetError()->description : "") << apache_->ErrorLog();
    auto completed = job->Complete();
    ASSERT_TRUE(completed) << completed.error().ToString();
    EXPECT_EQ(*completed, hr::S_OK);
    for (const auto& [url, path] : files) {
      const std::string name = path.substr(path.rfind('/') + 1);
      EXPECT_EQ(harness::Sha256OfFile(path), harness::Sha256OfFile(www() + "/" + name)) << name;
    }
  }
  // The requests of `prefix`'s files that Apache answered (200, or 206 for a range), by
  // connection (client port).
  std::map<int, std::vector<harness::Http2Apache::Request>> ByConnection(
      const std::string& prefix) const {
    std::map<int, std::vector<harness::Http2Apache::Request>> connections;
    for (const auto& request : apache_->Requests()) {
      if (request.path.starts_with("/" + prefix) &&
          (request.status == 200 || request.status == 206)) {
        connections[request.client_port].push_back(request);
      }
    }
    return connections;
  }

  harness::TestPki pki_;
  std::unique_ptr<harness::Http2Apache> apache_;
};

// The most requests of `requests` under way at once (begin and end times from the log).
int MostAtOnce(const std::vector<harness::Http2Apache::Request>& requests) {
  std::vector<std::pair<long long, int>> edges;  // (time, +1 begin / -1 end)
  for (const auto& request : requests) {
    edges.emplace_back(request.begin_us, +1);
    edges.emplace_back(request.end_us, -1);
  }
  std::sort(edges.begin(), edges.end());  // at equal times an end comes before a begin
  int now = 0;
  int most = 0;
  for (const auto& [time, step] : edges) most = std::max(most, now += step);
  return most;
}

TEST_F(Http2Test, ManyFilesOfOneJobShareOneMultiplexedH2Connection) {
  constexpr int kFiles = 48;
  const auto files = ServeFiles("h", kFiles, /*tls=*/true);
  ASSERT_NO_FATAL_FAILURE(TransferAndCheck(files));

  const auto connections = ByConnection("h");
  std::size_t requests = 0;
  std::size_t most_on_one = 0;
  int most_at_once = 0;
  for (const auto& [port, served] : connections) {
    requests += served.size();
    most_on_one = std::max(most_on_one, served.size());
    most_at_once = std::max(most_at_once, MostAtOnce(served));
    for (const auto& request : served) {
      EXPECT_EQ(request.protocol, "HTTP/2.0") << request.path << " on port " << port;
    }
  }
  EXPECT_GE(requests, static_cast<std::size_t>(kFiles)) << apache_->AccessLog();
  // Eight files at once, with PIPEWAIT: they wait for the first connection and multiplex on
  // it rather than open eight. (More than one connection may appear if one closes idle.)
  EXPECT_LE(connections.size(), 2u) << "files spread over " << connections.size() << " connections";
  EXPECT_GE(most_on_one, static_cast<std::size_t>(kFiles) / 2);
  EXPECT_GE(most_at_once, 2) << "no two streams of one connection overlapped";
}

TEST_F(Http2Test, OverCleartextBitsdSpeaksHttp11WhereH2cIsOffered) {
  constexpr int kFiles = 8;
  const auto files = ServeFiles("c", kFiles, /*tls=*/false);
  ASSERT_NO_FATAL_FAILURE(TransferAndCheck(files));
  std::size_t requests = 0;
  for (const auto& [port, served] : ByConnection("c")) {
    for (const auto& request : served) {
      ++requests;
      EXPECT_EQ(request.protocol, "HTTP/1.1") << request.path;
    }
  }
  EXPECT_GE(requests, static_cast<std::size_t>(kFiles));
}

}  // namespace
}  // namespace openbits::integration
