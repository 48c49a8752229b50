// SecretString: a string that holds a secret (custom headers, later passwords and tokens).
// Its bytes are wiped when it is destroyed or overwritten; it cannot be streamed or
// formatted, so it does not end up in a log line by accident.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace openbits {

class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string value) : value_(std::move(value)) {}
  SecretString(const SecretString& other) : value_(other.value_) {}
  SecretString(SecretString&& other) noexcept : value_(std::move(other.value_)) { other.Wipe(); }
  SecretString& operator=(const SecretString& other) {
    if (this != &other) {
      Wipe();
      value_ = other.value_;
    }
    return *this;
  }
  SecretString& operator=(SecretString&& other) noexcept {
    if (this != &other) {
      Wipe();
      value_ = std::move(other.value_);
      other.Wipe();
    }
    return *this;
  }
  ~SecretString() { Wipe(); }

  // The secret itself: use it, do not keep or log it.
  std::string_view reveal() const { return value_; }
  bool empty() const { return value_.empty(); }
  std::size_t size() const { return value_.size(); }
  bool operator==(const SecretString& other) const { return value_ == other.value_; }

  void Wipe();

 private:
  std::string value_;
};

}  // namespace openbits
