// The job subtree on the bus: every job path is served by one handler (no object per job), so
// a large queue costs the bus nothing, and what a job object shows on the bus is exactly the
// interfaces of idl/org.openbits.bits1.Job.xml.
#include <sqlite3.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>

#include "integration/daemon_fixture.h"
#include "openbits/dbus_names.h"

namespace openbits::integration {
namespace {

// The methods, signals and properties of each interface of a D-Bus introspection document,
// one line per member ("method AddFile(in s remote_url, in s local_name)"), sorted, by
// interface name. Comments and annotations are left out; signal arguments have no direction.
std::map<std::string, std::vector<std::string>> MembersOf(const std::string& xml) {
  const std::string text = std::regex_replace(xml, std::regex("<!--[\\s\\S]*?-->"), "");
  const std::regex tag(R"(<\s*(/?)\s*(interface|method|signal|property|arg)\b([^>]*?)(/?)>)");
  const std::regex attribute(R"re((\w+)\s*=\s*"([^"]*)")re");
  std::map<std::string, std::vector<std::string>> members;
  std::string interface;
  std::string kind;
  std::string member;  // the member being read, without its closing ')'
  std::string separator;
  auto close_member = [&] {
    if (!member.empty()) members[interface].push_back(member + ")");
    member.clear();
  };
  for (auto it = std::sregex_iterator(text.begin(), text.end(), tag); it != std::sregex_iterator();
       ++it) {
    const bool closing = !(*it)[1].str().empty();
    const std::string name = (*it)[2];
    const std::string attributes = (*it)[3];
    const bool self_closing = !(*it)[4].str().empty();
    std::map<std::string, std::string> attrs;
    for (auto a = std::sregex_iterator(attributes.begin(), attributes.end(), attribute);
         a != std::sregex_iterator(); ++a) {
      attrs[(*a)[1]] = (*a)[2];
    }
    if (name == "interface") {
      if (closing) {
        interface.clear();
      } else {
        interface = attrs["name"];
        members[interface];  // an interface with no members is still listed
      }
    } else if (name == "arg") {
      const std::string direction =
          kind == "signal" ? "" : (attrs.contains("direction") ? attrs["direction"] : "in") + " ";
      member += separator + direction + attrs["type"] + " " + attrs["name"];
      separator = ", ";
    } else if (closing) {
      close_member();
    } else {
      close_member();
      kind = name;
      separator.clear();
      member = name + " " + attrs["name"] + "(";
      if (name == "property") member += attrs["type"] + " " + attrs["access"];
      if (self_closing) close_member();
    }
  }
  for (auto& [name, list] : members) std::sort(list.begin(), list.end());
  return members;
}

// The value in kB of `field` ("VmRSS") of /proc/<pid>/status, or -1.
long StatusKb(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

class JobSubtreeTest : public DaemonTest {
 protected:
  // org.freedesktop.DBus.Introspectable.Introspect of `path`, as root; the XML.
  std::string Introspect(const std::string& path) {
    const auto result =
        harness::Run({"/usr/bin/busctl", "--address=" + bus_->address(), "--json=short", "call",
                      dbus::kBusName, path, "org.freedesktop.DBus.Introspectable", "Introspect"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    // {"type":"s","data":["<xml>"]}: the one string, JSON-unescaped.
    const auto start = result.out.find("[\"");
    const auto end = result.out.rfind("\"]");
    if (start == std::string::npos || end == std::string::npos) return "";
    std::string xml;
    for (std::size_t i = start + 2; i < end; ++i) {
      if (result.out[i] != '\\') {
        xml += result.out[i];
        continue;
      }
      const char escaped = result.out[++i];
      xml += escaped == 'n' ? '\n' : escaped == 't' ? '\t' : escaped;
    }
    return xml;
  }
};

TEST_F(JobSubtreeTest, AJobObjectShowsExactlyTheInterfacesOfTheIdl) {
  auto job = client_->CreateJob("introspected");
  ASSERT_TRUE(job) << job.error().ToString();
  const auto on_bus = MembersOf(Introspect(dbus::JobPath(job->id())));
  const auto idl =
      MembersOf(harness::ReadFile(std::string(OPENBITS_IDL_DIR) + "/org.openbits.bits1.Job.xml"));
  ASSERT_TRUE(idl.contains(dbus::kJobInterface));
  ASSERT_TRUE(idl.contains("org.openbits.bits1.TokenOptions"));
  ASSERT_GT(idl.at(dbus::kJobInterface).size(), 50u);  // the parser read the methods
  // Every interface of the idl, member for member (names, argument types, names and
  // directions, signals), and no other interface of ours.
  std::map<std::string, std::vector<std::string>> ours;
  for (const auto& [name, members] : on_bus) {
    if (!name.starts_with("org.freedesktop.DBus.")) ours[name] = members;
  }
  EXPECT_EQ(ours, idl);
}

// 20,000 jobs in the store (copies of one job bitsd made, written into jobs.db as
// tests/bench/populate_jobs.py does): bitsd starts with no bus object per job, so its memory
// hardly grows with the queue, and it answers calls on any of them.
TEST_F(JobSubtreeTest, TwentyThousandJobsCostNoBusObjectEach) {
  constexpr int kJobs = 20000;
  auto templ = client_->CreateJob("template");
  ASSERT_TRUE(templ) << templ.error().ToString();
  ASSERT_TRUE(templ->AddFile("http://127.0.0.1:9/f0.bin", out() + "/f0.bin"));
  client_.reset();

  // bitsd's memory with one job.
  ASSERT_EQ(bitsd_->Stop(), 0);
  bitsd_->Start();
  const long one_job_kb = StatusKb(bitsd_->pid(), "VmRSS");
  ASSERT_EQ(bitsd_->Stop(), 0);

  // The copies, written while bitsd is stopped.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((bitsd_->state_dir() + "/jobs.db").c_str(), &db), SQLITE_OK);
  auto exec = [&](const std::string& sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (error ? error : "");
    sqlite3_free(error);
  };
  // The columns of `table`, with `replace` (column -> SQL expression) applied.
  auto columns = [&](const std::string& table, const std::map<std::string, std::string>& replace) {
    std::string names;
    std::string values;
    sqlite3_stmt* info = nullptr;
    sqlite3_prepare_v2(db, ("PRAGMA table_info(" + table + ")").c_str(), -1, &info, nullptr);
    while (sqlite3_step(info) == SQLITE_ROW) {
      const std::string column = reinterpret_cast<const char*>(sqlite3_column_text(info, 1));
      names += (names.empty() ? "" : ",") + column;
      values +=
          (values.empty() ? "" : ",") + (replace.contains(column) ? replace.at(column) : column);
    }
    sqlite3_finalize(info);
    return std::pair(names, values);
  };
  const std::string template_id = templ->id().ToString();
  std::string stored_id;  // the template's id as the store spells it
  sqlite3_exec(
      db, "SELECT id FROM jobs",
      [](void* out, int, char** values, char**) {
        *static_cast<std::string*>(out) = values[0];
        return 0;
      },
      &stored_id, nullptr);
  ASSERT_TRUE(Guid::Parse(stored_id) == templ->id()) << stored_id;
  const bool upper = stored_id == template_id;
  const auto [job_names, job_values] = columns("jobs", {{"id", "?1"}});
  const auto [file_names, file_values] =
      columns("files", {{"job_id", "?1"},
                        {"remote_url", "replace(remote_url, 'f0.bin', ?2)"},
                        {"local_path", "replace(local_path, 'f0.bin', ?2)"},
                        {"temp_path", "replace(temp_path, 'f0.bin', ?2)"}});
  sqlite3_stmt* copy_job = nullptr;
  sqlite3_stmt* copy_file = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               ("INSERT INTO jobs (" + job_names + ") SELECT " + job_values +
                                " FROM jobs WHERE id = '" + stored_id + "'")
                                   .c_str(),
                               -1, &copy_job, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               ("INSERT INTO files (" + file_names + ") SELECT " + file_values +
                                " FROM files WHERE job_id = '" + stored_id + "'")
                                   .c_str(),
                               -1, &copy_file, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  exec("BEGIN");
  Guid last;
  for (int i = 1; i < kJobs; ++i) {
    last = Guid::Generate();
    std::string id = last.ToString();
    if (!upper) std::transform(id.begin(), id.end(), id.begin(), ::tolower);
    const std::string name = "f" + std::to_string(i) + ".bin";
    for (sqlite3_stmt* statement : {copy_job, copy_file}) {
      sqlite3_bind_text(statement, 1, id.c_str(), -1, SQLITE_TRANSIENT);
      if (statement == copy_file)
        sqlite3_bind_text(statement, 2, name.c_str(), -1, SQLITE_TRANSIENT);
      ASSERT_EQ(sqlite3_step(statement), SQLITE_DONE) << sqlite3_errmsg(db);
      sqlite3_reset(statement);
    }
  }
  exec("COMMIT");
  sqlite3_finalize(copy_job);
  sqlite3_finalize(copy_file);
  sqlite3_close(db);

  bitsd_->Start();
  const long many_jobs_kb = StatusKb(bitsd_->pid(), "VmRSS");
  client_ = Connect();
  // Any of them answers, the last one written as well as the template.
  for (const Guid& id : {last, templ->id()}) {
    auto job = client_->GetJob(id);
    ASSERT_TRUE(job) << job.error().ToString();
    auto state = job->GetState();
    ASSERT_TRUE(state) << state.error().ToString();
    EXPECT_EQ(*state, JobState::kSuspended);
  }
  // A job in memory (its row, one file) takes about 2 KiB; a bus object per job, as sdbus-c++
  // makes one (its vtables, method tables and sd-bus node for two interfaces), took 25 KiB
  // more. The bound leaves room for the first and catches the second.
  const long per_job_bytes = (many_jobs_kb - one_job_kb) * 1024 / kJobs;
  EXPECT_LT(per_job_bytes, 8 * 1024) << "VmRSS with one job " << one_job_kb << " kB, with " << kJobs
                                     << " jobs " << many_jobs_kb << " kB";
}

}  // namespace
}  // namespace openbits::integration
