#include "identity/process_launcher.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "identity/users.h"

namespace openbits::identity {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static const auto logger = log::Get("identity");
  return logger;
}

// What the child needs, prepared before fork: after fork only async-signal-safe calls.
struct ChildPlan {
  std::vector<std::string> argv_storage, env_storage;
  std::vector<char*> argv, env;
  std::vector<gid_t> groups;
  uid_t uid;
  gid_t gid;
  std::string program, home;
};

ChildPlan Plan(const core::CommandSpec& spec) {
  ChildPlan plan;
  plan.uid = spec.uid;
  plan.gid = spec.gid;
  plan.program = spec.program;
  const auto groups = SupplementaryGroups(spec.uid);
  plan.groups.assign(groups.begin(), groups.end());
  const std::string user = UserName(spec.uid);
  plan.home = "/";
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwuid_r(spec.uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found) {
    plan.home = entry.pw_dir;
  }
  plan.argv_storage = spec.argv;
  plan.env_storage = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + plan.home, "USER=" + user,
                      "LOGNAME=" + user, "LANG=C.UTF-8"};
  for (auto& arg : plan.argv_storage) plan.argv.push_back(arg.data());
  plan.argv.push_back(nullptr);
  for (auto& var : plan.env_storage) plan.env.push_back(var.data());
  plan.env.push_back(nullptr);
  return plan;
}

[[noreturn]] void BecomeChild(const ChildPlan& plan) {
  const int null = open("/dev/null", O_RDWR);
  dup2(null, STDIN_FILENO);
  dup2(null, STDOUT_FILENO);
  dup2(null, STDERR_FILENO);
  syscall(SYS_close_range, 3U, ~0U, 0U);
  setsid();
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);  // the daemon blocks SIGTERM; the child must not
  if (getuid() == 0) {
    if (syscall(SYS_setgroups, plan.groups.size(), plan.groups.data()) != 0 ||
        setresgid(plan.gid, plan.gid, plan.gid) != 0 ||
        setresuid(plan.uid, plan.uid, plan.uid) != 0) {
      _exit(126);
    }
  } else if (getuid() != plan.uid) {
    _exit(126);
  }
  if (chdir(plan.home.c_str()) != 0 && chdir("/") != 0) _exit(126);
  execve(plan.program.c_str(), plan.argv.data(), plan.env.data());
  _exit(127);
}

}  // namespace

struct ProcessLauncher::Running {
  std::atomic<int> pidfd{-1};
  std::atomic<bool> finished{false};
  std::thread thread;
};

ProcessLauncher::~ProcessLauncher() { StopAll(); }

void ProcessLauncher::Start(const core::CommandSpec& spec,
                            std::function<void(const core::CommandOutcome&)> on_exit) {
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  // Reap the supervisors of commands that have ended.
  std::erase_if(running_, [](const std::shared_ptr<Running>& done) {
    if (!done->finished) return false;
    done->thread.join();
    return true;
  });
  auto running = std::make_shared<Running>();
  running->thread =
      std::thread(&ProcessLauncher::Supervise, this, running, spec, std::move(on_exit));
  running_.push_back(std::move(running));
}

void ProcessLauncher::Supervise(std::shared_ptr<Running> running, core::CommandSpec spec,
                                std::function<void(const core::CommandOutcome&)> on_exit) {
  core::CommandOutcome outcome;
  const ChildPlan plan = Plan(spec);
  const pid_t pid = fork();
  if (pid == 0) BecomeChild(plan);
  if (pid < 0) {
    outcome.error = std::string("fork failed: ") + std::strerror(errno);
    on_exit(outcome);
    running->finished = true;
    return;
  }
  outcome.started = true;
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  running->pidfd = pidfd;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) kill(pid, SIGKILL);  // StopAll ran before the pidfd was there to signal
  }
  pollfd fd{pidfd, POLLIN, 0};
  const int ready = pidfd >= 0 ? poll(&fd, 1, static_cast<int>(spec.timeout.count())) : 0;
  if (ready == 0) {
    outcome.timed_out = true;
    kill(pid, SIGKILL);
    Log()->warn("Killed notification command {} (pid {}) after {} ms", spec.program, pid,
                spec.timeout.count());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  running->pidfd = -1;
  if (pidfd >= 0) close(pidfd);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (outcome.exit_code == 126) outcome.error = "could not take on uid " + std::to_string(spec.uid);
  if (outcome.exit_code == 127) outcome.error = "could not execute " + spec.program;
  bool stopping;
  {
    std::lock_guard lock(mutex_);
    stopping = stopping_;
  }
  if (!stopping) on_exit(outcome);  // StopAll promised no more callbacks
  running->finished = true;
}

void ProcessLauncher::StopAll() {
  std::vector<std::shared_ptr<Running>> running;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (const auto& command : running_) {
      const int pidfd = command->pidfd;
      if (pidfd >= 0) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    }
    running.swap(running_);
  }
  for (const auto& command : running) command->thread.join();
}

}  // namespace openbits::identity
