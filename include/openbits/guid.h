// Guid: the 128-bit job identifier, shown as {XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX} like BITS.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace openbits {

class Guid {
 public:
  Guid() = default;
  explicit Guid(const std::array<std::uint8_t, 16>& bytes) : bytes_(bytes) {}

  // A random (version 4) GUID from the kernel's CSPRNG.
  static Guid Generate();
  // Accepts "{8-4-4-4-12}" with or without braces, case-insensitive, and the 32-hex-digit form
  // used in D-Bus object paths. nullopt when malformed.
  static std::optional<Guid> Parse(std::string_view text);

  // "{6B2BF6A1-...}", upper case, as BITS prints it.
  std::string ToString() const;
  // 32 lower-case hex digits, for object paths and file names.
  std::string ToHex() const;

  bool IsNull() const { return bytes_ == std::array<std::uint8_t, 16>{}; }
  friend bool operator==(const Guid&, const Guid&) = default;
  friend auto operator<=>(const Guid&, const Guid&) = default;

 private:
  std::array<std::uint8_t, 16> bytes_{};
};

}  // namespace openbits
