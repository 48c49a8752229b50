#include <gtest/gtest.h>

#include <set>

#include "base/log.h"
#include "openbits/guid.h"
#include "openbits/hresult.h"
#include "openbits/result.h"
#include "openbits/types.h"

namespace openbits {
namespace {

TEST(GuidTest, FormatsAndParsesEveryAcceptedSpelling) {
  const Guid id = Guid::Generate();
  EXPECT_EQ(Guid::Parse(id.ToString()), id);
  EXPECT_EQ(Guid::Parse(id.ToHex()), id);
  std::string lower = id.ToString();
  for (char& c : lower) c = static_cast<char>(std::tolower(c));
  EXPECT_EQ(Guid::Parse(lower), id);
  EXPECT_EQ(Guid::Parse(id.ToString().substr(1, 36)), id);
  EXPECT_EQ(id.ToString().size(), 38u);
  EXPECT_EQ(id.ToString()[15], '4');  // version 4
}

TEST(GuidTest, RejectsMalformedText) {
  for (const char* bad :
       {"", "{}", "nightly", "{01234567-89AB-CDEF-0123-456789ABCDEG}",
        "01234567-89AB-CDEF-0123456789ABCDEF0", "{01234567-89AB-CDEF-0123-456789ABCDEF"}) {
    EXPECT_FALSE(Guid::Parse(bad)) << bad;
  }
}

TEST(GuidTest, GeneratedIdsDiffer) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(Guid::Generate().ToHex());
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(HresultTest, NamesAndDescriptions) {
  EXPECT_EQ(HresultName(hr::BG_E_NOT_FOUND), "BG_E_NOT_FOUND");
  EXPECT_EQ(HresultName(HttpStatusToHresult(404)), "BG_E_HTTP_ERROR_404");
  EXPECT_EQ(HttpStatusToHresult(404), 0x80190194u);
  EXPECT_FALSE(HresultName(0x8BADF00D));
  EXPECT_NE(DescribeHresult(0x80190194).find("404"), std::string::npos);
  EXPECT_NE(DescribeHresult(0x8BADF00D).find("0x8BADF00D"), std::string::npos);
  EXPECT_EQ(FormatHresult(hr::BG_E_EMPTY), "0x80200003");
  EXPECT_EQ(Error(hr::BG_E_EMPTY, ErrorContext::kNone, "no files").ToString(),
            "0x80200003 (BG_E_EMPTY): no files");
}

TEST(TypesTest, StateNamesAreBitsadmins) {
  EXPECT_EQ(JobStateName(JobState::kTransientError), "TRANSIENT_ERROR");
  EXPECT_EQ(JobStateName(JobState::kAcknowledged), "ACKNOWLEDGED");
  EXPECT_EQ(ParseJobPriority("foreground"), JobPriority::kForeground);
  EXPECT_FALSE(ParseJobPriority("urgent"));
}

TEST(LogTest, UrlUserinfoIsRedacted) {
  EXPECT_EQ(log::RedactUrl("https://alice:s3cret@host/p?q=1"), "https://***@host/p?q=1");
  EXPECT_EQ(log::RedactUrl("http://host/a@b"), "http://host/a@b");
  EXPECT_EQ(log::RedactUrl("not a url"), "not a url");
}

}  // namespace
}  // namespace openbits
