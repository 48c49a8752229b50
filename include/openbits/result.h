// Error and Result<T>: errors are values that carry a BITS HRESULT, a BG_ERROR_CONTEXT and a
// human message (after LevelDB's Status, with BITS codes).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "openbits/hresult.h"

namespace openbits {

class [[nodiscard]] Error {
 public:
  Error(HRESULT code, ErrorContext context, std::string message)
      : code_(code), context_(context), message_(std::move(message)) {}

  static Error InvalidArg(std::string message) {
    return {hr::E_INVALIDARG, ErrorContext::kNone, std::move(message)};
  }
  static Error NotFound(std::string message) {
    return {hr::BG_E_NOT_FOUND, ErrorContext::kNone, std::move(message)};
  }
  static Error InvalidState(std::string message) {
    return {hr::BG_E_INVALID_STATE, ErrorContext::kNone, std::move(message)};
  }
  static Error AccessDenied(std::string message) {
    return {hr::E_ACCESSDENIED, ErrorContext::kNone, std::move(message)};
  }
  static Error Internal(std::string message) {
    return {hr::E_FAIL, ErrorContext::kGeneralQueueManager, std::move(message)};
  }

  HRESULT code() const { return code_; }
  ErrorContext context() const { return context_; }
  const std::string& message() const { return message_; }
  // "0x80200001 (BG_E_NOT_FOUND): no job {..} for uid 1000".
  std::string ToString() const;

 private:
  HRESULT code_;
  ErrorContext context_;
  std::string message_;
};

// A value or an Error. Result<void> carries only success or an Error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : data_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(data_); }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(!ok());
    return std::get<Error>(data_);
  }
  T& value() & {
    assert(ok());
    return std::get<T>(data_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(data_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Error> data_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(!ok());
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;
inline Status Ok() { return {}; }

}  // namespace openbits

// Return early with the error of an expression that yields a Result.
#define OPENBITS_RETURN_IF_ERROR(expr) \
  do {                                 \
    auto openbits_status_ = (expr);    \
    if (!openbits_status_.ok()) {      \
      return openbits_status_.error(); \
    }                                  \
  } while (false)
