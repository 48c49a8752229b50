// Prepared statements of one SQLite connection, prepared once and reused: preparing a
// statement costs more than running most of the store's (profiles of bitsd showed a third of
// its time in sqlite3_prepare when every write prepared its statements again).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace openbits::store {

// A statement borrowed from the cache for one use: bind, step, read; reset when it goes, so
// the next user finds it ready (and no read transaction stays open).
class CachedStatement {
 public:
  explicit CachedStatement(sqlite3_stmt* statement) : statement_(statement) {}
  ~CachedStatement();
  CachedStatement(CachedStatement&& other) noexcept : statement_(other.statement_) {
    other.statement_ = nullptr;
  }
  CachedStatement(const CachedStatement&) = delete;
  CachedStatement& operator=(const CachedStatement&) = delete;
  CachedStatement& operator=(CachedStatement&&) = delete;

  bool ok() const { return statement_ != nullptr; }
  void Bind(int index, std::int64_t value);
  void Bind(int index, std::string_view text);
  void BindBlob(int index, std::string_view bytes);
  void BindNull(int index);
  int Step();
  std::int64_t Int(int column) const;
  bool IsNull(int column) const;
  std::string Text(int column) const;
  std::string Blob(int column) const;
  std::string_view TextView(int column) const;  // valid until the next Step

 private:
  sqlite3_stmt* statement_;
};

class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache() { Clear(); }
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  // The statement of `sql`, prepared on first use. `sql` must outlive the cache (a literal or
  // a static string): its address is the key. Not ok() when it cannot be prepared (the
  // connection's error says why). One user at a time per statement.
  CachedStatement Get(const char* sql);
  // Finalizes every statement (before the connection closes, or the schema is rebuilt).
  void Clear();
  std::uint64_t prepared() const { return prepared_; }

 private:
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> statements_;
  std::uint64_t prepared_ = 0;
};

}  // namespace openbits::store
