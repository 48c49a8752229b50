// The job database as a file: opening and checking it, what its errors mean, salvaging it when
// it is corrupt, and the marker of a queue that has held jobs. The schema and the rows are
// SqliteJobStore's.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "openbits/result.h"

struct sqlite3;

namespace openbits::store {

// A SQLite error as a BITS error that names the database file and, for I/O, the errno:
// SQLITE_FULL is ERROR_DISK_FULL (transient), SQLITE_CORRUPT and SQLITE_NOTADB are
// BG_E_DATABASE_CORRUPT, the rest E_FAIL; context GENERAL_QUEUE_MANAGER.
Error SqliteError(sqlite3* db, const std::string& what);
Status ExecOn(sqlite3* db, const char* sql);

// The database file, open and checked: its schema version, or what its integrity check found.
struct CheckedDatabase {
  sqlite3* db = nullptr;  // the caller owns it; null when corrupt
  int version = 0;
  std::string corruption;  // empty when the file passed the check
};

// Opens (creating if needed) the database at `path` in WAL mode with synchronous=NORMAL (a
// commit is in the page cache when it returns; SqliteJobStore syncs the log) and runs its
// integrity check (PRAGMA quick_check). A file that is no database or fails the check comes
// back closed, with `corruption` saying why. An empty database (version 0) beside the
// held-jobs marker is refused with BG_E_DATABASE_CORRUPT, before anything is written to it.
Result<CheckedDatabase> OpenAndCheck(const std::string& path);

struct TableSalvage {
  std::string table;
  std::int64_t rows_copied = 0;
  std::int64_t rows_rejected = 0;       // read, but refused by the new schema (e.g. NOT NULL)
  std::int64_t unreadable_regions = 0;  // runs of rows skipped because their pages are corrupt
  bool unreadable_table = false;        // not even its schema could be read
};

// Copies the readable rows of every table of `target` (created at the same schema version as
// `source`) from the same-named table of `source`. Rows are read in rowid order with a fresh
// statement per readable run: when a page is corrupt, the copy jumps past it (searching for
// the first rowid that can be read again) instead of stopping. `source` is only read.
std::vector<TableSalvage> CopyReadableRows(sqlite3* source, sqlite3* target);

// "jobs: 20 rows copied, 1 unreadable region skipped; files: ...".
std::string DescribeSalvage(const std::vector<TableSalvage>& salvage);

struct Recovery {
  std::string kept_path;  // the corrupt file, moved aside and left as it was
  std::string summary;    // DescribeSalvage of the copy
};

// Moves the database at `path` (with its -wal and -shm) aside to "<path>.corrupt-<time>", never
// deleting it, and builds a new database at `path` from what can still be read:
// `create_schema(db, version)` creates the schema at the corrupt file's version (0 when that
// cannot be read: the current one), CopyReadableRows fills it, then `finish(db)` brings it to
// the current version and removes what the lost rows left inconsistent. The new file is built
// beside `path` and renamed into place, so a crash during recovery leaves no half-built queue.
Result<Recovery> RecoverDatabase(const std::string& path,
                                 const std::function<Status(sqlite3*, int)>& create_schema,
                                 const std::function<Status(sqlite3*)>& finish);

// "<database>.held-jobs" marks a queue that has held jobs. The store writes it, durably, before
// it saves its first job and never removes it; a database that is missing, empty or without
// tables beside it has lost its queue and is not taken as an empty one.
std::string HeldJobsMarkerPath(const std::string& database_path);
Status WriteHeldJobsMarker(const std::string& database_path);

}  // namespace openbits::store
