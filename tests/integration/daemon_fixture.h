// DaemonTest: a private bus, the range server over a www/ directory, and bitsd, fresh for
// every test; a client connected as the test's own uid.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <set>

#include "harness/harness.h"
#include "openbits/client.h"

namespace openbits::integration {

using namespace std::chrono_literals;

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(www());
    std::filesystem::create_directories(out());
    bus_ = std::make_unique<harness::PrivateBus>(dir_);
    server_ = std::make_unique<harness::RangeServer>(dir_, www());
    bitsd_ = std::make_unique<harness::Bitsd>(dir_, bus_->address(), Config());
    bitsd_->Start();
    client_ = Connect();
  }

  void TearDown() override {
    client_.reset();
    // Every test ends with a clean shutdown: SIGTERM, transfers checkpointed, exit 0 (and
    // under ASan, no leak or error report).
    if (bitsd_) {
      EXPECT_EQ(bitsd_->Stop(), 0) << "bitsd did not shut down cleanly";
      EXPECT_EQ(bitsd_->Log().find("Sanitizer"), std::string::npos) << "sanitizer report";
    }
    if (HasFailure() && bitsd_ && server_) {
      std::cerr << "---- bitsd log ----\n" << bitsd_->Log() << "---- http requests ----\n";
      for (const auto& line : server_->LogLines()) std::cerr << line << "\n";
    }
    bitsd_.reset();
  }

  // Short checkpoints so crash tests can catch a transfer between two of them.
  virtual std::string Config() { return "[transfer]\ncheckpoint_interval_ms = 100\n"; }

  std::unique_ptr<Client> Connect() {
    auto client = Client::Connect(BusChoice::Parse(bus_->address()));
    if (!client) throw std::runtime_error(client.error().ToString());
    return std::move(*client);
  }

  std::string www() const { return dir_ / "www"; }
  std::string out() const { return dir_ / "out"; }

  // Waits until the job is in one of `states`; returns the state it was last seen in.
  JobState WaitForState(Job& job, std::set<JobState> states,
                        std::chrono::milliseconds timeout = 30s) {
    JobState last = JobState::kSuspended;
    harness::WaitUntil(
        [&] {
          auto state = job.GetState();
          if (!state) return false;
          last = *state;
          return states.contains(last);
        },
        timeout);
    return last;
  }

  // How one job ended: its state, its error (when not TRANSFERRED), the file's SHA-256.
  struct Outcome {
    JobState state = JobState::kCancelled;
    HRESULT code = hr::S_OK;
    ErrorContext context = ErrorContext::kNone;
    std::string description;
    std::string sha256;  // of the completed file
  };
  // Runs a one-file job for `url` with `configure` applied before Resume, until it is
  // TRANSFERRED (then completed), in ERROR or in TRANSIENT_ERROR (then cancelled).
  Outcome RunJob(const std::string& name, const std::string& url,
                 const std::function<Status(Job&)>& configure) {
    Outcome outcome;
    auto job = client_->CreateJob(name);
    if (!job) {
      ADD_FAILURE() << job.error().ToString();
      return outcome;
    }
    const std::string local = out() + "/" + name;
    const Status added = job->AddFile(url, local);
    const Status configured = configure(*job);
    if (!added || !configured || !job->SetMinimumRetryDelay(60) || !job->Resume()) {
      ADD_FAILURE() << "could not start " << name << ": "
                    << (!added ? added.error().ToString() : "")
                    << (!configured ? configured.error().ToString() : "");
      return outcome;
    }
    outcome.state =
        WaitForState(*job, {JobState::kTransferred, JobState::kError, JobState::kTransientError});
    if (outcome.state == JobState::kTransferred) {
      EXPECT_TRUE(job->Complete());
      outcome.sha256 = harness::Sha256OfFile(local);
    } else if (auto error = job->GetError()) {
      outcome.code = error->code;
      outcome.context = error->context;
      outcome.description = error->description;
      (void)job->Cancel();
    }
    return outcome;
  }

  std::vector<std::string> Bitsadmin(std::vector<std::string> args) {
    args.insert(args.begin(), {harness::BitsadminPath(), "--bus=" + bus_->address()});
    return args;
  }
  // `bitsadmin /util /createhelpertoken` lending the runner's default credential cache (no
  // KRB5CCNAME): the test process's KRB5CCNAME (harness::Kdc sets it) is root's, which another
  // uid may not lend, as minting checks.
  std::vector<std::string> MintWithDefaultCache() {
    std::vector<std::string> argv = {"/usr/bin/env", "-u", "KRB5CCNAME"};
    for (std::string& arg : Bitsadmin({"/util", "/createhelpertoken"})) {
      argv.push_back(std::move(arg));
    }
    return argv;
  }

  harness::TempDir dir_;
  std::unique_ptr<harness::PrivateBus> bus_;
  std::unique_ptr<harness::RangeServer> server_;
  std::unique_ptr<harness::Bitsd> bitsd_;
  std::unique_ptr<Client> client_;
};

}  // namespace openbits::integration
