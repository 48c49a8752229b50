// bitsadmin's output filter. What bitsadmin prints comes in part from job owners and servers
// (display names, descriptions, URLs, file names, error texts), and an administrator runs it
// on a terminal: while a TerminalEscaping lives, everything written to std::cout and std::cerr
// passes through text::Printable, keeping only newline and tab, so no escape sequence, carriage
// return or C1 control from a job reaches the terminal. The formatters also escape each value
// (newlines included) so that a value cannot start a line of its own.
#pragma once

#include <memory>
#include <streambuf>
#include <string_view>

namespace openbits::cli {

class TerminalEscaping {
 public:
  TerminalEscaping();   // filters std::cout and std::cerr
  ~TerminalEscaping();  // flushes and restores them
  TerminalEscaping(const TerminalEscaping&) = delete;
  TerminalEscaping& operator=(const TerminalEscaping&) = delete;

  // Writes `control` (a sequence of bitsadmin's own, e.g. /monitor's clear-screen) to stdout
  // past the filter, after what is already buffered.
  static void WriteControl(std::string_view control);

 private:
  std::unique_ptr<std::streambuf> out_, err_;
  std::streambuf* raw_out_ = nullptr;
  std::streambuf* raw_err_ = nullptr;
};

}  // namespace openbits::cli
