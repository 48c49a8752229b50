#include "core/job.h"

#include <string.h>

#include <algorithm>
#include <cctype>

namespace openbits::core {

JobProgress Job::Progress() const {
  JobProgress progress;
  progress.files_total = static_cast<std::uint32_t>(files.size());
  for (const JobFile& file : files) {
    if (file.completed) ++progress.files_transferred;
    progress.bytes_transferred += file.bytes_transferred;
    if (file.bytes_total == kSizeUnknown || progress.bytes_total == kSizeUnknown) {
      progress.bytes_total = kSizeUnknown;
    } else {
      progress.bytes_total += file.bytes_total;
    }
  }
  return progress;
}

Status Job::Apply(JobEvent event, std::int64_t now_us) {
  auto next = NextState(state, event);
  if (!next) return next.error();
  state = *next;
  times.modification_us = now_us;
  if (state != JobState::kError && state != JobState::kTransientError) error.reset();
  if (state != JobState::kTransientError) retry_at_us = 0;
  if (state == JobState::kTransferred) times.transfer_completion_us = now_us;
  // The no-progress timer starts again when the application resumes the job, not when the
  // scheduler retries it: retries without progress must run into NoProgressTimeout.
  if (event == JobEvent::kResume) last_progress_us = std::max(last_progress_us, now_us);
  return Ok();
}

std::optional<std::uint32_t> Job::NextIncompleteFile() const {
  for (std::uint32_t i = 0; i < files.size(); ++i) {
    if (!files[i].completed) return i;
  }
  return std::nullopt;
}

Status ValidateDisplayName(const std::string& name) {
  if (name.size() > kMaxDisplayNameLength) {
    return Error(hr::BG_E_STRING_TOO_LONG, ErrorContext::kNone,
                 "display name is longer than 256 characters");
  }
  return Ok();
}

Status ValidateDescription(const std::string& description) {
  if (description.size() > kMaxDescriptionLength) {
    return Error(hr::BG_E_STRING_TOO_LONG, ErrorContext::kNone,
                 "description is longer than 1024 characters");
  }
  return Ok();
}

Status ValidateRemoteUrl(const std::string& url) {
  if (url.empty()) return Error::InvalidArg("the remote URL is empty");
  if (url.size() > kMaxUrlLength) {
    return Error::InvalidArg("the remote URL is longer than 2200 characters");
  }
  for (unsigned char c : url) {
    if (std::iscntrl(c) || c == ' ') {
      return Error::InvalidArg("the remote URL contains spaces or control characters");
    }
  }
  std::string lower(url.substr(0, 8));
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::size_t host_start;
  if (lower.starts_with("http://")) {
    host_start = 7;
  } else if (lower.starts_with("https://")) {
    host_start = 8;
  } else {
    return Error::InvalidArg("unsupported URL scheme in '" + url +
                             "': only http:// and https:// are supported");
  }
  if (SplitUrlCredentials(url)) {
    // Never echo such a URL: it holds a password.
    return Error::InvalidArg(
        "the remote URL carries a user name and password (deprecated, RFC 3986 3.2.1); use "
        "SetCredentials, or allow them for AddFile with [auth] allow_url_credentials");
  }
  if (host_start >= url.size() || url[host_start] == '/' || url[host_start] == '?') {
    return Error::InvalidArg("the remote URL has no host: '" + url + "'");
  }
  return Ok();
}

Result<std::vector<std::string>> SplitCommandLine(const std::string& line) {
  std::vector<std::string> args;
  std::string current;
  bool in_word = false, quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '\\' && i + 1 < line.size() && (line[i + 1] == '"' || line[i + 1] == '\\')) {
        current += line[++i];
      } else if (c == '"') {
        quoted = false;
      } else {
        current += c;
      }
    } else if (c == '"') {
      quoted = in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) args.push_back(std::move(current));
      current.clear();
      in_word = false;
    } else {
      current += c;
      in_word = true;
    }
  }
  if (quoted) return Error::InvalidArg("the command line has an unterminated quote");
  if (in_word) args.push_back(std::move(current));
  return args;
}

Status ValidateNotifyCommand(const std::string& program, const std::string& parameters) {
  if (program.empty() || program.front() != '/') {
    return Error::InvalidArg("the notification program must be an absolute path (no PATH search)");
  }
  if (program.size() > kMaxNotifyProgramLength) {
    return Error(hr::BG_E_STRING_TOO_LONG, ErrorContext::kNone,
                 "the notification program path is longer than 260 characters");
  }
  if (parameters.size() > kMaxNotifyParametersLength) {
    return Error(hr::BG_E_STRING_TOO_LONG, ErrorContext::kNone,
                 "the notification parameters are longer than 4000 characters");
  }
  auto split = SplitCommandLine(parameters);
  if (!split) return split.error();
  return Ok();
}

Status ValidateHttpMethod(const std::string& method) {
  const bool token = !method.empty() && method.size() <= 32 &&
                     std::all_of(method.begin(), method.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) ||
                              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
                     });
  if (!token) return Error::InvalidArg("'" + method + "' is not an HTTP method");
  return Ok();
}

Status ValidateClientCertificate(ClientCertificateRef& reference) {
  if (reference.location > 7) return Error::InvalidArg("unknown certificate store location");
  if (reference.location > 1) {
    return Error(hr::E_NOTIMPL, ErrorContext::kNone,
                 "only CURRENT_USER (0) and LOCAL_MACHINE (1) stores exist on Linux");
  }
  std::transform(reference.store.begin(), reference.store.end(), reference.store.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (reference.store != "MY" && reference.store != "ROOT" && reference.store != "CA" &&
      reference.store != "SPC") {
    return Error::InvalidArg("the certificate store must be MY, ROOT, CA or SPC");
  }
  std::transform(reference.sha1.begin(), reference.sha1.end(), reference.sha1.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const bool hash_ok = reference.sha1.size() == 40 &&
                       std::all_of(reference.sha1.begin(), reference.sha1.end(),
                                   [](unsigned char c) { return std::isxdigit(c) != 0; });
  if (reference.sha1.empty() == reference.subject.empty() ||
      (!reference.sha1.empty() && !hash_ok)) {
    return Error::InvalidArg("give either a 20-byte SHA-1 thumbprint or a subject");
  }
  return Ok();
}

std::vector<std::string> CustomHeaderLines(const SecretString& headers) {
  std::vector<std::string> lines;
  const std::string_view text = headers.reveal();
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) lines.emplace_back(line);
    start = end + 1;
  }
  return lines;
}

Status ValidateCustomHeaders(const SecretString& headers) {
  if (headers.size() > kMaxCustomHeadersLength) {
    return Error(hr::BG_E_STRING_TOO_LONG, ErrorContext::kNone,
                 "custom headers are longer than 16,383 characters");
  }
  for (std::string& line : CustomHeaderLines(headers)) {
    const auto colon = line.find(':');
    const std::string name = colon == std::string::npos ? "" : line.substr(0, colon);
    const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) ||
             std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    });
    bool clean =
        std::none_of(line.begin(), line.end(), [](char c) { return c == '\r' || c == '\0'; });
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    explicit_bzero(line.data(), line.size());
    if (!token || !clean) {
      return Error::InvalidArg("custom headers must be \"Name: value\" lines");
    }
    if (lower == "range" || lower == "if-range") {
      return Error::InvalidArg("the " + name + " header is managed by OpenBITS");
    }
  }
  return Ok();
}

Status ValidateFileRanges(std::vector<FileRange>& ranges, std::size_t max_ranges) {
  if (ranges.empty()) return Error::InvalidArg("no ranges given");
  if (ranges.size() > max_ranges) {
    return Error(hr::BG_E_TOO_MANY_RANGES_IN_FILE, ErrorContext::kNone,
                 "a file may have at most " + std::to_string(max_ranges) + " ranges");
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const FileRange& a, const FileRange& b) { return a.offset < b.offset; });
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const FileRange& range = ranges[i];
    const bool to_eof = range.length == kLengthToEof;
    if (range.length == 0 || (to_eof && i + 1 != ranges.size()) ||
        (!to_eof && range.offset > kLengthToEof - range.length)) {
      return Error(hr::BG_E_INVALID_RANGE, ErrorContext::kNone,
                   "range " + std::to_string(range.offset) + ":" + std::to_string(range.length) +
                       " is not valid");
    }
    if (i > 0) {
      const FileRange& previous = ranges[i - 1];
      if (previous.offset + previous.length > range.offset) {
        return Error(hr::BG_E_OVERLAPPING_RANGES, ErrorContext::kNone,
                     "ranges at " + std::to_string(previous.offset) + " and " +
                         std::to_string(range.offset) + " overlap");
      }
    }
  }
  return Ok();
}

std::vector<SourceRange> RemainingRanges(const std::vector<FileRange>& ranges,
                                         std::uint64_t output_offset) {
  std::vector<SourceRange> remaining;
  std::uint64_t skip = output_offset;
  for (const FileRange& range : ranges) {
    if (range.length != kLengthToEof && skip >= range.length) {
      skip -= range.length;
      continue;
    }
    SourceRange source;
    source.first = range.offset + skip;
    source.last = range.length == kLengthToEof ? kSizeUnknown : range.offset + range.length - 1;
    remaining.push_back(source);
    skip = 0;
  }
  return remaining;
}

Result<std::uint64_t> RangesOutputSize(const std::vector<FileRange>& ranges,
                                       std::uint64_t remote_size) {
  std::uint64_t total = 0;
  for (const FileRange& range : ranges) {
    const std::uint64_t end =
        range.length == kLengthToEof ? remote_size : range.offset + range.length;
    if (range.offset >= remote_size || end > remote_size) {
      return Error(
          hr::BG_E_INVALID_RANGE, ErrorContext::kRemoteFile,
          "range " + std::to_string(range.offset) + ":" +
              (range.length == kLengthToEof ? std::string("eof") : std::to_string(range.length)) +
              " lies beyond the end of the remote file (" + std::to_string(remote_size) +
              " bytes)");
    }
    total += end - range.offset;
  }
  return total;
}

std::string TempPathFor(const std::string& local_path, const Guid& job, std::uint32_t index) {
  const auto slash = local_path.rfind('/');
  const std::string dir = local_path.substr(0, slash + 1);
  // Keep the temp name within NAME_MAX (255) however long the destination name is.
  const std::string name = local_path.substr(slash + 1, 200);
  return dir + "." + name + ".bits-" + job.ToHex().substr(0, 16) + "-" + std::to_string(index) +
         ".tmp";
}

}  // namespace openbits::core
