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

  std::vector<std::string> Bitsadmin(std::vector<std::string> args) {
    args.insert(args.begin(), {harness::BitsadminPath(), "--bus=" + bus_->address()});
    return args;
  }

  harness::TempDir dir_;
  std::unique_ptr<harness::PrivateBus> bus_;
  std::unique_ptr<harness::RangeServer> server_;
  std::unique_ptr<harness::Bitsd> bitsd_;
  std::unique_ptr<Client> client_;
};

}  // namespace openbits::integration
