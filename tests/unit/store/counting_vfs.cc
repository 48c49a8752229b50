#include "counting_vfs.h"

#include <algorithm>
#include <cstdlib>

namespace openbits::store::testing {

CountingVfs* CountingVfs::instance_ = nullptr;

// Our file object, followed in the same allocation by the real VFS's file object.
struct CountingVfs::File {
  sqlite3_file base;
  bool wal;
  bool main_db;
  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};

namespace {

thread_local std::uint64_t db_syncs_here = 0;

using File = CountingVfs::File;
File* Of(sqlite3_file* file) { return reinterpret_cast<File*>(file); }
sqlite3_file* Real(sqlite3_file* file) { return Of(file)->real(); }
CountingVfs& Vfs() { return *CountingVfs::instance_; }

int Close(sqlite3_file* f) { return Real(f)->pMethods->xClose(Real(f)); }
int Read(sqlite3_file* f, void* b, int n, sqlite3_int64 o) {
  return Real(f)->pMethods->xRead(Real(f), b, n, o);
}
int Write(sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
  if (Of(f)->wal) ++Vfs().wal_writes_;
  return Real(f)->pMethods->xWrite(Real(f), b, n, o);
}
int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  return Real(f)->pMethods->xTruncate(Real(f), size);
}
int Sync(sqlite3_file* f, int flags) {
  const std::uint64_t covered = Vfs().wal_writes_.load();
  const int rc = Real(f)->pMethods->xSync(Real(f), flags);
  if (Of(f)->main_db && rc == SQLITE_OK) {
    ++Vfs().db_syncs_;
    ++db_syncs_here;
  }
  if (Of(f)->wal && rc == SQLITE_OK) {
    ++Vfs().wal_syncs_;
    std::uint64_t seen = Vfs().wal_writes_synced_.load();
    while (seen < covered && !Vfs().wal_writes_synced_.compare_exchange_weak(seen, covered)) {
    }
  }
  return rc;
}
int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  return Real(f)->pMethods->xFileSize(Real(f), size);
}
int Lock(sqlite3_file* f, int level) { return Real(f)->pMethods->xLock(Real(f), level); }
int Unlock(sqlite3_file* f, int level) { return Real(f)->pMethods->xUnlock(Real(f), level); }
int CheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int SectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int DeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}
int ShmMap(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return Real(f)->pMethods->xShmMap(Real(f), page, size, extend, out);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int ShmUnmap(sqlite3_file* f, int delete_flag) {
  return Real(f)->pMethods->xShmUnmap(Real(f), delete_flag);
}
int Fetch(sqlite3_file* f, sqlite3_int64 offset, int n, void** out) {
  return Real(f)->pMethods->xFetch(Real(f), offset, n, out);
}
int Unfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
  return Real(f)->pMethods->xUnfetch(Real(f), offset, p);
}

const sqlite3_io_methods kMethods = {3,
                                     Close,
                                     Read,
                                     Write,
                                     Truncate,
                                     Sync,
                                     FileSize,
                                     Lock,
                                     Unlock,
                                     CheckReservedLock,
                                     FileControl,
                                     SectorSize,
                                     DeviceCharacteristics,
                                     ShmMap,
                                     ShmLock,
                                     ShmBarrier,
                                     ShmUnmap,
                                     Fetch,
                                     Unfetch};

int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  File* ours = Of(file);
  ours->base.pMethods = nullptr;
  ours->wal = (flags & SQLITE_OPEN_WAL) != 0;
  ours->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  sqlite3_vfs* real = Vfs().real_;
  const int rc = real->xOpen(real, name, ours->real(), flags, out_flags);
  if (ours->real()->pMethods != nullptr) ours->base.pMethods = &kMethods;
  return rc;
}

int Delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return Vfs().real_->xDelete(Vfs().real_, name, sync_dir);
}
int Access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return Vfs().real_->xAccess(Vfs().real_, name, flags, out);
}
int FullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return Vfs().real_->xFullPathname(Vfs().real_, name, n, out);
}
void* DlOpen(sqlite3_vfs*, const char* name) { return Vfs().real_->xDlOpen(Vfs().real_, name); }
void DlError(sqlite3_vfs*, int n, char* out) { Vfs().real_->xDlError(Vfs().real_, n, out); }
void (*DlSym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return Vfs().real_->xDlSym(Vfs().real_, handle, symbol);
}
void DlClose(sqlite3_vfs*, void* handle) { Vfs().real_->xDlClose(Vfs().real_, handle); }
int Randomness(sqlite3_vfs*, int n, char* out) {
  return Vfs().real_->xRandomness(Vfs().real_, n, out);
}
int Sleep(sqlite3_vfs*, int us) { return Vfs().real_->xSleep(Vfs().real_, us); }
int CurrentTime(sqlite3_vfs*, double* out) { return Vfs().real_->xCurrentTime(Vfs().real_, out); }
int GetLastError(sqlite3_vfs*, int n, char* out) {
  return Vfs().real_->xGetLastError ? Vfs().real_->xGetLastError(Vfs().real_, n, out) : 0;
}
int CurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) {
  return Vfs().real_->xCurrentTimeInt64(Vfs().real_, out);
}

}  // namespace

std::uint64_t CountingVfs::db_syncs_on_this_thread() { return db_syncs_here; }

CountingVfs::CountingVfs() {
  if (instance_ != nullptr) std::abort();  // one at a time
  instance_ = this;
  real_ = sqlite3_vfs_find(nullptr);
  vfs_.iVersion = 2;
  vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
  vfs_.mxPathname = real_->mxPathname;
  vfs_.zName = "openbits-counting";
  vfs_.xOpen = Open;
  vfs_.xDelete = Delete;
  vfs_.xAccess = Access;
  vfs_.xFullPathname = FullPathname;
  vfs_.xDlOpen = DlOpen;
  vfs_.xDlError = DlError;
  vfs_.xDlSym = DlSym;
  vfs_.xDlClose = DlClose;
  vfs_.xRandomness = Randomness;
  vfs_.xSleep = Sleep;
  vfs_.xCurrentTime = CurrentTime;
  vfs_.xGetLastError = GetLastError;
  vfs_.xCurrentTimeInt64 = CurrentTimeInt64;
  sqlite3_vfs_register(&vfs_, 1);
}

CountingVfs::~CountingVfs() {
  sqlite3_vfs_unregister(&vfs_);
  sqlite3_vfs_register(real_, 1);
  instance_ = nullptr;
}

}  // namespace openbits::store::testing
