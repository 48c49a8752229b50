// Introspection isolation: D-Bus introspection of the job subtree must not list other users'
// job GUIDs (a GUID is the handle every other call needs). Alice introspecting
// /org/openbits/bits1/job sees her jobs only, an administrator sees all; another user's job
// object does not exist for her, whatever she calls on it. Needs root, to act as two other uids.
#include <pwd.h>
#include <unistd.h>

#include "integration/daemon_fixture.h"
#include "openbits/dbus_names.h"

namespace openbits::security {
namespace {

using integration::DaemonTest;

class IntrospectionTest : public DaemonTest {
 protected:
  void SetUp() override {
    std::string why_not;
    auto users = harness::FindTestUsers(&why_not);
    if (!users) GTEST_SKIP() << why_not;
    alice_ = users->alice;
    bob_ = users->bob;
    DaemonTest::SetUp();
  }

  // `interface`.`method` on `path`, called by `user` (nullopt: root).
  harness::CommandResult Call(const std::string& path, const std::string& interface,
                              const std::string& method,
                              std::optional<harness::RunAs> user = std::nullopt) {
    return harness::Run({"/usr/bin/busctl", "--address=" + bus_->address(), "call", dbus::kBusName,
                         path, interface, method},
                        user);
  }

  // A job created by `user` through bitsadmin; its object path's last element (hex).
  std::string CreateJobAs(const harness::RunAs& user, const std::string& name) {
    const auto created = harness::Run(Bitsadmin({"/rawreturn", "/create", name}), user);
    EXPECT_EQ(created.exit_code, 0) << created.err;
    const auto id = Guid::Parse(created.out.substr(0, created.out.find('\n')));
    EXPECT_TRUE(id) << created.out;
    return id ? id->ToHex() : "";
  }

  // org.freedesktop.DBus.Introspectable.Introspect on `path`, called by `user` (nullopt: root).
  harness::CommandResult Introspect(const std::string& path,
                                    std::optional<harness::RunAs> user = std::nullopt) {
    return harness::Run({"/usr/bin/busctl", "--address=" + bus_->address(), "call", dbus::kBusName,
                         path, "org.freedesktop.DBus.Introspectable", "Introspect"},
                        user);
  }

  harness::RunAs alice_{0, 0};
  harness::RunAs bob_{0, 0};
};

TEST_F(IntrospectionTest, TheJobSubtreeListsOnlyTheCallersJobs) {
  const std::string alice_job = CreateJobAs(alice_, "alice-job");
  const std::string bob_job = CreateJobAs(bob_, "bob-job");
  ASSERT_FALSE(alice_job.empty());
  ASSERT_FALSE(bob_job.empty());
  const std::string subtree = "/org/openbits/bits1/job";

  const auto as_alice = Introspect(subtree, alice_);
  ASSERT_EQ(as_alice.exit_code, 0) << as_alice.err;
  EXPECT_NE(as_alice.out.find(alice_job), std::string::npos) << as_alice.out;
  EXPECT_EQ(as_alice.out.find(bob_job), std::string::npos) << as_alice.out;

  const auto as_bob = Introspect(subtree, bob_);
  ASSERT_EQ(as_bob.exit_code, 0) << as_bob.err;
  EXPECT_NE(as_bob.out.find(bob_job), std::string::npos) << as_bob.out;
  EXPECT_EQ(as_bob.out.find(alice_job), std::string::npos) << as_bob.out;

  // root is an administrator: it sees everybody's jobs.
  const auto as_admin = Introspect(subtree);
  ASSERT_EQ(as_admin.exit_code, 0) << as_admin.err;
  EXPECT_NE(as_admin.out.find(alice_job), std::string::npos) << as_admin.out;
  EXPECT_NE(as_admin.out.find(bob_job), std::string::npos) << as_admin.out;
}

TEST_F(IntrospectionTest, AnotherUsersJobObjectDoesNotExistForTheCaller) {
  const std::string bob_job = CreateJobAs(bob_, "bob-job");
  ASSERT_FALSE(bob_job.empty());
  const std::string path = std::string(dbus::kJobPathPrefix) + bob_job;

  const auto as_bob = Introspect(path, bob_);
  ASSERT_EQ(as_bob.exit_code, 0) << as_bob.err;
  EXPECT_NE(as_bob.out.find(dbus::kJobInterface), std::string::npos) << as_bob.out;

  // To Alice it answers exactly as a path with no job does: BG_E_NOT_FOUND.
  const auto as_alice = Introspect(path, alice_);
  EXPECT_NE(as_alice.err.find("0x80200001"), std::string::npos) << as_alice.err;
  EXPECT_NE(as_alice.exit_code, 0) << as_alice.out;
  EXPECT_EQ(as_alice.out.find(dbus::kJobInterface), std::string::npos) << as_alice.out;
  const std::string no_job = Guid::Generate().ToHex();
  const auto nothing = Introspect(std::string(dbus::kJobPathPrefix) + no_job, alice_);
  EXPECT_NE(nothing.exit_code, 0) << nothing.out;
  // An error text with the job's id (as hex or as GUID) taken out.
  auto without = [](std::string text, const std::string& hex) {
    for (const std::string& id : {hex, Guid::Parse(hex)->ToString()}) {
      for (auto at = text.find(id); at != std::string::npos; at = text.find(id)) {
        text.replace(at, id.size(), "<job>");
      }
    }
    return text;
  };
  EXPECT_EQ(without(as_alice.err, bob_job), without(nothing.err, no_job));

  // Nor does any other call tell her that the object exists.
  for (const auto& [interface, method] :
       {std::pair<std::string, std::string>{dbus::kJobInterface, "GetState"},
        {"org.freedesktop.DBus.Properties", "GetAll"},
        {"org.freedesktop.DBus.Peer", "Ping"}}) {
    const auto theirs = Call(path, interface, method, alice_);
    const auto none = Call(std::string(dbus::kJobPathPrefix) + no_job, interface, method, alice_);
    EXPECT_NE(theirs.exit_code, 0) << method << ": " << theirs.out;
    EXPECT_EQ(without(theirs.err, bob_job), without(none.err, no_job)) << method;
  }
  // The owner's calls still work.
  EXPECT_EQ(Call(path, dbus::kJobInterface, "GetState", bob_).exit_code, 0);
}

}  // namespace
}  // namespace openbits::security
