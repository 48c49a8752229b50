// UserPathsTest: a real daemon, the KDC and the authenticating Apache of the harness, and two
// real local users (openbits-alice, openbits-bob) who drive bitsadmin as themselves, each with
// a private directory. For attacks through paths a caller names: KRB5CCNAME, NTLM_USER_FILE,
// certificate stores.
#pragma once

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "harness/auth_peers.h"
#include "integration/daemon_fixture.h"

namespace openbits::integration {

class UserPathsTest : public DaemonTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to act as two users";
    for (auto [name, id] : {std::pair{"openbits-alice", &alice_}, {"openbits-bob", &bob_}}) {
      const passwd* entry = getpwnam(name);
      if (!entry) GTEST_SKIP() << name << " is missing (tests/run.sh makes it)";
      *id = {entry->pw_uid, entry->pw_gid};
    }
    kdc_ = std::make_unique<harness::Kdc>(dir_);
    DaemonTest::SetUp();
    harness::WriteRandomFile(www() + "/file.bin", 20'000, 23);
    apache_ = std::make_unique<harness::AuthApache>(dir_, www(), *kdc_);
    alice_dir_ = PrivateDir("alice", alice_);
    bob_dir_ = PrivateDir("bob", bob_);
  }
  std::string Config() override {
    return DaemonTest::Config() + "[tls]\nuser_store_root = " + dir_.path() + "/home-%u/certs\n";
  }

  // A directory of `owner`, mode 0700.
  std::string PrivateDir(const std::string& name, const harness::RunAs& owner) {
    const std::string path = out() + "/" + name;
    std::filesystem::create_directories(path);
    EXPECT_EQ(chown(path.c_str(), owner.uid, owner.gid), 0);
    EXPECT_EQ(chmod(path.c_str(), 0700), 0);
    return path;
  }
  // A ticket cache of `principal` at `path`, owned by `owner` (mode 0600, as kinit makes it).
  void KinitInto(const std::string& principal, const std::string& path,
                 const harness::RunAs& owner) {
    const std::string made = kdc_->Kinit(principal, principal + "-" + std::to_string(caches_++));
    std::filesystem::rename(made.substr(std::string("FILE:").size()), path);
    EXPECT_EQ(chown(path.c_str(), owner.uid, owner.gid), 0);
  }
  // A FIFO of `owner`, which nobody writes.
  static void MakeFifo(const std::string& path, const harness::RunAs& owner) {
    ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
    ASSERT_EQ(chown(path.c_str(), owner.uid, owner.gid), 0);
  }
  // Releases whoever is blocked opening `path` for reading (the old daemon), so that a failed
  // test still ends.
  static void ReleaseFifoReaders(const std::string& path) {
    const int fd = open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) close(fd);
  }

  // bitsadmin as `user`, with `env` ("NAME=value") in its environment.
  harness::CommandResult As(const harness::RunAs& user, const std::vector<std::string>& env,
                            std::vector<std::string> args,
                            std::chrono::milliseconds timeout = 20s) {
    std::vector<std::string> argv = {"/usr/bin/env"};
    argv.insert(argv.end(), env.begin(), env.end());
    for (std::string& arg : Bitsadmin(std::move(args))) argv.push_back(std::move(arg));
    return harness::Run(argv, user, timeout);
  }

  struct UserJob {
    std::string state;  // "TRANSFERRED", "ERROR", or the last state seen
    std::string error;  // --json /geterror: code, context, description
  };
  // A job of `user` for `path` on Apache, with implicit credentials for `scheme` ("NEGOTIATE",
  // "NTLM") set under `env` (KRB5CCNAME=..., NTLM_USER_FILE=...); run until TRANSFERRED or
  // ERROR (or `timeout`), then cancelled.
  UserJob RunImplicit(const harness::RunAs& user, const std::string& name, const std::string& path,
                      const std::string& scheme, const std::vector<std::string>& env,
                      std::chrono::milliseconds timeout = 20s) {
    UserJob job;
    const auto created = As(user, env, {"/rawreturn", "/create", name});
    const std::string id = created.out.substr(0, created.out.find('\n'));
    EXPECT_TRUE(Guid::Parse(id)) << created.out << created.err;
    const std::string target = (user.uid == alice_.uid ? alice_dir_ : bob_dir_) + "/" + name;
    EXPECT_EQ(As(user, env, {"/addfile", id, apache_->Url(path), target}).exit_code, 0);
    const auto set = As(user, env, {"/setcredentials", id, "SERVER", scheme, "NULL", "NULL"});
    EXPECT_EQ(set.exit_code, 0) << set.err;
    EXPECT_EQ(As(user, env, {"/resume", id}).exit_code, 0);
    harness::WaitUntil(
        [&] {
          job.state = As(user, env, {"/getstate", id}).out;
          if (!job.state.empty() && job.state.back() == '\n') job.state.pop_back();
          return job.state == "TRANSFERRED" || job.state == "ERROR";
        },
        timeout);
    if (job.state == "ERROR") job.error = As(user, env, {"--json", "/geterror", id}).out;
    As(user, env, {"/cancel", id}, 5s);
    return job;
  }

  // Whom Apache authenticated: the user field of every access-log line.
  std::vector<std::string> AuthenticatedUsers() const {
    std::vector<std::string> users;
    for (const std::string& line : apache_->AccessLog()) {
      const auto space = line.find(' ');
      users.push_back(line.substr(space + 1, line.find(' ', space + 1) - space - 1));
    }
    return users;
  }
  bool ServerSaw(const std::string& user) const {
    for (const std::string& seen : AuthenticatedUsers()) {
      if (seen.find(user) != std::string::npos) return true;
    }
    return false;
  }

  // How long another user waits for an answer to /list.
  std::chrono::milliseconds BobsListTakes() {
    const auto start = std::chrono::steady_clock::now();
    const auto listed = As(bob_, {}, {"/list"}, 10s);
    EXPECT_EQ(listed.exit_code, 0) << listed.err;
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start);
  }

  std::unique_ptr<harness::Kdc> kdc_;
  std::unique_ptr<harness::AuthApache> apache_;
  harness::RunAs alice_{0, 0}, bob_{0, 0};
  std::string alice_dir_, bob_dir_;
  int caches_ = 0;
};

}  // namespace openbits::integration
