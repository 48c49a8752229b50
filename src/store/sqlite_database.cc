#include "store/sqlite_database.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <limits>
#include <optional>

#include "base/errno_text.h"

namespace openbits::store {

Error SqliteError(sqlite3* db, const std::string& what) {
  const int code = sqlite3_extended_errcode(db);
  const int primary = code & 0xFF;
  const char* file = sqlite3_db_filename(db, "main");
  const std::string database = file && *file ? file : "the job database";
  const int error_number = sqlite3_system_errno(db);
  if (primary == SQLITE_FULL) {
    // The state directory's file system is full: transient, retried when space may be back.
    return Error(hr::ERROR_DISK_FULL, ErrorContext::kGeneralQueueManager,
                 "Failed to " + what + ": the file system holding " + database +
                     " is full: " + ErrnoText(error_number != 0 ? error_number : ENOSPC));
  }
  HRESULT hr = hr::E_FAIL;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) hr = hr::BG_E_DATABASE_CORRUPT;
  std::string message = "Failed to " + what + ": " + sqlite3_errmsg(db);
  if ((primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY ||
       primary == SQLITE_PERM) &&
      error_number != 0) {
    message += " (" + database + ": " + ErrnoText(error_number) + ")";
  }
  return Error(hr, ErrorContext::kGeneralQueueManager, message);
}

Status ExecOn(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return SqliteError(db, std::string("run '") + std::string(sql).substr(0, 40) + "'");
  }
  return Ok();
}

Result<CheckedDatabase> OpenAndCheck(const std::string& path) {
  CheckedDatabase checked;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    Error error = SqliteError(db, "open the job database " + path);
    sqlite3_close(db);
    return error;
  }
  sqlite3_busy_timeout(db, 5000);
  std::optional<Error> failure;
  // The first read tells whether the file is a database at all. It writes nothing, so an empty
  // file is still empty for the held-jobs check.
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, nullptr) == SQLITE_OK &&
      sqlite3_step(statement) == SQLITE_ROW) {
    checked.version = sqlite3_column_int(statement, 0);
  } else {
    failure = SqliteError(db, "read the job database " + path);
  }
  sqlite3_finalize(statement);
  const std::string marker = HeldJobsMarkerPath(path);
  if (!failure && checked.version == 0 && std::filesystem::exists(marker)) {
    sqlite3_close(db);
    return Error(hr::BG_E_DATABASE_CORRUPT, ErrorContext::kGeneralQueueManager,
                 "the job database " + path + " is empty or has no tables, but " + marker +
                     " shows that this queue held jobs: not starting with an empty queue. " +
                     "Restore the database, or remove " + marker + " to start empty");
  }
  if (!failure) {
    if (auto pragmas = ExecOn(
            db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
        !pragmas) {
      failure = pragmas.error();
    }
  }
  if (!failure) {
    std::string findings;
    // quick_check: every page, the b-tree structure, every record and the free list, in one
    // pass over the file (what a corrupt or torn page breaks). integrity_check also looks up
    // every row in every index, O(N log N): with 100,000 jobs that was half of bitsd's start,
    // for a mismatch between rows and indexes that no fault of the disk makes alone.
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(8)", -1, &statement, nullptr);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
      rc = sqlite3_step(statement);
      if (rc != SQLITE_ROW) break;
      const auto* text = sqlite3_column_text(statement, 0);
      if (!findings.empty()) findings += "; ";
      findings += text ? reinterpret_cast<const char*>(text) : "";
    }
    if (rc != SQLITE_DONE) {
      failure = SqliteError(db, "check the job database " + path);
    } else if (findings != "ok") {
      checked.corruption = findings;
    }
    sqlite3_finalize(statement);
  }
  if (failure && failure->code() == hr::BG_E_DATABASE_CORRUPT) {
    checked.corruption = failure->message();
    failure.reset();
  }
  if (failure || !checked.corruption.empty()) {
    sqlite3_close(db);
    if (failure) return *failure;
    return checked;
  }
  checked.db = db;
  return checked;
}

namespace {

constexpr std::int64_t kMinRowid = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMaxRowid = std::numeric_limits<std::int64_t>::max();

std::string Quoted(const std::string& name) {
  std::string quoted = "\"";
  for (char c : name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::vector<std::string> Strings(sqlite3* db, const std::string& sql, int column) {
  std::vector<std::string> values;
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK) {
    while (sqlite3_step(statement) == SQLITE_ROW) {
      const auto* text = sqlite3_column_text(statement, column);
      if (text) values.emplace_back(reinterpret_cast<const char*>(text));
    }
  }
  sqlite3_finalize(statement);
  return values;
}

// Reads `table` in rowid order from a given rowid on.
class RowReader {
 public:
  RowReader(sqlite3* db, const std::string& table, const std::vector<std::string>& columns) {
    std::string sql = "SELECT rowid";
    for (const std::string& column : columns) sql += ", " + Quoted(column);
    sql += " FROM " + Quoted(table) + " WHERE rowid >= ? ORDER BY rowid";
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement_, nullptr) != SQLITE_OK) {
      sqlite3_finalize(statement_);
      statement_ = nullptr;
    }
  }
  ~RowReader() { sqlite3_finalize(statement_); }
  RowReader(const RowReader&) = delete;
  RowReader& operator=(const RowReader&) = delete;

  bool ok() const { return statement_ != nullptr; }
  sqlite3_stmt* statement() const { return statement_; }
  // Positions on the first row with rowid >= `from`: SQLITE_ROW, SQLITE_DONE or an error.
  int SeekTo(std::int64_t from) {
    sqlite3_reset(statement_);
    sqlite3_bind_int64(statement_, 1, from);
    return sqlite3_step(statement_);
  }
  int Next() { return sqlite3_step(statement_); }

 private:
  sqlite3_stmt* statement_ = nullptr;
};

bool Readable(int rc) { return rc == SQLITE_ROW || rc == SQLITE_DONE; }

// After a read failed at or after `bad` (a rowid whose seek fails), the smallest rowid above it
// whose seek succeeds: doubling steps find one, bisection finds the first. Returns nullopt when
// nothing after `bad` can be read.
std::optional<std::int64_t> NextReadableRowid(RowReader& reader, std::int64_t bad) {
  std::int64_t step = 1;
  std::int64_t good = 0;
  for (;;) {
    if (bad > kMaxRowid - step) return std::nullopt;
    const std::int64_t probe = bad + step;
    if (Readable(reader.SeekTo(probe))) {
      good = probe;
      break;
    }
    bad = probe;
    if (step > kMaxRowid / 2) return std::nullopt;
    step *= 2;
  }
  while (good - bad > 1) {
    const std::int64_t middle = bad + (good - bad) / 2;
    if (Readable(reader.SeekTo(middle))) {
      good = middle;
    } else {
      bad = middle;
    }
  }
  return good;
}

TableSalvage CopyTable(sqlite3* source, sqlite3* target, const std::string& table) {
  TableSalvage salvage;
  salvage.table = table;
  const std::vector<std::string> columns =
      Strings(target, "PRAGMA table_info(" + Quoted(table) + ")", 1);
  RowReader reader(source, table, columns);
  std::string sql = "INSERT OR IGNORE INTO " + Quoted(table) + " (";
  std::string values;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    sql += (i ? ", " : "") + Quoted(columns[i]);
    values += i ? ", ?" : "?";
  }
  sql += ") VALUES (" + values + ")";
  sqlite3_stmt* insert = nullptr;
  if (!reader.ok() || columns.empty() ||
      sqlite3_prepare_v2(target, sql.c_str(), -1, &insert, nullptr) != SQLITE_OK) {
    sqlite3_finalize(insert);
    salvage.unreadable_table = true;
    return salvage;
  }
  std::int64_t from = kMinRowid;
  for (;;) {
    int rc = reader.SeekTo(from);
    while (rc == SQLITE_ROW) {
      sqlite3_stmt* row = reader.statement();
      const std::int64_t rowid = sqlite3_column_int64(row, 0);
      sqlite3_reset(insert);
      for (int i = 0; i < static_cast<int>(columns.size()); ++i) {
        sqlite3_bind_value(insert, i + 1, sqlite3_column_value(row, i + 1));
      }
      if (sqlite3_step(insert) == SQLITE_DONE && sqlite3_changes(target) > 0) {
        ++salvage.rows_copied;
      } else {
        ++salvage.rows_rejected;
      }
      if (rowid == kMaxRowid) {
        rc = SQLITE_DONE;
        break;
      }
      from = rowid + 1;
      rc = reader.Next();
    }
    if (rc == SQLITE_DONE) break;
    // The rows from `from` on sit on a page that cannot be read: skip to the next readable one.
    ++salvage.unreadable_regions;
    const auto next = NextReadableRowid(reader, from);
    if (!next) break;
    from = *next;
  }
  sqlite3_finalize(insert);
  return salvage;
}

}  // namespace

std::vector<TableSalvage> CopyReadableRows(sqlite3* source, sqlite3* target) {
  std::vector<TableSalvage> salvage;
  for (const std::string& table :
       Strings(target,
               "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
               "ORDER BY name",
               0)) {
    salvage.push_back(CopyTable(source, target, table));
  }
  return salvage;
}

std::string DescribeSalvage(const std::vector<TableSalvage>& salvage) {
  std::string text;
  for (const TableSalvage& table : salvage) {
    if (!text.empty()) text += "; ";
    text += table.table + ": ";
    if (table.unreadable_table) {
      text += "unreadable";
      continue;
    }
    text += std::to_string(table.rows_copied) + " rows copied";
    if (table.unreadable_regions > 0) {
      text += ", " + std::to_string(table.unreadable_regions) + " unreadable region(s) skipped";
    }
    if (table.rows_rejected > 0) {
      text += ", " + std::to_string(table.rows_rejected) + " rows rejected";
    }
  }
  return text;
}

namespace {

Error FileError(const std::string& what, int error_number) {
  return Error(error_number == ENOSPC || error_number == EDQUOT ? hr::ERROR_DISK_FULL : hr::E_FAIL,
               ErrorContext::kGeneralQueueManager, what + ": " + ErrnoText(error_number));
}

// Makes a rename or a new file in `directory` durable.
Status SyncDirectory(const std::string& directory) {
  const int fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0) {
    const int error_number = errno;
    if (fd >= 0) close(fd);
    return FileError("cannot sync the directory " + directory, error_number);
  }
  close(fd);
  return Ok();
}

std::string DirectoryOf(const std::string& path) {
  const std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

class Database {
 public:
  ~Database() { sqlite3_close(db_); }
  sqlite3* db_ = nullptr;
};

}  // namespace

Result<Recovery> RecoverDatabase(const std::string& path,
                                 const std::function<Status(sqlite3*, int)>& create_schema,
                                 const std::function<Status(sqlite3*)>& finish) {
  namespace fs = std::filesystem;
  Recovery recovery;
  const auto stamp = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  recovery.kept_path = path + ".corrupt-" + std::to_string(stamp);
  if (rename(path.c_str(), recovery.kept_path.c_str()) != 0) {
    return FileError(
        "cannot move the corrupt job database " + path + " aside to " + recovery.kept_path, errno);
  }
  for (const char* suffix : {"-wal", "-shm"}) {
    std::error_code ignored;  // absent after a clean stop
    fs::rename(path + suffix, recovery.kept_path + suffix, ignored);
  }
  OPENBITS_RETURN_IF_ERROR(SyncDirectory(DirectoryOf(path)));

  // The kept copy is read, never written: no checkpoint of its WAL into it on close.
  Database source;
  if (sqlite3_open_v2(recovery.kept_path.c_str(), &source.db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) == SQLITE_OK) {
    sqlite3_db_config(source.db_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    sqlite3_exec(source.db_, "PRAGMA query_only = 1", nullptr, nullptr, nullptr);
  }
  int version = 0;
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(source.db_, "PRAGMA user_version", -1, &statement, nullptr) == SQLITE_OK &&
      sqlite3_step(statement) == SQLITE_ROW) {
    version = sqlite3_column_int(statement, 0);
  }
  sqlite3_finalize(statement);

  const std::string building = path + ".recovering";
  std::error_code ignored;
  fs::remove(building, ignored);  // a recovery that a crash interrupted
  fs::remove(building + "-journal", ignored);
  {
    Database target;
    if (sqlite3_open_v2(building.c_str(), &target.db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      return Error(hr::E_FAIL, ErrorContext::kGeneralQueueManager,
                   "cannot create " + building + ": " + sqlite3_errmsg(target.db_));
    }
    OPENBITS_RETURN_IF_ERROR(create_schema(target.db_, version));
    sqlite3_exec(target.db_, "BEGIN", nullptr, nullptr, nullptr);
    const std::vector<TableSalvage> salvage =
        source.db_ ? CopyReadableRows(source.db_, target.db_) : std::vector<TableSalvage>{};
    recovery.summary = source.db_ ? DescribeSalvage(salvage) : "nothing could be read";
    if (sqlite3_exec(target.db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return Error(
          hr::E_FAIL, ErrorContext::kGeneralQueueManager,
          "cannot write the recovered database " + building + ": " + sqlite3_errmsg(target.db_));
    }
    OPENBITS_RETURN_IF_ERROR(finish(target.db_));
  }
  if (rename(building.c_str(), path.c_str()) != 0) {
    return FileError("cannot move the recovered database " + building + " to " + path, errno);
  }
  OPENBITS_RETURN_IF_ERROR(SyncDirectory(DirectoryOf(path)));
  return recovery;
}

std::string HeldJobsMarkerPath(const std::string& database_path) {
  return database_path + ".held-jobs";
}

Status WriteHeldJobsMarker(const std::string& database_path) {
  const std::string marker = HeldJobsMarkerPath(database_path);
  const std::string text =
      "The job database beside this file has held jobs. bitsd refuses to start while it is\n"
      "missing, empty or without tables; remove this file to start with an empty queue.\n";
  const int fd = open(marker.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return FileError("cannot create " + marker, errno);
  const bool written =
      write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  const int error_number = errno;
  close(fd);
  if (!written) return FileError("cannot write " + marker, error_number);
  return SyncDirectory(DirectoryOf(marker));
}

}  // namespace openbits::store
