// Listing a large queue: every job listed, once, whatever the queue's size, with per-user
// isolation; a client that touches many jobs over one connection.
#include <pwd.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <regex>
#include <sstream>
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

// How many of `expected` are not in `listed`.
std::size_t Missing(const std::set<std::string>& expected, const std::vector<std::string>& listed) {
  const std::set<std::string> seen(listed.begin(), listed.end());
  std::size_t missing = 0;
  for (const std::string& id : expected) missing += seen.contains(id) ? 0 : 1;
  return missing;
}

class ListTest : public DaemonTest {
 protected:
  // More jobs than the defaults (60 a user, 300 a machine) allow.
  std::string Config() override {
    return DaemonTest::Config() +
           "[limits]\nmax_jobs_per_user = 2000\nmax_jobs_per_machine = 2000\n";
  }

  // Their GUIDs, in creation order.
  std::vector<std::string> CreateJobs(Client& client, int count, const std::string& prefix) {
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      auto job = client.CreateJob(prefix + std::to_string(i));
      EXPECT_TRUE(job) << job.error().ToString();
      if (job) ids.push_back(job->id().ToString());
    }
    return ids;
  }
};

// Each job object used to subscribe to its job's four signals: dbus-daemon allows a
// connection 512 match rules, so the 129th job a client touched failed.
TEST_F(ListTest, OneConnectionReadsMoreJobsThanTheBusAllowsMatchRules) {
  const std::vector<std::string> ids = CreateJobs(*client_, 300, "many-");
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
  const std::vector<std::string> created = CreateJobs(*client_, 300, "queue-");
  const std::set<std::string> ids(created.begin(), created.end());
  ASSERT_EQ(ids.size(), 300u);
  const auto listed = harness::Run(Bitsadmin({"/list"}));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const std::vector<std::string> shown = ListedIds(listed.out);
  EXPECT_EQ(shown.size(), 300u);
  EXPECT_EQ(Missing(ids, shown), 0u);
  EXPECT_TRUE(shown == created) << "not in creation order, as BITS lists jobs";
  EXPECT_NE(listed.out.find("Listed 300 job(s)."), std::string::npos)
      << listed.out.substr(listed.out.size() > 200 ? listed.out.size() - 200 : 0);
  EXPECT_EQ(listed.err, "");
}

// A page holds at most 1000 jobs whatever the caller asks; the cursor continues after it.
TEST_F(ListTest, PagesAreCappedAndACursorContinuesAfterThem) {
  const std::vector<std::string> created = CreateJobs(*client_, 1001, "capped-");
  const std::set<std::string> ids(created.begin(), created.end());
  ASSERT_EQ(ids.size(), 1001u);
  auto first = client_->ListJobsPage("", 5000);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->jobs.size(), 1000u);
  ASSERT_FALSE(first->next_cursor.empty());
  auto second = client_->ListJobsPage(first->next_cursor, 5000);
  ASSERT_TRUE(second) << second.error().ToString();
  ASSERT_EQ(second->jobs.size(), 1u);
  EXPECT_EQ(second->next_cursor, "");
  std::vector<std::string> listed;
  for (const auto* page : {&*first, &*second}) {
    for (const JobSummary& job : page->jobs) listed.push_back(job.id.ToString());
  }
  EXPECT_EQ(Missing(ids, listed), 0u);
  // ListJobs reads every page and sorts them by creation time.
  auto all = client_->ListJobs();
  ASSERT_TRUE(all) << all.error().ToString();
  ASSERT_EQ(all->size(), 1001u);
  EXPECT_EQ(all->front().display_name, "capped-0");
  EXPECT_EQ(all->back().display_name, "capped-1000");
  EXPECT_EQ(all->back().id.ToString(), created.back());
  EXPECT_EQ(all->back().state, JobState::kSuspended);
  EXPECT_EQ(all->back().type, JobType::kDownload);
  EXPECT_EQ(all->back().priority, JobPriority::kNormal);
  EXPECT_EQ(all->back().owner.uid, geteuid());
  EXPECT_EQ(all->back().owner.name, "root");

  auto bad = client_->ListJobsPage("not a cursor", 10);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), hr::E_INVALIDARG);
  EXPECT_NE(bad.error().message().find("'not a cursor' is not a ListJobs cursor"),
            std::string::npos)
      << bad.error().ToString();
}

// Jobs come and go while a client pages through the queue seven at a time: no job is listed
// twice, and none that existed throughout is left out, even when the job a cursor points at
// is gone before the next page.
TEST_F(ListTest, PagingWhileJobsAreCreatedAndCancelledListsEachSteadyJobOnce) {
  // Steady jobs, and as many that churn away, their places in the order mixed (GUIDs).
  std::set<std::string> steady;
  std::vector<Job> churn;
  for (int i = 0; i < 120; ++i) {
    auto kept = client_->CreateJob("steady-" + std::to_string(i));
    auto passing = client_->CreateJob("churn-" + std::to_string(i));
    ASSERT_TRUE(kept && passing);
    steady.insert(kept->id().ToString());
    churn.push_back(*passing);
  }
  std::mutex churn_mutex;
  std::atomic<int> cycles{0};
  std::atomic<bool> stop{false};
  std::thread churner([&, other = Connect()] {
    // Cancels the oldest churn job left (a position the listing has passed or not yet
    // reached) and creates a new one, until told to stop.
    for (int n = 0; !stop; ++n) {
      std::optional<Job> victim;
      {
        std::lock_guard lock(churn_mutex);
        if (!churn.empty()) {
          victim = churn[static_cast<std::size_t>(n) % churn.size()];
          churn.erase(churn.begin() +
                      static_cast<long>(static_cast<std::size_t>(n) % churn.size()));
        }
      }
      if (victim) (void)other->OpenJob(victim->id()).Cancel();
      auto created = other->CreateJob("churn-new-" + std::to_string(n));
      if (created) {
        std::lock_guard lock(churn_mutex);
        churn.push_back(other->OpenJob(created->id()));
      }
      ++cycles;
    }
  });

  std::vector<std::string> listed;
  std::optional<Guid> last;
  std::string cursor;
  int pages = 0;
  bool ordered = true;
  do {
    auto page = client_->ListJobsPage(cursor, 7);
    ASSERT_TRUE(page) << page.error().ToString();
    EXPECT_LE(page->jobs.size(), 7u);
    for (const JobSummary& job : page->jobs) {
      listed.push_back(job.id.ToString());
      ordered = ordered && (!last || *last < job.id);
      last = job.id;
    }
    cursor = page->next_cursor;
    ++pages;
    // The job the cursor points at goes away before the next page, unless it is a steady one.
    if (!page->jobs.empty() && !steady.contains(page->jobs.back().id.ToString())) {
      (void)client_->OpenJob(page->jobs.back().id).Cancel();
    }
    // Some jobs are created and cancelled between every two pages.
    const int seen = cycles;
    ASSERT_TRUE(harness::WaitUntil([&] { return cycles >= seen + 2; }));
  } while (!cursor.empty());
  stop = true;
  churner.join();

  EXPECT_TRUE(ordered) << "pages out of their order";
  EXPECT_GE(pages, 18);  // the 120 steady jobs alone fill 18 pages of 7
  const std::set<std::string> unique(listed.begin(), listed.end());
  EXPECT_EQ(unique.size(), listed.size()) << "a job was listed twice";
  EXPECT_EQ(Missing(steady, listed), 0u) << "a steady job was skipped";
}

// Two users' jobs: each sees their own, an administrator (this test runs as root) sees all
// with /allusers, and a user asking for all users' gets E_ACCESSDENIED.
class TwoUsersListTest : public ListTest {
 protected:
  void SetUp() override {
    std::string why_not;
    auto users = harness::FindTestUsers(&why_not);
    if (!users) GTEST_SKIP() << why_not;
    alice_ = users->alice;
    bob_ = users->bob;
    ListTest::SetUp();
  }

  std::set<std::string> CreateJobsAs(harness::RunAs user, int count, const std::string& prefix) {
    std::set<std::string> ids;
    for (int i = 0; i < count; ++i) {
      const auto created =
          harness::Run(Bitsadmin({"/rawreturn", "/create", prefix + std::to_string(i)}), user);
      EXPECT_EQ(created.exit_code, 0) << created.err;
      ids.insert(created.out.substr(0, created.out.find('\n')));
    }
    return ids;
  }

  harness::RunAs alice_{0, 0};
  harness::RunAs bob_{0, 0};
};

TEST_F(TwoUsersListTest, AdministratorListsEveryUsersJobsAndUsersOnlyTheirOwn) {
  const std::set<std::string> alices = CreateJobsAs(alice_, 70, "alice-");
  const std::set<std::string> bobs = CreateJobsAs(bob_, 70, "bob-");
  ASSERT_EQ(alices.size() + bobs.size(), 140u);

  const auto all = harness::Run(Bitsadmin({"/list", "/allusers"}));
  ASSERT_EQ(all.exit_code, 0) << all.err;
  const std::vector<std::string> shown = ListedIds(all.out);
  EXPECT_EQ(shown.size(), 140u);
  EXPECT_EQ(Missing(alices, shown), 0u);
  EXPECT_EQ(Missing(bobs, shown), 0u);
  EXPECT_NE(all.out.find("Listed 140 job(s)."), std::string::npos)
      << all.out.substr(all.out.size() > 200 ? all.out.size() - 200 : 0);
  // The owners come with the listing.
  const auto json = harness::Run(Bitsadmin({"--json", "/list", "/allusers"}));
  ASSERT_EQ(json.exit_code, 0) << json.err;
  for (const auto& [ids, name] : {std::pair{&alices, "openbits-alice"}, {&bobs, "openbits-bob"}}) {
    for (const std::string& id : *ids) {
      const auto at = json.out.find("{\"id\":\"" + id + "\"");
      ASSERT_NE(at, std::string::npos) << id;
      const auto owner = json.out.find("\"owner\":", at);
      ASSERT_NE(owner, std::string::npos) << id;
      EXPECT_NE(json.out.substr(owner, 60).find("\"name\":\"" + std::string(name) + "\""),
                std::string::npos)
          << json.out.substr(at, 300);
    }
  }

  const auto own = harness::Run(Bitsadmin({"/list"}), alice_);
  ASSERT_EQ(own.exit_code, 0) << own.err;
  const std::vector<std::string> hers = ListedIds(own.out);
  EXPECT_EQ(std::set<std::string>(hers.begin(), hers.end()), alices);
  EXPECT_NE(own.out.find("Listed 70 job(s)."), std::string::npos);

  const auto denied = harness::Run(Bitsadmin({"/list", "/allusers"}), bob_);
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_NE(denied.err.find("E_ACCESSDENIED"), std::string::npos) << denied.err;
  EXPECT_EQ(ListedIds(denied.out).size(), 0u) << denied.out;
}

}  // namespace
}  // namespace openbits::integration
