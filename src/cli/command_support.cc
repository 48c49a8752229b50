#include "cli/command_support.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "base/text.h"

namespace openbits::cli {

int Fail(const std::string& what, const Error& error) {
  std::cerr << text::Printable("Unable to " + what + " - " + error.ToString()) << "\n";
  return 1;
}

int Usage(const std::string& text) {
  std::cerr << "Usage: bitsadmin " << text::Printable(text) << "\n";
  return 2;
}

std::string AbsolutePath(const std::string& path) {
  std::error_code ec;
  auto absolute = std::filesystem::absolute(path, ec);
  return ec ? path : absolute.lexically_normal().string();
}

Result<Job> ResolveJob(Client& client, const std::string& name) {
  if (auto id = Guid::Parse(name)) return client.GetJob(*id);
  if (!name.empty() && name.front() == '{') {
    return Error::InvalidArg("'" + name + "' is not a valid job GUID");
  }
  auto jobs = client.EnumJobs(false);
  if (!jobs) return jobs.error();
  std::vector<Job> matches;
  for (Job& job : *jobs) {
    auto display = job.GetDisplayName();
    if (display && *display == name) matches.push_back(job);
  }
  if (matches.empty()) return Error::NotFound("no job is named '" + name + "'");
  if (matches.size() > 1) {
    std::string ids;
    for (const Job& job : matches) ids += " " + job.id().ToString();
    return Error::InvalidArg("several jobs are named '" + name + "':" + ids + "; name one by GUID");
  }
  return matches.front();
}

int WithJob(Context& ctx, const Args& args, std::size_t extra, const std::string& usage,
            const std::function<int(Job&)>& action) {
  if (args.size() != 1 + extra) return Usage(usage);
  auto job = ResolveJob(ctx.client, args[0]);
  if (!job) return Fail("find job '" + args[0] + "'", job.error());
  return action(*job);
}

int Done(Context& ctx, const Status& status, const std::string& what, const std::string& said) {
  if (!status) return Fail(what, status.error());
  if (!ctx.raw) std::cout << text::Printable(said) << "\n";
  return 0;
}

std::optional<std::uint32_t> ParseFlags(const std::string& text) {
  char* end = nullptr;
  const unsigned long flags = std::strtoul(text.c_str(), &end, 0);
  if (text.empty() || *end != '\0' || flags > UINT32_MAX) return std::nullopt;
  return static_cast<std::uint32_t>(flags);
}

std::optional<std::uint32_t> ParseStoreLocation(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (text == "CURRENT_USER" || text == "0") return kCertStoreCurrentUser;
  if (text == "LOCAL_MACHINE" || text == "1") return kCertStoreLocalMachine;
  if (text.size() == 1 && text[0] >= '2' && text[0] <= '7') return text[0] - '0';
  return std::nullopt;
}
}  // namespace openbits::cli
