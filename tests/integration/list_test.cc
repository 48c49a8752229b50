// Listing a large queue: every job listed, once, whatever the queue's size, with per-user
// isolation; a client that touches many jobs over one connection.
#include <pwd.h>
#include <unistd.h>

#include <atomic>
#include <regex>
#include <thread>

#include "integration/daemon_fixture.h"

namespace openbits::integration {
namespace {

// The GUIDs at the start of the lines of a bitsadmin /list.
std::vector<std::string> ListedIds(const std::string& out) {
  static const std::regex kLine(R"(^(\{[0-9A-Fa-f-]{36}\}) ')");
  std::vector<std::string> ids;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (std::regex_search(line, match, kLine)) ids.push_back(match[1]);
  }
  return ids;
}

class ListTest : public DaemonTest {
 protected:
  // More jobs than the defaults (60 a user, 300 a machine) allow.
  std::string Config() override {
    return DaemonTest::Config() +
           "[limits]\nmax_jobs_per_user = 2000\nmax_jobs_per_machine = 2000\n";
  }

  std::set<std::string> CreateJobs(Client& client, int count, const std::string& prefix) {
    std::set<std::string> ids;
    for (int i = 0; i < count; ++i) {
      auto job = client.CreateJob(prefix + std::to_string(i));
      EXPECT_TRUE(job) << job.error().ToString();
      if (job) ids.insert(job->id().ToString());
    }
    return ids;
  }
};

// Each job object used to subscribe to its job's four signals: dbus-daemon allows a
// connection 512 match rules, so the 129th job a client touched failed.
TEST_F(ListTest, OneConnectionReadsMoreJobsThanTheBusAllowsMatchRules) {
  const std::set<std::string> ids = CreateJobs(*client_, 300, "many-");
  ASSERT_EQ(ids.size(), 300u);
  int read = 0;
  for (const std::string& text : ids) {
    auto job = client_->GetJob(*Guid::Parse(text));
    ASSERT_TRUE(job) << job.error().ToString();
    auto state = job->GetState();
    ASSERT_TRUE(state) << "job #" << read << ": " << state.error().ToString();
    EXPECT_EQ(*state, JobState::kSuspended);
    ++read;
  }
}

TEST_F(ListTest, BitsadminListsEveryOneOfThreeHundredJobs) {
  const std::set<std::string> ids = CreateJobs(*client_, 300, "queue-");
  ASSERT_EQ(ids.size(), 300u);
  const auto listed = harness::Run(Bitsadmin({"/list"}));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const std::vector<std::string> shown = ListedIds(listed.out);
  EXPECT_EQ(shown.size(), 300u);
  EXPECT_EQ(std::set<std::string>(shown.begin(), shown.end()), ids);
  EXPECT_NE(listed.out.find("Listed 300 job(s)."), std::string::npos)
      << listed.out.substr(listed.out.size() > 200 ? listed.out.size() - 200 : 0);
  EXPECT_EQ(listed.err, "");
}

}  // namespace
}  // namespace openbits::integration
