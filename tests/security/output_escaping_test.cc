// Log forging and terminal escapes: strings chosen by a user (display names, descriptions, file
// names) or by a server (error texts) reach bitsd's log and bitsadmin's output. Control
// characters in them must come out visible (\x1b, \r, \n) so that one log record stays one
// line and nothing a job owner or a server writes can move the cursor, clear the screen or
// fake a line on an administrator's terminal.
#include <algorithm>
#include <sstream>

#include "base/text.h"
#include "integration/daemon_fixture.h"

namespace openbits::security {
namespace {

using integration::DaemonTest;
using namespace std::chrono_literals;

// Clears the screen, then writes what looks like a record of its own on a new line.
const std::string kForged = "evil\x1b[2J\r\n2026-01-01 [info] fake line";
const std::string kForgedShown = "evil\\x1b[2J\\r\\n2026-01-01 [info] fake line";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// No raw control character but tab (and the newlines that end lines), no C1 control in UTF-8.
void ExpectNoControlCharacters(const std::string& text, const std::string& where) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const bool c0 = (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f;
    const bool c1 = c == 0xc2 && i + 1 < text.size() &&
                    static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(text[i + 1]) <= 0x9f;
    EXPECT_FALSE(c0 || c1) << where << ": control byte 0x" << std::hex << int(c) << " at " << i
                           << " in:\n"
                           << text;
    if (c0 || c1) return;
  }
}

// The forged record never starts a line of its own.
void ExpectNoForgedLine(const std::string& text, const std::string& where) {
  for (const std::string& line : Lines(text)) {
    EXPECT_FALSE(line.starts_with("2026-01-01")) << where << " has a forged line:\n" << text;
  }
}

TEST(PrintableTest, ControlCharactersBecomeVisibleEscapes) {
  EXPECT_EQ(text::Printable(kForged), kForgedShown);
  EXPECT_EQ(text::Printable(std::string("a\0b\x07\x7f", 5)), "a\\x00b\\x07\\x7f");
  EXPECT_EQ(text::Printable("tab\there"), "tab\\there");
  // C1 controls: CSI (U+009B) as UTF-8, and a lone 0x9B byte (CSI to an 8-bit terminal).
  EXPECT_EQ(text::Printable("x\xc2\x9b"
                            "2Jy"),
            "x\\u009b2Jy");
  EXPECT_EQ(text::Printable("x\x9b"
                            "2Jy"),
            "x\\x9b2Jy");
  // Bidirectional overrides and Unicode line separators reorder or split what is shown.
  EXPECT_EQ(text::Printable("a\xe2\x80\xae"
                            "b\xe2\x80\xa8"
                            "c"),
            "a\\u202eb\\u2028c");
  // Truncated and overlong sequences are not UTF-8.
  EXPECT_EQ(text::Printable("\xe2\x80"), "\\xe2\\x80");
  EXPECT_EQ(text::Printable("\xc0\x8a"), "\\xc0\\x8a");
}

TEST(PrintableTest, PrintableTextIsUnchanged) {
  for (const std::string& text :
       {std::string("plain ascii ~!@#$%^&*()"), std::string("C:\\path\\x1b stays"),
        std::string("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\xa6")}) {
    EXPECT_EQ(text::Printable(text), text);
  }
  EXPECT_EQ(text::Printable("line one\n\tline two", "\n\t"), "line one\n\tline two");
}

class OutputEscapingTest : public DaemonTest {
 protected:
  std::string CreateForgedJob() {
    auto job = client_->CreateJob(kForged);
    EXPECT_TRUE(job) << job.error().ToString();
    if (!job) return "";
    EXPECT_TRUE(job->SetDescription("desc\x1b]0;owned\x07\r\nfake description"));
    harness::WriteRandomFile(www() + "/a.bin", 1000, 3);
    EXPECT_TRUE(job->AddFile(server_->Url("/a.bin"), out() + "/a\x1b[31mred\r\nname.bin"));
    return job->id().ToString();
  }
};

TEST_F(OutputEscapingTest, LogRecordsShowControlCharactersEscapedOnOneLine) {
  const std::string id = CreateForgedJob();
  ASSERT_FALSE(id.empty());
  const std::string log = bitsd_->Log();
  ExpectNoControlCharacters(log, "bitsd's log");
  ExpectNoForgedLine(log, "bitsd's log");
  EXPECT_NE(log.find(kForgedShown), std::string::npos) << log;
  // One record, one line: the escaped name sits on the line that says the job was created.
  const auto lines = Lines(log);
  EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
    return line.find("Created job=" + id) != std::string::npos &&
           line.find(kForgedShown) != std::string::npos;
  })) << log;
}

TEST_F(OutputEscapingTest, BitsadminShowsControlCharactersEscaped) {
  const std::string id = CreateForgedJob();
  ASSERT_FALSE(id.empty());
  for (const std::vector<std::string>& verb : {std::vector<std::string>{"/info", id},
                                               {"/info", id, "/verbose"},
                                               {"/list"},
                                               {"/list", "/verbose"},
                                               {"/getdisplayname", id},
                                               {"/getdescription", id},
                                               {"/listfiles", id},
                                               {"/monitor", "/refresh", "1"}}) {
    std::string where = "bitsadmin";
    for (const std::string& arg : verb) where += " " + arg;
    const auto run = harness::Run(Bitsadmin(verb), std::nullopt, verb[0] == "/monitor" ? 3s : 60s);
    if (verb[0] != "/monitor") {
      ASSERT_EQ(run.exit_code, 0) << where << ": " << run.err;
    }
    ExpectNoControlCharacters(run.out, where);
    ExpectNoControlCharacters(run.err, where + " (stderr)");
    ExpectNoForgedLine(run.out, where);
    if (verb[0] != "/getdescription" && verb[0] != "/listfiles") {
      EXPECT_NE(run.out.find(kForgedShown), std::string::npos) << where << ":\n" << run.out;
    }
  }
  // Error messages quote what the user typed: escaped too.
  const auto missing =
      harness::Run(Bitsadmin({"/info", "nobody\x1b[2J\r\n2026-01-01 [info] fake line"}));
  EXPECT_NE(missing.exit_code, 0);
  ExpectNoControlCharacters(missing.err, "bitsadmin /info (not found)");
  ExpectNoForgedLine(missing.err, "bitsadmin /info (not found)");
}

}  // namespace
}  // namespace openbits::security
