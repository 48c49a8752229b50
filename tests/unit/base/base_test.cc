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

TEST(HresultTest, EveryBitsCodeHasANameAndItsOwnText) {
  // bitsmsg.h's range of BG_E_* and BG_S_* values that BITS defines.
  const HRESULT codes[] = {
      0x00200017, 0x0020001A, 0x0020002A, 0x00200055, 0x80200001, 0x80200002, 0x80200003,
      0x80200004, 0x80200005, 0x8020000D, 0x8020000E, 0x8020000F, 0x80200010, 0x80200011,
      0x80200012, 0x80200013, 0x80200014, 0x80200015, 0x80200016, 0x80200018, 0x80200019,
      0x8020001B, 0x8020001C, 0x8020001D, 0x8020001E, 0x8020001F, 0x80200020, 0x80200021,
      0x80200022, 0x80200023, 0x80200024, 0x80200025, 0x80200026, 0x80200027, 0x80200028,
      0x80200029, 0x8020002B, 0x8020002C, 0x8020002D, 0x8020002E, 0x8020003E, 0x8020003F,
      0x80200040, 0x80200049, 0x80200050, 0x80200051, 0x80200052, 0x80200053, 0x80200054,
      0x80200056, 0x80200057, 0x80200058, 0x80200059, 0x80200060, 0x80200061, 0x80200062,
      0x80200063, 0x80200064, 0x80200065, 0x80200066, 0x80200067, 0x80200068, 0x80200069,
      0x8020006C, 0x8020006D, 0x8020006E, 0x8020006F, 0x80200070, 0x80200071, 0x80200072,
      0x80200073, 0x80200074, 0x80200075};
  std::set<std::string> texts;
  for (HRESULT code : codes) {
    const auto name = HresultName(code);
    ASSERT_TRUE(name) << FormatHresult(code);
    EXPECT_TRUE(name->starts_with("BG_")) << *name;
    EXPECT_TRUE(texts.insert(DescribeHresult(code)).second) << *name << " shares its text";
  }
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
