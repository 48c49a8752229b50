#include "cli/terminal_output.h"

#include <string.h>

#include <iostream>
#include <string>

#include "base/text.h"

namespace openbits::cli {
namespace {

// Buffers up to a newline or a flush, then writes the escaped text to the real stream buffer.
class EscapingStreambuf final : public std::streambuf {
 public:
  explicit EscapingStreambuf(std::streambuf* raw) : raw_(raw) {}
  ~EscapingStreambuf() override { Flush(/*all=*/true); }
  std::streambuf* raw() const { return raw_; }

 protected:
  int_type overflow(int_type ch) override {
    if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
    pending_ += traits_type::to_char_type(ch);
    if (ch == '\n') Flush(/*all=*/false);
    return ch;
  }
  std::streamsize xsputn(const char* data, std::streamsize size) override {
    pending_.append(data, static_cast<std::size_t>(size));
    if (pending_.find('\n') != std::string::npos) Flush(/*all=*/false);
    return size;
  }
  int sync() override {
    Flush(/*all=*/true);
    return raw_->pubsync();
  }

 private:
  // Writes whole lines (all=false) or everything but an unfinished UTF-8 sequence (all=true),
  // so that a character split across two writes is not mistaken for stray bytes.
  void Flush(bool all) {
    std::size_t end = all ? pending_.size() : pending_.rfind('\n') + 1;
    if (all) {
      for (std::size_t back = 1; back <= 3 && back <= end; ++back) {
        const auto byte = static_cast<unsigned char>(pending_[end - back]);
        if ((byte & 0xC0) == 0x80) continue;  // continuation byte: look further back
        const std::size_t needed = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1;
        if (needed > back) end -= back;
        break;
      }
    }
    if (end == 0 || end == std::string::npos) return;
    std::string printable = text::Printable(std::string_view(pending_).substr(0, end), "\n\t");
    raw_->sputn(printable.data(), static_cast<std::streamsize>(printable.size()));
    // /getcustomheaders prints secrets: leave no copy behind.
    explicit_bzero(printable.data(), printable.size());
    explicit_bzero(pending_.data(), end);
    pending_.erase(0, end);
  }

  std::streambuf* raw_;
  std::string pending_;
};

}  // namespace

TerminalEscaping::TerminalEscaping()
    : out_(std::make_unique<EscapingStreambuf>(std::cout.rdbuf())),
      err_(std::make_unique<EscapingStreambuf>(std::cerr.rdbuf())) {
  raw_out_ = std::cout.rdbuf(out_.get());
  raw_err_ = std::cerr.rdbuf(err_.get());
}

TerminalEscaping::~TerminalEscaping() {
  std::cout.flush();
  std::cerr.flush();
  std::cout.rdbuf(raw_out_);
  std::cerr.rdbuf(raw_err_);
}

void TerminalEscaping::WriteControl(std::string_view control) {
  std::cout.flush();
  std::streambuf* buffer = std::cout.rdbuf();
  if (auto* escaping = dynamic_cast<EscapingStreambuf*>(buffer)) buffer = escaping->raw();
  buffer->sputn(control.data(), static_cast<std::streamsize>(control.size()));
}

}  // namespace openbits::cli
