#include "store/statement_cache.h"

#include <sqlite3.h>

namespace openbits::store {

CachedStatement::~CachedStatement() {
  if (statement_ != nullptr) sqlite3_reset(statement_);
}

void CachedStatement::Bind(int index, std::int64_t value) {
  sqlite3_bind_int64(statement_, index, value);
}

void CachedStatement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                    SQLITE_TRANSIENT);
}

void CachedStatement::BindBlob(int index, std::string_view bytes) {
  sqlite3_bind_blob(statement_, index, bytes.data(), static_cast<int>(bytes.size()),
                    SQLITE_TRANSIENT);
}

void CachedStatement::BindNull(int index) { sqlite3_bind_null(statement_, index); }

int CachedStatement::Step() { return sqlite3_step(statement_); }

std::int64_t CachedStatement::Int(int column) const {
  return sqlite3_column_int64(statement_, column);
}

bool CachedStatement::IsNull(int column) const {
  return sqlite3_column_type(statement_, column) == SQLITE_NULL;
}

std::string_view CachedStatement::TextView(int column) const {
  const auto* text = sqlite3_column_text(statement_, column);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text),
          static_cast<std::size_t>(sqlite3_column_bytes(statement_, column))};
}

std::string CachedStatement::Text(int column) const { return std::string(TextView(column)); }

std::string CachedStatement::Blob(int column) const {
  const void* data = sqlite3_column_blob(statement_, column);
  if (data == nullptr) return {};
  return std::string(static_cast<const char*>(data),
                     static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
}

CachedStatement StatementCache::Get(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return CachedStatement(it->second);
  sqlite3_stmt* statement = nullptr;
  ++prepared_;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) !=
      SQLITE_OK) {
    sqlite3_finalize(statement);
    return CachedStatement(nullptr);
  }
  statements_.emplace(sql, statement);
  return CachedStatement(statement);
}

void StatementCache::Clear() {
  for (auto& [sql, statement] : statements_) sqlite3_finalize(statement);
  statements_.clear();
}

}  // namespace openbits::store
