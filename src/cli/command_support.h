// What the bitsadmin verbs share: error and usage output, naming a job, small parsers.
#pragma once

#include <cstdint>
#include <functional>
#include <iostream>
#include <optional>
#include <string>

#include "base/text.h"
#include "cli/commands.h"

namespace openbits::cli {

// Each of these prints one line, with control characters in it (newlines too) escaped.
// "Unable to <what> - <error>" on stderr; returns 1.
int Fail(const std::string& what, const Error& error);
// "Usage: bitsadmin <text>" on stderr; returns 2.
int Usage(const std::string& text);
std::string AbsolutePath(const std::string& path);
// A job named by GUID, or by display name among the jobs the caller can see.
Result<Job> ResolveJob(Client& client, const std::string& name);
// Runs `action` on the job named by args[0] when args has 1 + extra entries.
int WithJob(Context& ctx, const Args& args, std::size_t extra, const std::string& usage,
            const std::function<int(Job&)>& action);
// Prints `said` (unless /rawreturn) or the failure.
int Done(Context& ctx, const Status& status, const std::string& what, const std::string& said);
// A flags argument: decimal, or hex with 0x.
std::optional<std::uint32_t> ParseFlags(const std::string& text);
// CURRENT_USER / LOCAL_MACHINE (or their numbers).
std::optional<std::uint32_t> ParseStoreLocation(std::string text);

template <typename T>
int PrintOr(Context&, const std::string& what, const Result<T>& value,
            const std::function<std::string(const T&)>& format) {
  if (!value) return Fail(what, value.error());
  std::cout << text::Printable(format(*value)) << "\n";
  return 0;
}

}  // namespace openbits::cli
