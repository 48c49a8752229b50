#include "proxy/pac_evaluator.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "base/log.h"

namespace openbits::proxy {
namespace {

Error Invalid(const std::string& why) {
  return Error(hr::BG_E_INVALID_PROXY_INFO, ErrorContext::kGeneralTransport, why);
}

void CloseAll(std::initializer_list<int*> fds) {
  for (int* fd : fds) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

}  // namespace

Result<std::string> PacEvaluator::Evaluate(const std::string& script, const std::string& url,
                                           const std::string& host) const {
  // The URL travels on the helper's stdin, never in its argv (which every user can read in
  // /proc): one line each for the URL and the host, an empty line, then the script.
  if (url.find_first_of(std::string("\r\n\0", 3)) != std::string::npos ||
      host.find_first_of(std::string("\r\n\0", 3)) != std::string::npos || url.empty() ||
      host.empty()) {
    return Invalid("the URL cannot be given to a PAC script (empty, or a line break in it)");
  }
  const std::string input = url + "\n" + host + "\n\n" + script;
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return Invalid("cannot start the PAC helper: no pipe");
  if (pipe2(out, O_CLOEXEC) != 0) {
    CloseAll({&in[0], &in[1]});
    return Invalid("cannot start the PAC helper: no pipe");
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    CloseAll({&in[0], &in[1], &out[0], &out[1]});
    return Invalid("cannot start the PAC helper: no pipe");
  }
  const std::string memory = std::to_string(options_.memory_limit_mb);
  const std::string cpu = std::to_string(std::max<long>(1, options_.timeout.count() / 1000 + 1));
  std::vector<std::string> args = {options_.helper_path, "--memory-mb", memory, "--cpu-s", cpu};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    CloseAll({&in[0], &in[1], &out[0], &out[1], &err[0], &err[1]});
    return Invalid("cannot start the PAC helper: fork failed");
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls.
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  CloseAll({&in[0], &out[1], &err[1]});
  // The helper reads all of its input before it writes anything.
  std::size_t written = 0;
  while (written < input.size()) {
    const ssize_t n = write(in[1], input.data() + written, input.size() - written);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  CloseAll({&in[1]});
  std::string answer, complaint;
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  bool timed_out = false;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[4096];
      const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
      } else if ((i == 0 ? answer : complaint).size() < 65536) {
        (i == 0 ? answer : complaint).append(buffer, static_cast<std::size_t>(n));
      }
    }
  }
  for (pollfd& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return Invalid("the PAC script did not answer within " +
                   std::to_string(options_.timeout.count()) + " ms and was stopped");
  }
  while (!complaint.empty() && (complaint.back() == '\n' || complaint.back() == '\r')) {
    complaint.pop_back();
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (WIFSIGNALED(status)) {
      return Invalid("the PAC script was stopped by signal " + std::to_string(WTERMSIG(status)) +
                     " (a memory or CPU limit)");
    }
    if (WEXITSTATUS(status) == 127) {
      return Invalid("the PAC helper " + options_.helper_path + " cannot be run");
    }
    return Invalid("the PAC script failed: " + (complaint.empty() ? "no reason given" : complaint));
  }
  const auto newline = answer.find('\n');
  if (newline != std::string::npos) answer.resize(newline);
  if (answer.empty() || answer == "ERROR") {
    return Invalid("FindProxyForURL gave no answer for " + log::RedactUrl(url) +
                   (complaint.empty() ? "" : ": " + complaint));
  }
  return answer;
}

}  // namespace openbits::proxy
