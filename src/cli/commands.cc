#include "cli/commands.h"

#include <string.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "base/text.h"
#include "cli/command_support.h"
#include "cli/job_report.h"
#include "cli/network_commands.h"
#include "cli/progress_bar.h"
#include "cli/terminal_output.h"

namespace openbits::cli {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(200);

// ---- verbs ----------------------------------------------------------------------------------

int Create(Context& ctx, const Args& args) {
  JobType type = JobType::kDownload;
  std::string name;
  for (const std::string& arg : args) {
    if (arg == "/download" || arg == "/DOWNLOAD") {
      type = JobType::kDownload;
    } else if (arg == "/upload" || arg == "/UPLOAD") {
      type = JobType::kUpload;
    } else if (arg == "/upload-reply" || arg == "/UPLOAD-REPLY") {
      type = JobType::kUploadReply;
    } else if (name.empty()) {
      name = arg;
    } else {
      return Usage("/create [/download|/upload|/upload-reply] NAME");
    }
  }
  if (name.empty()) return Usage("/create [/download|/upload|/upload-reply] NAME");
  auto job = ctx.client.CreateJob(name, type);
  if (!job) return Fail("create job", job.error());
  if (ctx.raw) {
    std::cout << job->id().ToString() << "\n";
  } else {
    std::cout << "Created job " << job->id().ToString() << ".\n";
  }
  return 0;
}

int AddFile(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 2, "/addfile JOB REMOTE_URL LOCAL_NAME", [&](Job& job) {
    const std::string local = AbsolutePath(args[2]);
    return Done(ctx, job.AddFile(args[1], local), "add file to job",
                "Added " + args[1] + " -> " + local + " to job.");
  });
}

// "0:100,4096:eof" -> ranges; nullopt when malformed.
std::optional<std::vector<std::pair<std::uint64_t, std::uint64_t>>> ParseRanges(
    const std::string& text) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  std::istringstream items(text);
  for (std::string item; std::getline(items, item, ',');) {
    const auto colon = item.find(':');
    if (colon == std::string::npos) return std::nullopt;
    char* end = nullptr;
    const std::string offset = item.substr(0, colon), length = item.substr(colon + 1);
    const unsigned long long first = std::strtoull(offset.c_str(), &end, 10);
    if (offset.empty() || *end) return std::nullopt;
    std::uint64_t count = kLengthToEof;
    if (length != "eof" && length != "EOF") {
      count = std::strtoull(length.c_str(), &end, 10);
      if (length.empty() || *end) return std::nullopt;
    }
    ranges.emplace_back(first, count);
  }
  if (ranges.empty()) return std::nullopt;
  return ranges;
}

int AddFileWithRanges(Context& ctx, const Args& args) {
  const std::string usage = "/addfilewithranges JOB REMOTE_URL LOCAL_NAME OFFSET:LENGTH[,...]";
  return WithJob(ctx, args, 3, usage, [&](Job& job) {
    auto ranges = ParseRanges(args[3]);
    if (!ranges) return Usage(usage + "  (LENGTH may be eof)");
    const std::string local = AbsolutePath(args[2]);
    return Done(ctx, job.AddFileWithRanges(args[1], local, *ranges), "add file with ranges",
                "Added " + args[1] + " (" + std::to_string(ranges->size()) + " range(s)) -> " +
                    local + " to job.");
  });
}

int Resume(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 0, "/resume JOB",
                 [&](Job& job) { return Done(ctx, job.Resume(), "resume job", "Job resumed."); });
}

int Suspend(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 0, "/suspend JOB", [&](Job& job) {
    return Done(ctx, job.Suspend(), "suspend job", "Job suspended.");
  });
}

int Cancel(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 0, "/cancel JOB", [&](Job& job) {
    auto result = job.Cancel();
    if (!result) return Fail("cancel job", result.error());
    if (!ctx.raw) {
      std::cout << (*result == hr::BG_S_UNABLE_TO_DELETE_FILES
                        ? "Job canceled, but some temporary files could not be deleted "
                          "(BG_S_UNABLE_TO_DELETE_FILES)."
                        : "Job canceled.")
                << "\n";
    }
    return 0;
  });
}

int Complete(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 0, "/complete JOB", [&](Job& job) {
    auto result = job.Complete();
    if (!result) return Fail("complete job", result.error());
    if (!ctx.raw) {
      std::cout << (*result == hr::BG_S_PARTIAL_COMPLETE
                        ? "Job partially completed: unfinished files were deleted "
                          "(BG_S_PARTIAL_COMPLETE)."
                        : "Job completed.")
                << "\n";
    }
    return 0;
  });
}

int Info(Context& ctx, const Args& args) {
  const bool verbose = args.size() == 2 && (args[1] == "/verbose" || args[1] == "/VERBOSE");
  if (args.empty() || args.size() > 2 || (args.size() == 2 && !verbose)) {
    return Usage("/info JOB [/verbose]");
  }
  auto job = ResolveJob(ctx.client, args[0]);
  if (!job) return Fail("find job '" + args[0] + "'", job.error());
  auto report = ReadJob(*job);
  if (!report) return Fail("read job", report.error());
  if (ctx.json) {
    std::cout << ToJson(*report) << "\n";
  } else {
    std::cout << (verbose ? VerboseText(*report) : SummaryLine(*report) + "\n");
  }
  return 0;
}

int List(Context& ctx, const Args& args) {
  bool verbose = false, all_users = false;
  for (const std::string& arg : args) {
    if (arg == "/verbose" || arg == "/VERBOSE") {
      verbose = true;
    } else if (arg == "/allusers" || arg == "/ALLUSERS") {
      all_users = true;
    } else {
      return Usage("/list [/allusers] [/verbose]");
    }
  }
  // One call per page of summaries; /verbose then reads each job in full.
  auto jobs = ctx.client.ListJobs(all_users);
  if (!jobs) return Fail("list jobs", jobs.error());
  if (!verbose) {
    if (ctx.json) {
      std::cout << "[";
      for (std::size_t i = 0; i < jobs->size(); ++i)
        std::cout << (i ? "," : "") << ToJson((*jobs)[i]);
      std::cout << "]\n";
      return 0;
    }
    for (const JobSummary& job : *jobs) std::cout << SummaryLine(job) << "\n";
    if (!ctx.raw) std::cout << "Listed " << jobs->size() << " job(s).\n";
    return 0;
  }
  std::vector<JobReport> reports;
  for (const JobSummary& summary : *jobs) {
    Job job = ctx.client.OpenJob(summary.id);
    // A job completed or cancelled meanwhile is simply no longer listed.
    if (auto report = ReadJob(job)) reports.push_back(std::move(*report));
  }
  if (ctx.json) {
    std::cout << "[";
    for (std::size_t i = 0; i < reports.size(); ++i)
      std::cout << (i ? "," : "") << ToJson(reports[i]);
    std::cout << "]\n";
    return 0;
  }
  for (const JobReport& report : reports) std::cout << VerboseText(report) << "\n";
  if (!ctx.raw) std::cout << "Listed " << reports.size() << " job(s).\n";
  return 0;
}

int Reset(Context& ctx, const Args& args) {
  const bool all_users = args.size() == 1 && (args[0] == "/allusers" || args[0] == "/ALLUSERS");
  if (!args.empty() && !all_users) return Usage("/reset [/allusers]");
  auto jobs = ctx.client.ListJobs(all_users);
  if (!jobs) return Fail("list jobs", jobs.error());
  std::size_t cancelled = 0;
  for (const JobSummary& summary : *jobs) {
    Job job = ctx.client.OpenJob(summary.id);
    if (auto result = job.Cancel()) {
      ++cancelled;
      if (!ctx.raw) std::cout << job.id().ToString() << " canceled.\n";
    } else if (result.error().code() != hr::BG_E_NOT_FOUND) {
      std::cerr << job.id().ToString() << ": " << text::Printable(result.error().ToString())
                << "\n";
    }
  }
  if (!ctx.raw) std::cout << cancelled << " out of " << jobs->size() << " jobs canceled.\n";
  return cancelled == jobs->size() ? 0 : 1;
}

int Monitor(Context& ctx, const Args& args) {
  bool all_users = false;
  long refresh_s = 5;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "/allusers" || args[i] == "/ALLUSERS") {
      all_users = true;
    } else if ((args[i] == "/refresh" || args[i] == "/REFRESH") && i + 1 < args.size()) {
      refresh_s = std::strtol(args[++i].c_str(), nullptr, 10);
      if (refresh_s <= 0) return Usage("/monitor [/allusers] [/refresh SECONDS]");
    } else {
      return Usage("/monitor [/allusers] [/refresh SECONDS]");
    }
  }
  const bool terminal = isatty(STDOUT_FILENO) != 0;
  for (;;) {  // until interrupted, as on Windows
    auto jobs = ctx.client.ListJobs(all_users);
    if (!jobs) return Fail("list jobs", jobs.error());
    if (terminal) TerminalEscaping::WriteControl("\033[H\033[2J");
    std::cout << "MONITORING BACKGROUND COPY MANAGER (" << refresh_s << " second refresh)\n";
    for (const JobSummary& job : *jobs) std::cout << SummaryLine(job) << "\n";
    std::cout << std::flush;
    std::this_thread::sleep_for(std::chrono::seconds(refresh_s));
  }
}

int AddFileSet(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 1, "/addfileset JOB TEXTFILE", [&](Job& job) {
    // One "REMOTE_URL LOCAL_NAME" pair a line; blank lines and # comments are skipped.
    std::ifstream list(args[1]);
    if (!list) {
      return Fail("read " + args[1], Error(hr::ERROR_FILE_NOT_FOUND, ErrorContext::kNone,
                                           "cannot open the file list"));
    }
    std::vector<std::pair<std::string, std::string>> files;
    std::string line;
    for (int number = 1; std::getline(list, line); ++number) {
      std::istringstream words(line);
      std::string remote, local, extra;
      if (!(words >> remote) || remote.front() == '#') continue;
      if (!(words >> local) || (words >> extra)) {
        return Usage("/addfileset: line " + std::to_string(number) + " of " + args[1] +
                     " is not \"REMOTE_URL LOCAL_NAME\"");
      }
      files.emplace_back(remote, AbsolutePath(local));
    }
    return Done(ctx, job.AddFileSet(files), "add file set",
                "Added " + std::to_string(files.size()) + " file(s) to job.");
  });
}

int ListFiles(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 0, "/listfiles JOB", [&](Job& job) {
    auto files = job.EnumFiles();
    if (!files) return Fail("list files", files.error());
    for (const FileInfo& file : *files) {
      std::cout << file.bytes_transferred << " / " << FormatSize(file.bytes_total) << " "
                << (file.completed ? "COMPLETED" : "WORKING") << " "
                << text::Printable(file.remote_url) << " -> " << text::Printable(file.local_name)
                << "\n";
    }
    if (!ctx.raw) std::cout << "Listed " << files->size() << " file(s).\n";
    return 0;
  });
}

int GetState(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 0, "/getstate JOB", [&](Job& job) {
    return PrintOr<JobState>(ctx, "get state", job.GetState(),
                             [](const JobState& s) { return std::string(JobStateName(s)); });
  });
}

int GetError(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 0, "/geterror JOB", [&](Job& job) {
    auto error = job.GetError();
    if (!error) return Fail("get error", error.error());
    auto files = job.EnumFiles();
    if (ctx.json) {
      std::cout << ToJson(*error) << "\n";
    } else if (ctx.raw) {
      std::cout << FormatHresult(error->code) << "\n";
    } else {
      std::cout << ErrorText(*error, files ? *files : std::vector<FileInfo>{});
    }
    return 0;
  });
}

template <typename Getter>
Command ProgressGetter(const std::string& verb, Getter getter) {
  return [verb, getter](Context& ctx, const Args& args) {
    return WithJob(ctx, args, 0, verb + " JOB", [&](Job& job) {
      return PrintOr<JobProgress>(ctx, "get progress", job.GetProgress(),
                                  [&](const JobProgress& p) { return getter(p); });
    });
  };
}

template <typename T, typename Format>
Command Getter(const std::string& verb, Result<T> (Job::*get)(), Format format) {
  return [verb, get, format](Context& ctx, const Args& args) {
    return WithJob(ctx, args, 0, verb + " JOB",
                   [&](Job& job) { return PrintOr<T>(ctx, verb.substr(1), (job.*get)(), format); });
  };
}

Command NumberSetter(const std::string& verb, Status (Job::*set)(std::uint32_t),
                     const std::string& unit = "SECONDS") {
  return [verb, set, unit](Context& ctx, const Args& args) {
    return WithJob(ctx, args, 1, verb + " JOB " + unit, [&](Job& job) {
      char* end = nullptr;
      const unsigned long value = std::strtoul(args[1].c_str(), &end, 10);
      if (args[1].empty() || *end != '\0' || value > UINT32_MAX) {
        return Usage(verb + " JOB " + unit + " (a whole number)");
      }
      return Done(ctx, (job.*set)(static_cast<std::uint32_t>(value)), verb.substr(1),
                  "Set to " + args[1] + ".");
    });
  };
}

Command TextSetter(const std::string& verb, Status (Job::*set)(const std::string&)) {
  return [verb, set](Context& ctx, const Args& args) {
    return WithJob(ctx, args, 1, verb + " JOB TEXT", [&](Job& job) {
      return Done(ctx, (job.*set)(args[1]), verb.substr(1), "Set to '" + args[1] + "'.");
    });
  };
}

int SetNotifyFlags(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 1, "/setnotifyflags JOB FLAGS", [&](Job& job) {
    const auto flags = ParseFlags(args[1]);
    if (!flags) return Usage("/setnotifyflags JOB FLAGS (a number, e.g. 3 or 0x1B)");
    return Done(ctx, job.SetNotifyFlags(*flags), "set notify flags",
                "Notification flags set to " + args[1] + ".");
  });
}

int SetNotifyCmdLine(Context& ctx, const Args& args) {
  const std::string usage = "/setnotifycmdline JOB PROGRAM PARAMETERS  (NULL NULL clears it)";
  return WithJob(ctx, args, 2, usage, [&](Job& job) {
    // As on Windows, NULL stands for "no value"; PARAMETERS is the whole command line.
    const std::string program = args[1] == "NULL" ? "" : args[1];
    const std::string parameters = args[2] == "NULL" ? "" : args[2];
    return Done(ctx, job.SetNotifyCmdLine(program, parameters), "set notify command line",
                program.empty() && parameters.empty() ? "Notification command line cleared."
                                                      : "Notification command line set.");
  });
}

int GetNotifyCmdLine(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 0, "/getnotifycmdline JOB", [&](Job& job) {
    return PrintOr<NotifyCmdLine>(ctx, "get notify command line", job.GetNotifyCmdLine(),
                                  [](const NotifyCmdLine& line) {
                                    if (line.program.empty()) return std::string("(none)");
                                    return "'" + line.program + "' '" + line.parameters + "'";
                                  });
  });
}

// A zero-based file index argument.
std::optional<std::uint32_t> FileIndex(const std::string& text) {
  char* end = nullptr;
  const unsigned long value = std::strtoul(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value > UINT32_MAX) return std::nullopt;
  return static_cast<std::uint32_t>(value);
}

int GetTemporaryName(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 1, "/gettemporaryname JOB FILE_INDEX", [&](Job& job) {
    auto index = FileIndex(args[1]);
    if (!index) return Usage("/gettemporaryname JOB FILE_INDEX (0 is the first file)");
    return PrintOr<std::string>(ctx, "get temporary name", job.GetTemporaryName(*index),
                                [](const std::string& name) { return name; });
  });
}

int SetValidationState(Context& ctx, const Args& args) {
  const std::string usage = "/setvalidationstate JOB FILE_INDEX TRUE|FALSE";
  return WithJob(ctx, args, 2, usage, [&](Job& job) {
    auto index = FileIndex(args[1]);
    std::string verdict = args[2];
    for (char& c : verdict) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!index || (verdict != "TRUE" && verdict != "FALSE")) return Usage(usage);
    return Done(ctx, job.SetValidationState(*index, verdict == "TRUE"), "set validation state",
                "Validation state set to " + verdict + ".");
  });
}

int GetValidationState(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 1, "/getvalidationstate JOB FILE_INDEX", [&](Job& job) {
    auto index = FileIndex(args[1]);
    if (!index) return Usage("/getvalidationstate JOB FILE_INDEX");
    return PrintOr<bool>(ctx, "get validation state", job.GetValidationState(*index),
                         [](const bool& valid) { return std::string(valid ? "TRUE" : "FALSE"); });
  });
}

int ReplaceRemotePrefix(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 2, "/replaceremoteprefix JOB OLD_PREFIX NEW_PREFIX", [&](Job& job) {
    return Done(ctx, job.ReplaceRemotePrefix(args[1], args[2]), "replace remote prefix",
                "Remote prefix replaced.");
  });
}

int TakeOwnership(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 0, "/takeownership JOB", [&](Job& job) {
    return Done(ctx, job.TakeOwnership(), "take ownership", "Ownership taken.");
  });
}

int SetSecurityFlags(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 1, "/setsecurityflags JOB FLAGS", [&](Job& job) {
    const auto flags = ParseFlags(args[1]);
    if (!flags) return Usage("/setsecurityflags JOB FLAGS (a number, e.g. 0x200)");
    return Done(ctx, job.SetSecurityFlags(*flags), "set security flags",
                "Security flags set to " + args[1] + ".");
  });
}

int SetCustomHeaders(Context& ctx, const Args& args) {
  // bitsadmin /setcustomheaders JOB "Name: value" ["Name: value" ...]; NULL clears them.
  if (args.size() < 2) return Usage("/setcustomheaders JOB \"Name: value\" ... | NULL");
  auto job = ResolveJob(ctx.client, args[0]);
  if (!job) return Fail("find job '" + args[0] + "'", job.error());
  std::string headers;
  if (!(args.size() == 2 && args[1] == "NULL")) {
    for (std::size_t i = 1; i < args.size(); ++i) headers += args[i] + "\r\n";
  }
  const Status status = job->SetCustomHeaders(headers);
  explicit_bzero(headers.data(), headers.size());
  return Done(ctx, status, "set custom headers",
              args[1] == "NULL" ? "Custom headers cleared." : "Custom headers set.");
}

int GetCustomHeaders(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 0, "/getcustomheaders JOB", [&](Job& job) {
    auto headers = job.GetCustomHeaders();
    if (!headers) return Fail("get custom headers", headers.error());
    if (headers->empty() && !ctx.raw) std::cout << "(none)\n";
    // One "Name: value" a line, each escaped (a value cannot hold CR or LF, but bitsd is not
    // the only writer of what we print).
    for (std::size_t at = 0; at < headers->size();) {
      std::size_t end = headers->find("\r\n", at);
      if (end == std::string::npos) end = headers->size();
      std::string line = text::Printable(std::string_view(*headers).substr(at, end - at));
      std::cout << line << "\n";
      explicit_bzero(line.data(), line.size());
      at = end + 2;
    }
    std::cout.flush();
    explicit_bzero(headers->data(), headers->size());
    return 0;
  });
}

int SetClientCertificate(Context& ctx, const Args& args, bool by_id) {
  const std::string usage = by_id ? "/setclientcertificatebyid JOB LOCATION STORE SHA1HEX"
                                  : "/setclientcertificatebyname JOB LOCATION STORE SUBJECT";
  return WithJob(ctx, args, 3, usage, [&](Job& job) {
    auto location = ParseStoreLocation(args[1]);
    if (!location) return Usage(usage + "  (LOCATION: CURRENT_USER or LOCAL_MACHINE)");
    const Status status = by_id ? job.SetClientCertificateByID(*location, args[2], args[3])
                                : job.SetClientCertificateByName(*location, args[2], args[3]);
    return Done(ctx, status, "set client certificate", "Client certificate set.");
  });
}

int GetClientCertificate(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 0, "/getclientcertificate JOB", [&](Job& job) {
    auto certificate = job.GetClientCertificate();
    if (!certificate) return Fail("get client certificate", certificate.error());
    std::cout << (certificate->location == kCertStoreLocalMachine ? "LOCAL_MACHINE"
                                                                  : "CURRENT_USER")
              << " " << text::Printable(certificate->store) << " "
              << text::Printable(certificate->sha1.empty()
                                     ? "subject '" + certificate->subject + "'"
                                     : certificate->sha1)
              << "\n";
    return 0;
  });
}

int SetPriority(Context& ctx, const Args& args) {
  return WithJob(ctx, args, 1, "/setpriority JOB FOREGROUND|HIGH|NORMAL|LOW", [&](Job& job) {
    auto priority = ParseJobPriority(args[1]);
    if (!priority) return Usage("/setpriority JOB FOREGROUND|HIGH|NORMAL|LOW");
    return Done(ctx, job.SetPriority(*priority), "set priority",
                "Priority set to " + std::string(JobPriorityName(*priority)) + ".");
  });
}

// Waits for a final or attention state, drawing progress; returns the state reached.
Result<JobState> WaitForJob(Job& job, bool show_progress) {
  ProgressBar bar(isatty(STDOUT_FILENO) != 0);
  for (;;) {
    auto state = job.GetState();
    if (!state) return state.error();
    if (show_progress) {
      if (auto progress = job.GetProgress()) bar.Update(*state, *progress);
    }
    if (*state == JobState::kTransferred || *state == JobState::kError ||
        *state == JobState::kSuspended) {
      if (show_progress) bar.Finish();
      return *state;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

int Transfer(Context& ctx, const Args& args) {
  const std::string usage =
      "/transfer NAME [/download] [/priority FOREGROUND|HIGH|NORMAL|LOW] [/dynamic] REMOTE_URL "
      "LOCAL_NAME "
      "[REMOTE_URL LOCAL_NAME ...]";
  if (args.empty()) return Usage(usage);
  std::string name = args[0];
  std::optional<JobPriority> priority;
  bool dynamic = false;
  std::vector<std::pair<std::string, std::string>> files;
  std::vector<std::string> positional;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "/download" || arg == "/DOWNLOAD") continue;
    if (arg == "/dynamic" || arg == "/DYNAMIC") {
      dynamic = true;
      continue;
    }
    if (arg == "/priority" || arg == "/PRIORITY") {
      if (i + 1 >= args.size() || !(priority = ParseJobPriority(args[i + 1]))) {
        return Usage(usage);
      }
      ++i;
      continue;
    }
    if (arg == "/upload" || arg == "/UPLOAD") {
      std::cerr << "Unable to transfer - upload jobs are not supported yet (E_NOTIMPL)\n";
      return 1;
    }
    positional.push_back(arg);
  }
  if (positional.empty() || positional.size() % 2 != 0) return Usage(usage);
  for (std::size_t i = 0; i < positional.size(); i += 2) {
    files.emplace_back(positional[i], AbsolutePath(positional[i + 1]));
  }

  // One call (Manager.SubmitJob) creates, fills and resumes the job, all or nothing. A
  // dynamic-content job needs its property set before Resume, and an older bitsd has no
  // SubmitJob: those take the steps one by one.
  Result<Job> job = Error(hr::E_NOTIMPL, ErrorContext::kNone, "dynamic content");
  if (!dynamic) job = ctx.client.SubmitJob(name, files, priority.value_or(JobPriority::kNormal));
  const bool stepwise = !job && job.error().code() == hr::E_NOTIMPL;
  if (stepwise) job = ctx.client.CreateJob(name, JobType::kDownload);
  if (!job) return Fail(stepwise ? "create job" : "submit job", job.error());
  if (!ctx.raw)
    std::cout << "DISPLAY: '" << text::Printable(name)
              << "' TYPE: DOWNLOAD GUID: " << job->id().ToString() << "\n";
  if (stepwise) {
    auto abandon = [&](const std::string& what, const Error& error) {
      (void)job->Cancel();
      return Fail(what, error);
    };
    if (priority) {
      if (auto set = job->SetPriority(*priority); !set) return abandon("set priority", set.error());
    }
    if (dynamic) {
      if (auto set = job->SetDynamicContent(true); !set)
        return abandon("set dynamic content", set.error());
    }
    if (auto added = job->AddFileSet(files); !added) return abandon("add files", added.error());
    if (auto resumed = job->Resume(); !resumed) return abandon("resume job", resumed.error());
  }

  auto state = WaitForJob(*job, !ctx.raw);
  if (!state) return Fail("watch job", state.error());
  if (*state == JobState::kError) {
    auto error = job->GetError();
    auto job_files = job->EnumFiles();
    if (error) {
      std::cout << "Transfer failed.\n"
                << ErrorText(*error, job_files ? *job_files : std::vector<FileInfo>{});
    }
    (void)job->Cancel();
    return 1;
  }
  if (*state == JobState::kSuspended) {
    std::cerr << "The job was suspended by someone else; it is left as it is.\n";
    return 1;
  }
  auto completed = job->Complete();
  if (!completed) return Fail("complete job", completed.error());
  if (!ctx.raw) std::cout << "Transfer complete.\n";
  return 0;
}

}  // namespace

static std::map<std::string, Command> AllCommands() {
  std::map<std::string, Command> commands = {
      {"/create", Create},
      {"/addfile", AddFile},
      {"/resume", Resume},
      {"/suspend", Suspend},
      {"/cancel", Cancel},
      {"/complete", Complete},
      {"/info", Info},
      {"/list", List},
      {"/listfiles", ListFiles},
      {"/reset", Reset},
      {"/monitor", Monitor},
      {"/addfileset", AddFileSet},
      {"/addfilewithranges", AddFileWithRanges},
      {"/transfer", Transfer},
      {"/getstate", GetState},
      {"/geterror", GetError},
      {"/getbytestotal",
       ProgressGetter("/getbytestotal",
                      [](const JobProgress& p) { return FormatSize(p.bytes_total); })},
      {"/getbytestransferred",
       ProgressGetter("/getbytestransferred",
                      [](const JobProgress& p) { return std::to_string(p.bytes_transferred); })},
      {"/getfilestotal",
       ProgressGetter("/getfilestotal",
                      [](const JobProgress& p) { return std::to_string(p.files_total); })},
      {"/getfilestransferred",
       ProgressGetter("/getfilestransferred",
                      [](const JobProgress& p) { return std::to_string(p.files_transferred); })},
      {"/geterrorcount",
       Getter<std::uint32_t>("/geterrorcount", &Job::GetErrorCount,
                             [](const std::uint32_t& n) { return std::to_string(n); })},
      {"/getdisplayname", Getter<std::string>("/getdisplayname", &Job::GetDisplayName,
                                              [](const std::string& s) { return s; })},
      {"/getdescription", Getter<std::string>("/getdescription", &Job::GetDescription,
                                              [](const std::string& s) { return s; })},
      {"/getpriority",
       Getter<JobPriority>("/getpriority", &Job::GetPriority,
                           [](const JobPriority& p) { return std::string(JobPriorityName(p)); })},
      {"/gettype", Getter<JobType>("/gettype", &Job::GetType,
                                   [](const JobType& t) { return std::string(JobTypeName(t)); })},
      {"/getowner",
       Getter<JobOwner>("/getowner", &Job::GetOwner, [](const JobOwner& o) { return o.name; })},
      {"/getminretrydelay",
       Getter<std::uint32_t>("/getminretrydelay", &Job::GetMinimumRetryDelay,
                             [](const std::uint32_t& n) { return std::to_string(n); })},
      {"/getnoprogresstimeout",
       Getter<std::uint32_t>("/getnoprogresstimeout", &Job::GetNoProgressTimeout,
                             [](const std::uint32_t& n) { return std::to_string(n); })},
      {"/getcreationtime",
       Getter<JobTimes>("/getcreationtime", &Job::GetTimes,
                        [](const JobTimes& t) { return FormatTime(t.creation_us); })},
      {"/getmodificationtime",
       Getter<JobTimes>("/getmodificationtime", &Job::GetTimes,
                        [](const JobTimes& t) { return FormatTime(t.modification_us); })},
      {"/getcompletiontime",
       Getter<JobTimes>("/getcompletiontime", &Job::GetTimes,
                        [](const JobTimes& t) { return FormatTime(t.transfer_completion_us); })},
      {"/setdisplayname", TextSetter("/setdisplayname", &Job::SetDisplayName)},
      {"/setdescription", TextSetter("/setdescription", &Job::SetDescription)},
      {"/setpriority", SetPriority},
      {"/setnotifyflags", SetNotifyFlags},
      {"/gettemporaryname", GetTemporaryName},
      {"/setvalidationstate", SetValidationState},
      {"/getvalidationstate", GetValidationState},
      {"/replaceremoteprefix", ReplaceRemotePrefix},
      {"/takeownership", TakeOwnership},
      {"/setclientcertificatebyid",
       [](Context& ctx, const Args& args) { return SetClientCertificate(ctx, args, true); }},
      {"/setclientcertificatebyname",
       [](Context& ctx, const Args& args) { return SetClientCertificate(ctx, args, false); }},
      {"/removeclientcertificate",
       [](Context& ctx, const Args& args) {
         return WithJob(ctx, args, 0, "/removeclientcertificate JOB", [&](Job& job) {
           return Done(ctx, job.RemoveClientCertificate(), "remove client certificate",
                       "Client certificate removed.");
         });
       }},
      {"/getclientcertificate", GetClientCertificate},
      {"/setcustomheaders", SetCustomHeaders},
      {"/sethttpmethod", TextSetter("/sethttpmethod", &Job::SetHttpMethod)},
      {"/gethttpmethod", Getter<std::string>("/gethttpmethod", &Job::GetHttpMethod,
                                             [](const std::string& s) { return s; })},
      {"/getcustomheaders", GetCustomHeaders},
      {"/makecustomheaderswriteonly",
       [](Context& ctx, const Args& args) {
         return WithJob(ctx, args, 0, "/makecustomheaderswriteonly JOB", [&](Job& job) {
           return Done(ctx, job.MakeCustomHeadersWriteOnly(), "make custom headers write-only",
                       "Custom headers are now write-only.");
         });
       }},
      {"/setsecurityflags", SetSecurityFlags},
      {"/getsecurityflags",
       Getter<std::uint32_t>("/getsecurityflags", &Job::GetSecurityFlags,
                             [](const std::uint32_t& flags) { return FormatHresult(flags); })},
      {"/setmaxdownloadtime", NumberSetter("/setmaxdownloadtime", &Job::SetMaximumDownloadTime)},
      {"/getmaxdownloadtime",
       Getter<std::uint32_t>("/getmaxdownloadtime", &Job::GetMaximumDownloadTime,
                             [](const std::uint32_t& n) { return std::to_string(n); })},
      // OpenBITS extension: OPENBITS_JOB_PROPERTY_PARALLEL_FILES (docs/compatibility.md).
      {"/setparallelfiles", NumberSetter("/setparallelfiles", &Job::SetParallelFiles, "N")},
      {"/getparallelfiles",
       Getter<std::uint32_t>("/getparallelfiles", &Job::GetParallelFiles,
                             [](const std::uint32_t& n) { return std::to_string(n); })},
      {"/getnotifyflags",
       Getter<std::uint32_t>("/getnotifyflags", &Job::GetNotifyFlags,
                             [](const std::uint32_t& flags) { return FormatHresult(flags); })},
      {"/setnotifycmdline", SetNotifyCmdLine},
      {"/getnotifycmdline", GetNotifyCmdLine},
      {"/setminretrydelay", NumberSetter("/setminretrydelay", &Job::SetMinimumRetryDelay)},
      {"/setnoprogresstimeout", NumberSetter("/setnoprogresstimeout", &Job::SetNoProgressTimeout)},
  };
  AddNetworkCommands(commands);
  return commands;
}

const std::map<std::string, Command>& Commands() {
  static const std::map<std::string, Command> commands = AllCommands();
  return commands;
}

void PrintHelp() {
  std::cout << R"(Usage: bitsadmin [--bus=system|session|ADDRESS] [/rawreturn] VERB ARGUMENTS
The OpenBITS administration tool. JOB is a job GUID or its display name.

  /transfer NAME [/download] [/priority P] [/dynamic] URL LOCAL [URL LOCAL ...]
                                  create, run with progress, complete
  /create [/download] NAME        create a job (SUSPENDED); prints its GUID
  /addfile JOB URL LOCAL          add a file (relative LOCAL paths are made absolute)
  /resume JOB | /suspend JOB | /cancel JOB | /complete JOB
  /addfileset JOB TEXTFILE        add the "URL LOCAL" pairs of a file, one a line
  /addfilewithranges JOB URL LOCAL OFFSET:LENGTH[,...]   only those bytes (LENGTH may be eof)
  /info JOB [/verbose]            one job;  /list [/allusers] [/verbose]  all your jobs
  /monitor [/allusers] [/refresh SECONDS]   live list;  /reset [/allusers]  cancel all
  /listfiles JOB                  files and their progress
  /getstate JOB                   e.g. TRANSFERRED;  /geterror JOB  error, file and context
  /getbytestotal /getbytestransferred /getfilestotal /getfilestransferred JOB
  /getdisplayname /getdescription /getpriority /gettype /getowner /geterrorcount JOB
  /getcreationtime /getmodificationtime /getcompletiontime JOB
  /getminretrydelay /getnoprogresstimeout JOB
  /setdisplayname JOB TEXT | /setdescription JOB TEXT | /setpriority JOB P
  /setminretrydelay JOB SECONDS | /setnoprogresstimeout JOB SECONDS
  /setmaxdownloadtime JOB SECONDS | /getmaxdownloadtime JOB   (0 = no limit)
  /setparallelfiles JOB N | /getparallelfiles JOB   files fetched at once, 1-64, 0 = bitsd's
                                  [engine] parallel_files (an OpenBITS extension, not in BITS)
  /setsecurityflags JOB FLAGS | /getsecurityflags JOB  BG_SSL_* | BG_HTTP_REDIRECT_POLICY_*
  /replaceremoteprefix JOB OLD NEW | /takeownership JOB (administrators)
  /setcustomheaders JOB "Name: value" ... | NULL | /getcustomheaders JOB | /makecustomheaderswriteonly JOB
  /sethttpmethod JOB METHOD | /gethttpmethod JOB
  /setcredentials JOB SERVER|PROXY SCHEME USER PASSWORD   SCHEME: BASIC DIGEST NTLM NEGOTIATE
                                  PASSPORT; PASSWORD - reads stdin, * prompts; NULL NULL: implicit
  /removecredentials JOB SERVER|PROXY SCHEME
  /setproxysettings JOB PRECONFIG|NO_PROXY|AUTODETECT | OVERRIDE LIST BYPASS (NULL: none)
  /getproxyusage JOB | /getproxylist JOB | /getproxybypasslist JOB
  /setclientcertificatebyid JOB LOCATION STORE SHA1HEX | /setclientcertificatebyname JOB LOCATION STORE SUBJECT
  /removeclientcertificate JOB | /getclientcertificate JOB
  /util /listcertificates [CURRENT_USER|LOCAL_MACHINE] [STORE]
  /util /setieproxy ACCOUNT NO_PROXY|AUTODETECT|MANUAL_PROXY LIST BYPASS|AUTOSCRIPT URL|RESET
  /util /getieproxy ACCOUNT       an account's own proxy settings (PRECONFIG's first source)
  /gettemporaryname JOB FILE | /setvalidationstate JOB FILE TRUE|FALSE | /getvalidationstate JOB FILE
  /setnotifyflags JOB FLAGS | /getnotifyflags JOB     BG_NOTIFY_* mask (default 0x3)
  /setnotifycmdline JOB PROGRAM PARAMETERS | /getnotifycmdline JOB   (NULL NULL clears)

  --bus: where bitsd is (default: the system bus if bitsd is there, else the session bus)
  /rawreturn: bare values for scripts.   --json: /info, /list and /geterror as JSON.
  Exit status: 0 success, 1 failure, 2 bad usage.
)";
}

}  // namespace openbits::cli
