#include "identity/posix_local_file_system.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "identity/fs_identity.h"

namespace openbits::identity {
namespace {

// "No such file or directory (ENOENT)": the text for people, the name to search for.
std::string ErrnoText(int error_number) {
  const char* name = strerrorname_np(error_number);
  return std::string(std::strerror(error_number)) + " (" +
         (name ? name : "errno " + std::to_string(error_number)) + ")";
}

Error ErrnoError(int error_number, const std::string& what) {
  HRESULT code = hr::E_FAIL;
  switch (error_number) {
    case ENOSPC:
    case EDQUOT:
      code = hr::ERROR_DISK_FULL;
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      code = hr::E_ACCESSDENIED;
      break;
    case ENOENT:
    case ENOTDIR:
      code = hr::ERROR_PATH_NOT_FOUND;
      break;
    default:
      break;
  }
  return Error(code, ErrorContext::kLocalFile,
               "Failed to " + what + ": " + ErrnoText(error_number));
}

struct SplitPath {
  std::string dir;
  std::string name;
};

SplitPath Split(const std::string& path) {
  const auto slash = path.rfind('/');
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_;
};

// The permission bits a file created with mode 0666 gets in the directory `dir_fd` when the
// directory has a default ACL (system.posix_acl_default, in the kernel's xattr format:
// a version word, then {tag, perm, id} entries): the ACL's owner, mask (or group, without a
// mask) and other entries, each masked by 0666's rw-, as posix_acl_create() computes them.
// nullopt when the directory has no default ACL (then the umask applies, as in open(2)).
std::optional<std::uint32_t> DefaultAclMode(int dir_fd) {
  std::array<unsigned char, 4 + 8 * 64> acl{};
  const ssize_t size = fgetxattr(dir_fd, "system.posix_acl_default", acl.data(), acl.size());
  if (size < 4 || (size - 4) % 8 != 0) return std::nullopt;  // none, unsupported or odd
  constexpr std::uint16_t kUserObj = 0x01, kGroupObj = 0x04, kMask = 0x10, kOther = 0x20;
  std::uint32_t owner = 0, group = 0, other = 0;
  std::optional<std::uint32_t> mask;
  for (ssize_t at = 4; at + 8 <= size; at += 8) {
    const auto tag = static_cast<std::uint16_t>(acl[at] | (acl[at + 1] << 8));
    const auto perm = static_cast<std::uint32_t>(acl[at + 2] | (acl[at + 3] << 8)) & 07;
    if (tag == kUserObj) owner = perm;
    if (tag == kGroupObj) group = perm;
    if (tag == kMask) mask = perm;
    if (tag == kOther) other = perm;
  }
  return ((owner & 06) << 6) | ((mask.value_or(group) & 06) << 3) | (other & 06);
}

Result<Fd> OpenDirectory(const std::string& dir) {
  Fd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(errno, "open directory " + dir);
  return fd;
}

// Complete renames a job's files one by one, then forgets the job: a crash in between leaves
// some files delivered and the job still TRANSFERRED, and Complete runs again. A temp file that
// is missing while its destination is a regular file of the owner, with the remote mtime that
// Complete gave it (when the server sent one), was delivered by the interrupted attempt.
// Called with the owner's file-system identity.
bool AlreadyDelivered(const core::FileOwner& owner, const std::string& final_path,
                      std::int64_t mtime_us) {
  struct stat st {};
  if (lstat(final_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (geteuid() == 0 && st.st_uid != owner.uid) return false;
  if (mtime_us > 0 && (st.st_mtim.tv_sec != static_cast<time_t>(mtime_us / 1'000'000) ||
                       st.st_mtim.tv_nsec / 1000 != mtime_us % 1'000'000)) {
    return false;
  }
  return true;
}

class PosixTempFile : public core::TempFile {
 public:
  PosixTempFile(Fd fd, std::string path, std::uint64_t size, core::FileOwner owner)
      : fd_(std::move(fd)), path_(std::move(path)), size_(size), owner_(owner) {}

  std::uint64_t size() const override { return size_; }

  Status Append(const char* data, std::size_t length) override {
    while (length > 0) {
      const ssize_t n = write(fd_.get(), data, length);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoError(errno, "write " + path_);
      }
      data += n;
      length -= static_cast<std::size_t>(n);
    }
    return Ok();
  }

  Status Truncate(std::uint64_t length) override {
    if (ftruncate(fd_.get(), static_cast<off_t>(length)) != 0 ||
        lseek(fd_.get(), static_cast<off_t>(length), SEEK_SET) < 0) {
      return ErrnoError(errno, "truncate " + path_);
    }
    return Ok();
  }

  Status Sync() override {
    if (fdatasync(fd_.get()) != 0) return ErrnoError(errno, "sync " + path_);
    return CheckStillInPlace();
  }

 private:
  // Writes through an open descriptor go on when its directory is deleted or made read-only,
  // and only the rename of Complete would notice. At every checkpoint (and at the end of each
  // file), check that the temp file is still where Complete will look for it and that the
  // owner may still rename it there, so that the job stops while it transfers (ERROR, context
  // LOCAL_FILE) instead of reaching TRANSFERRED with a file it cannot deliver.
  Status CheckStillInPlace() {
    const SplitPath parts = Split(path_);
    ScopedFsIdentity as_owner(owner_.uid, owner_.gid);
    OPENBITS_RETURN_IF_ERROR(as_owner.status());
    struct stat open_file {};
    if (fstat(fd_.get(), &open_file) != 0) return ErrnoError(errno, "stat " + path_);
    struct stat dir_stat {};
    if (stat(parts.dir.c_str(), &dir_stat) != 0) {
      const int error_number = errno;
      return ErrnoError(error_number,
                        "find the destination directory " + parts.dir + " of " + path_);
    }
    // Deleted (no link left) or replaced by another file of the same name: ENOENT, as the
    // rename of Complete would find no such file.
    struct stat named {};
    int missing = 0;
    if (open_file.st_nlink == 0) {
      missing = ENOENT;
    } else if (lstat(path_.c_str(), &named) != 0) {
      missing = errno;
    } else if (named.st_ino != open_file.st_ino || named.st_dev != open_file.st_dev) {
      missing = ENOENT;
    }
    if (missing != 0) {
      return ErrnoError(missing,
                        "find the temp file " + path_ + " (deleted or replaced while downloading)");
    }
    // AT_EACCESS checks with the thread's file-system identity, i.e. the owner's.
    if (faccessat(AT_FDCWD, parts.dir.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
      const int error_number = errno;
      return ErrnoError(error_number, "keep writing to " + parts.dir + " as uid " +
                                          std::to_string(owner_.uid) + " (needed to rename " +
                                          path_ + " into place)");
    }
    return Ok();
  }

  Fd fd_;
  std::string path_;
  std::uint64_t size_;
  core::FileOwner owner_;
};

}  // namespace

Status PosixLocalFileSystem::CheckDestination(const core::FileOwner& owner,
                                              const std::string& path) {
  ScopedFsIdentity as_owner(owner.uid, owner.gid);
  OPENBITS_RETURN_IF_ERROR(as_owner.status());
  const SplitPath parts = Split(path);
  struct stat dir_stat {};
  if (stat(parts.dir.c_str(), &dir_stat) != 0) {
    return ErrnoError(errno, "find the destination directory " + parts.dir);
  }
  if (!S_ISDIR(dir_stat.st_mode)) {
    return Error(hr::ERROR_PATH_NOT_FOUND, ErrorContext::kLocalFile,
                 parts.dir + " is not a directory");
  }
  // AT_EACCESS checks with the thread's file-system identity, i.e. the owner's.
  if (faccessat(AT_FDCWD, parts.dir.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
    return Error(hr::E_ACCESSDENIED, ErrorContext::kLocalFile,
                 "uid " + std::to_string(owner.uid) + " may not create files in " + parts.dir);
  }
  struct stat file_stat {};
  if (lstat(path.c_str(), &file_stat) == 0 && S_ISDIR(file_stat.st_mode)) {
    return Error::InvalidArg("the local name " + path + " is a directory");
  }
  return Ok();
}

Result<std::unique_ptr<core::TempFile>> PosixLocalFileSystem::OpenTemp(const core::FileOwner& owner,
                                                                       const std::string& temp_path,
                                                                       std::uint64_t keep_bytes) {
  ScopedFsIdentity as_owner(owner.uid, owner.gid);
  OPENBITS_RETURN_IF_ERROR(as_owner.status());
  const SplitPath parts = Split(temp_path);
  auto dir = OpenDirectory(parts.dir);
  if (!dir) return dir.error();
  Fd fd(openat(dir->get(), parts.name.c_str(),
               O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd.valid() && errno == ENOENT) {
    fd = Fd(openat(dir->get(), parts.name.c_str(),
                   O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  }
  if (!fd.valid()) return ErrnoError(errno, "open temp file " + temp_path);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return ErrnoError(errno, "stat temp file " + temp_path);
  if (!S_ISREG(st.st_mode) || st.st_uid != (geteuid() == 0 ? owner.uid : geteuid())) {
    return Error(hr::E_ACCESSDENIED, ErrorContext::kLocalFile,
                 "the temp file " + temp_path + " is not a regular file of uid " +
                     std::to_string(owner.uid));
  }
  const std::uint64_t size =
      std::min<std::uint64_t>(static_cast<std::uint64_t>(st.st_size), keep_bytes);
  if (static_cast<std::uint64_t>(st.st_size) != size &&
      ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    return ErrnoError(errno, "truncate temp file " + temp_path);
  }
  if (lseek(fd.get(), static_cast<off_t>(size), SEEK_SET) < 0) {
    return ErrnoError(errno, "seek in temp file " + temp_path);
  }
  return std::unique_ptr<core::TempFile>(
      std::make_unique<PosixTempFile>(std::move(fd), temp_path, size, owner));
}

namespace {

// The directories of one batch of commits, each opened and its default ACL read once: the
// files of a job mostly share one directory, and Complete's cost per file is its syscalls.
// Lives while the batch's files are prepared and renamed, with the owner's identity.
class CommitDirectories {
 public:
  // The directory's descriptor, owned by this cache.
  Result<int> Open(const std::string& path) {
    auto it = dirs_.find(path);
    if (it == dirs_.end()) {
      auto fd = OpenDirectory(path);
      if (!fd) return fd.error();
      it = dirs_.emplace(path, Directory{std::move(*fd), std::nullopt}).first;
    }
    return it->second.fd.get();
  }
  // DefaultAclMode of a directory that Open returned.
  std::optional<std::uint32_t> DefaultAclModeOf(const std::string& path) {
    Directory& dir = dirs_.at(path);
    if (!dir.acl_mode) dir.acl_mode = DefaultAclMode(dir.fd.get());
    return *dir.acl_mode;
  }

 private:
  struct Directory {
    Fd fd;
    std::optional<std::optional<std::uint32_t>> acl_mode;  // unset until read
  };
  std::map<std::string, Directory> dirs_;
};

// A temp file checked and given its final attributes, ready to be renamed into place. The
// directories are CommitDirectories' descriptors.
struct PreparedCommit {
  int dir = -1;
  Fd file;
  int to_dir = -1;
  std::string from_name;
  std::string to_name;
};

// Opens and checks a temp file and gives it its final mode and mtime (CommitTemp's steps
// before the sync). Ok with nothing prepared when an interrupted Complete delivered it already.
// Called with the owner's file-system identity.
Result<std::optional<PreparedCommit>> PrepareCommit(const core::FileOwner& owner,
                                                    const core::LocalFileSystem::TempCommit& c,
                                                    CommitDirectories& dirs) {
  const SplitPath from = Split(c.temp_path);
  const SplitPath to = Split(c.final_path);
  auto dir = dirs.Open(from.dir);
  if (!dir) return dir.error();
  // Complete runs this on the bus thread, and the directory is the owner's: the temp file may
  // have been replaced by a FIFO since the transfer. O_NONBLOCK keeps that open from waiting
  // for a writer; what is renamed must be the owner's regular file.
  Fd fd(openat(*dir, from.name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd.valid()) {
    const int error_number = errno;
    if (error_number == ENOENT && AlreadyDelivered(owner, c.final_path, c.mtime_us)) {
      return std::optional<PreparedCommit>();  // renamed by a Complete a crash interrupted
    }
    return ErrnoError(error_number, "open temp file " + c.temp_path);
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return ErrnoError(errno, "stat temp file " + c.temp_path);
  if (!S_ISREG(st.st_mode) || st.st_uid != (geteuid() == 0 ? owner.uid : geteuid())) {
    return Error(hr::E_ACCESSDENIED, ErrorContext::kLocalFile,
                 "the temp file " + c.temp_path + " is not a regular file of uid " +
                     std::to_string(owner.uid));
  }
  auto to_dir = dirs.Open(to.dir);
  if (!to_dir) return to_dir.error();
  // The temp file was private (0600) while incomplete: a partial download is nobody else's
  // business. The result gets the mode the owner's own process would have given it: the
  // caller's 0666 & ~umask, or where the directory has a default ACL, that ACL's. The named
  // entries of the ACL were inherited when the temp file was created; chmod sets the owner,
  // mask and other entries, so the file ends with the ACL open(2) would have given it.
  const std::uint32_t final_mode = dirs.DefaultAclModeOf(to.dir).value_or(c.mode & 0666);
  if (fchmod(fd.get(), static_cast<mode_t>(final_mode)) != 0) {
    return ErrnoError(errno, "chmod " + c.temp_path);
  }
  if (c.mtime_us > 0) {
    const timespec times[2] = {{0, UTIME_OMIT},
                               {static_cast<time_t>(c.mtime_us / 1'000'000),
                                static_cast<long>((c.mtime_us % 1'000'000) * 1000)}};
    if (futimens(fd.get(), times) != 0) return ErrnoError(errno, "set mtime of " + c.temp_path);
  }
  return std::optional<PreparedCommit>(
      PreparedCommit{*dir, std::move(fd), *to_dir, from.name, to.name});
}

Status RenamePrepared(const PreparedCommit& prepared, const core::LocalFileSystem::TempCommit& c) {
  if (renameat(prepared.dir, prepared.from_name.c_str(), prepared.to_dir,
               prepared.to_name.c_str()) != 0) {
    return ErrnoError(errno, "rename " + c.temp_path + " to " + c.final_path);
  }
  return Ok();
}

}  // namespace

Status PosixLocalFileSystem::CommitTemp(const core::FileOwner& owner, const std::string& temp_path,
                                        const std::string& final_path, std::int64_t mtime_us,
                                        std::uint32_t mode) {
  ScopedFsIdentity as_owner(owner.uid, owner.gid);
  OPENBITS_RETURN_IF_ERROR(as_owner.status());
  const TempCommit commit{temp_path, final_path, mtime_us, mode};
  CommitDirectories dirs;
  auto prepared = PrepareCommit(owner, commit, dirs);
  if (!prepared) return prepared.error();
  if (!*prepared) return Ok();
  if (fsync((*prepared)->file.get()) != 0) return ErrnoError(errno, "sync " + temp_path);
  OPENBITS_RETURN_IF_ERROR(RenamePrepared(**prepared, commit));
  fsync((*prepared)->to_dir);  // make the rename itself durable; best effort
  return Ok();
}

std::vector<Status> PosixLocalFileSystem::CommitTemps(const core::FileOwner& owner,
                                                      const std::vector<TempCommit>& batch) {
  std::vector<Status> results(batch.size(), Ok());
  ScopedFsIdentity as_owner(owner.uid, owner.gid);
  if (!as_owner.status()) {
    for (Status& result : results) result = as_owner.status();
    return results;
  }
  // As Complete renamed file after file, a failure stops the batch: the files after the first
  // one that fails are not renamed (the caller reports that one and is called again).
  std::size_t stop = batch.size();
  auto skip_rest = [&](std::size_t failed) {
    for (std::size_t i = failed + 1; i < stop; ++i) {
      results[i] = Error(hr::E_FAIL, ErrorContext::kLocalFile,
                         "not renamed: " + batch[failed].temp_path + " failed before it");
    }
    stop = failed + 1;
  };
  CommitDirectories dirs;
  std::vector<std::optional<PreparedCommit>> prepared(batch.size());
  for (std::size_t i = 0; i < stop; ++i) {
    auto one = PrepareCommit(owner, batch[i], dirs);
    if (one) {
      prepared[i] = std::move(*one);
    } else {
      results[i] = one.error();
      skip_rest(i);
    }
  }
  // Bytes and attributes before any rename: one syncfs per file system holding the batch
  // (a journal commit for all of them) instead of an fsync per file.
  std::map<dev_t, Status> synced;
  for (std::size_t i = 0; i < stop; ++i) {
    if (!prepared[i]) continue;
    struct stat st {};
    if (fstat(prepared[i]->file.get(), &st) != 0) {
      results[i] = ErrnoError(errno, "stat temp file " + batch[i].temp_path);
      skip_rest(i);
      break;
    }
    auto it = synced.find(st.st_dev);
    if (it == synced.end()) {
      Status status =
          syncfs(prepared[i]->file.get()) == 0
              ? Ok()
              : Status(ErrnoError(errno, "sync the file system of " + batch[i].temp_path));
      it = synced.emplace(st.st_dev, std::move(status)).first;
    }
    if (!it->second) {
      results[i] = it->second;
      skip_rest(i);
      break;
    }
  }
  // The renames, then each destination directory once: the renames are durable on return.
  std::set<int> renamed_into;
  for (std::size_t i = 0; i < stop; ++i) {
    if (!prepared[i]) continue;
    results[i] = RenamePrepared(*prepared[i], batch[i]);
    if (!results[i]) {
      skip_rest(i);
      break;
    }
    renamed_into.insert(prepared[i]->to_dir);
  }
  for (int dir : renamed_into) fsync(dir);  // best effort
  return results;
}

Status PosixLocalFileSystem::Remove(const core::FileOwner& owner, const std::string& path) {
  ScopedFsIdentity as_owner(owner.uid, owner.gid);
  OPENBITS_RETURN_IF_ERROR(as_owner.status());
  const SplitPath parts = Split(path);
  auto dir = OpenDirectory(parts.dir);
  if (!dir) {
    return dir.error().code() == hr::ERROR_PATH_NOT_FOUND ? Ok() : Status(dir.error());
  }
  if (unlinkat(dir->get(), parts.name.c_str(), 0) != 0 && errno != ENOENT) {
    return ErrnoError(errno, "delete " + path);
  }
  return Ok();
}

Status PosixLocalFileSystem::GiveTemp(const core::FileOwner& new_owner,
                                      const std::string& temp_path) {
  // Runs with the daemon's own identity: only root can give a file to another user. So the
  // file is opened without following links and checked on its descriptor before it changes
  // hands: a temp file the job created is a regular file with one name. Anything else at the
  // path (a hard link to a file of someone else's, where fs.protected_hardlinks is off; a
  // FIFO) was put there by the old owner and is not given away.
  const SplitPath parts = Split(temp_path);
  auto dir = OpenDirectory(parts.dir);
  if (!dir) return dir.error();
  Fd file(openat(dir->get(), parts.name.c_str(),
                 O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!file.valid()) {
    if (errno == ENOENT) return Ok();  // nothing was written yet
    return ErrnoError(errno,
                      "open " + temp_path + " to give it to uid " + std::to_string(new_owner.uid));
  }
  struct stat info {};
  if (fstat(file.get(), &info) != 0) {
    return ErrnoError(errno, "inspect " + temp_path);
  }
  if (!S_ISREG(info.st_mode) || info.st_nlink != 1) {
    return Error(hr::E_ACCESSDENIED, ErrorContext::kLocalFile,
                 "'" + temp_path +
                     "' is not the job's temp file (not a regular file with one name); it is "
                     "not given to uid " +
                     std::to_string(new_owner.uid));
  }
  if (fchown(file.get(), new_owner.uid, new_owner.gid) != 0) {
    return ErrnoError(errno, "give " + temp_path + " to uid " + std::to_string(new_owner.uid));
  }
  return Ok();
}

}  // namespace openbits::identity
