// How the store writes: deltas (a state change is one row), statements prepared once, group
// commit (one WAL sync for a batch of writers, a bounded lag without callers) and a write that
// returned surviving kill -9.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "counting_vfs.h"
#include "store/sqlite_job_store.h"

namespace openbits::store {
namespace {

namespace fs = std::filesystem;
using std::chrono::steady_clock;

class StoreCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("openbits-commit-" + Guid::Generate().ToHex());
    fs::create_directories(dir_);
    path_ = (dir_ / "jobs.db").string();
    auto box = SecretBox::OpenOrCreate((dir_ / "secret.key").string());
    ASSERT_TRUE(box) << box.error().ToString();
    secrets_ = std::move(*box);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<SqliteJobStore> OpenStore() {
    auto store = SqliteJobStore::Open(path_, secrets_);
    EXPECT_TRUE(store) << store.error().ToString();
    return store ? std::move(*store) : nullptr;
  }

  static core::Credential Basic(const std::string& password) {
    core::Credential credential;
    credential.user = SecretString("alice");
    credential.password = SecretString(password);
    return credential;
  }
  static core::Job JobOf(std::uint32_t files) {
    core::Job job;
    job.id = Guid::Generate();
    job.owner_uid = 1000;
    job.owner_gid = 1000;
    job.display_name = "job";
    job.custom_headers = SecretString("X-Token: secret\r\n");
    job.credentials.Set(Basic("pw"));
    for (std::uint32_t i = 0; i < files; ++i) {
      core::JobFile file;
      file.remote_url = "http://127.0.0.1/f" + std::to_string(i);
      file.local_path = "/tmp/f" + std::to_string(i);
      file.temp_path = "/tmp/.f" + std::to_string(i);
      file.bytes_total = 100;
      job.files.push_back(std::move(file));
    }
    return job;
  }

  // Every row the next writes insert, update or delete, as "table op key", in order: triggers
  // that the test adds to the database (the store does not know them).
  void AuditWrites() {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    std::string sql = "CREATE TABLE audit (n INTEGER PRIMARY KEY, what TEXT);";
    for (const char* table : {"jobs", "files", "credentials"}) {
      const std::string key = std::string(table) == "jobs"    ? "id"
                              : std::string(table) == "files" ? "idx"
                                                              : "scheme";
      for (const char* op : {"INSERT", "UPDATE", "DELETE"}) {
        const std::string row = std::string(op) == "DELETE" ? "old" : "new";
        sql += std::string("CREATE TRIGGER audit_") + table + "_" + op + " AFTER " + op + " ON " +
               table + " BEGIN INSERT INTO audit (what) VALUES ('" + table + " " + op + " ' || " +
               row + "." + key + "); END;";
      }
    }
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  // jobs.custom_headers of the one job, as stored.
  std::string SealedHeaders() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    std::string sealed;
    sqlite3_stmt* statement = nullptr;
    sqlite3_prepare_v2(db, "SELECT custom_headers FROM jobs", -1, &statement, nullptr);
    if (sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_blob(statement, 0) != nullptr) {
      sealed.assign(static_cast<const char*>(sqlite3_column_blob(statement, 0)),
                    static_cast<std::size_t>(sqlite3_column_bytes(statement, 0)));
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return sealed;
  }
  std::vector<std::string> TakeAudit() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    std::vector<std::string> rows;
    sqlite3_stmt* statement = nullptr;
    sqlite3_prepare_v2(db, "SELECT what FROM audit ORDER BY n", -1, &statement, nullptr);
    while (sqlite3_step(statement) == SQLITE_ROW) {
      rows.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)));
    }
    sqlite3_finalize(statement);
    sqlite3_exec(db, "DELETE FROM audit", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    return rows;
  }

  fs::path dir_;
  std::string path_;
  std::shared_ptr<const SecretBox> secrets_;
};

using Rows = std::vector<std::string>;

TEST_F(StoreCommitTest, AStateChangeUpdatesTheJobRowOnly) {
  core::Job job = JobOf(3);
  auto store = OpenStore();
  ASSERT_TRUE(store->Save(job));
  AuditWrites();

  const std::string sealed_headers = SealedHeaders();
  ASSERT_FALSE(sealed_headers.empty());
  job.state = JobState::kTransferring;
  ASSERT_TRUE(store->Save(job));
  EXPECT_EQ(TakeAudit(), Rows{"jobs UPDATE " + job.id.ToString()});
  // The custom headers were not sealed again (a new seal has a new nonce).
  EXPECT_EQ(SealedHeaders(), sealed_headers);

  // Nothing changed: nothing written.
  ASSERT_TRUE(store->Save(job));
  EXPECT_EQ(TakeAudit(), Rows{});

  // One file changed: its row only.
  job.files[1].bytes_committed = 50;
  ASSERT_TRUE(store->Save(job));
  EXPECT_EQ(TakeAudit(), Rows{"files UPDATE 1"});

  // A file added: one insert. Credentials changed: that job's credential rows.
  core::JobFile added = job.files[0];
  added.remote_url = "http://127.0.0.1/added";
  job.files.push_back(added);
  ASSERT_TRUE(store->Save(job));
  EXPECT_EQ(TakeAudit(), Rows{"files INSERT 3"});
  job.credentials.Set(Basic("new password"));
  ASSERT_TRUE(store->Save(job));
  const Rows credentials = TakeAudit();
  ASSERT_FALSE(credentials.empty());
  for (const std::string& row : credentials) EXPECT_EQ(row.rfind("credentials ", 0), 0u) << row;

  // A checkpoint: one file row.
  job.files[2].bytes_committed = 100;
  job.files[2].completed = true;
  ASSERT_TRUE(store->SaveFileProgress(job.id, 2, job.files[2]));
  EXPECT_EQ(TakeAudit(), Rows{"files UPDATE 2"});
  // ...which the next Save knows it need not write again.
  ASSERT_TRUE(store->Save(job));
  EXPECT_EQ(TakeAudit(), Rows{});

  // And it all reads back.
  store.reset();
  store = OpenStore();
  auto loaded = store->LoadAll();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  const core::Job& back = loaded->front();
  EXPECT_EQ(back.state, JobState::kTransferring);
  ASSERT_EQ(back.files.size(), 4u);
  EXPECT_EQ(back.files[1].bytes_committed, 50u);
  EXPECT_TRUE(back.files[2].completed);
  EXPECT_EQ(back.files[3].remote_url, "http://127.0.0.1/added");
  EXPECT_EQ(back.custom_headers, job.custom_headers);
  ASSERT_EQ(back.credentials.all().size(), 1u);
  EXPECT_EQ(back.credentials.all().front().password, SecretString("new password"));
}

TEST_F(StoreCommitTest, FilesRemovedFromAJobLoseTheirRowsOnly) {
  core::Job job = JobOf(4);
  auto store = OpenStore();
  ASSERT_TRUE(store->Save(job));
  AuditWrites();
  job.files.resize(2);
  ASSERT_TRUE(store->Save(job));
  const Rows rows = TakeAudit();
  EXPECT_EQ(std::set<std::string>(rows.begin(), rows.end()),
            (std::set<std::string>{"files DELETE 2", "files DELETE 3"}));
  store.reset();
  store = OpenStore();
  auto loaded = store->LoadAll();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->front().files.size(), 2u);
}

// LoadAll keeps no image (100,000 idle jobs cost nothing): the first Save of a loaded job
// writes it whole, the next ones write what changed.
TEST_F(StoreCommitTest, AJobLoadedAfterARestartIsWrittenWholeOnceThenByDeltas) {
  core::Job job = JobOf(2);
  {
    auto store = OpenStore();
    ASSERT_TRUE(store->Save(job));
  }
  AuditWrites();
  auto store = OpenStore();
  auto loaded = store->LoadAll();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  job = loaded->front();
  job.state = JobState::kTransferring;
  ASSERT_TRUE(store->Save(job));
  const Rows whole = TakeAudit();
  EXPECT_NE(std::find(whole.begin(), whole.end(), "files INSERT 1"), whole.end());
  job.state = JobState::kQueued;
  ASSERT_TRUE(store->Save(job));
  EXPECT_EQ(TakeAudit(), Rows{"jobs UPDATE " + job.id.ToString()});
}

TEST_F(StoreCommitTest, StatementsArePreparedOncePerConnection) {
  auto store = OpenStore();
  core::Job job = JobOf(2);
  ASSERT_TRUE(store->Save(job));
  job.state = JobState::kTransferring;
  ASSERT_TRUE(store->Save(job));
  ASSERT_TRUE(store->SaveFileProgress(job.id, 0, job.files[0]));
  core::Job removed = JobOf(2);
  ASSERT_TRUE(store->Save(removed));
  ASSERT_TRUE(store->Remove(removed.id));
  ASSERT_TRUE(store->LoadAll());
  // Every statement the loop uses has run once.
  const std::uint64_t prepared = store->statements_prepared();
  for (int round = 1; round <= 50; ++round) {
    core::Job other = JobOf(2);
    ASSERT_TRUE(store->Save(other));
    job.state = round % 2 ? JobState::kQueued : JobState::kTransferring;
    job.files[0].bytes_committed = static_cast<std::uint64_t>(round);
    ASSERT_TRUE(store->Save(job));
    job.files[1].bytes_committed = static_cast<std::uint64_t>(round);
    ASSERT_TRUE(store->SaveFileProgress(job.id, 1, job.files[1]));
    ASSERT_TRUE(store->Remove(other.id));
    ASSERT_TRUE(store->LoadAll());
  }
  EXPECT_EQ(store->statements_prepared(), prepared);
}

TEST_F(StoreCommitTest, ConcurrentWritersShareOneWalSync) {
  testing::CountingVfs vfs;
  auto store = OpenStore();
  core::Job job = JobOf(8);
  ASSERT_TRUE(store->Save(job));
  ASSERT_TRUE(store->SyncDurable());

  // 8 writers, 25 checkpoints each, every one followed by SyncDurable (what a file's
  // FileTransferred waits for).
  const std::uint64_t syncs_before = vfs.wal_syncs();
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (std::uint32_t index = 0; index < 8; ++index) {
    writers.emplace_back([&, index] {
      core::JobFile file = job.files[index];
      for (int i = 1; i <= 25; ++i) {
        file.bytes_committed = static_cast<std::uint64_t>(i);
        // Every write that returned before this call is counted in its target (they all
        // took the store's lock before this one did).
        const std::uint64_t before = vfs.wal_writes();
        if (!store->SaveFileProgress(job.id, index, file)) ++failures;
        if (!store->SyncDurable()) ++failures;
        if (vfs.wal_writes_synced() < before) ++failures;
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(failures.load(), 0);
  const std::uint64_t syncs = vfs.wal_syncs() - syncs_before;
  // 200 writes, 200 SyncDurable calls: one sync each (what synchronous=FULL did) would be 200.
  EXPECT_LT(syncs, 100u) << "WAL syncs for 200 writes of 8 concurrent writers";
  EXPECT_GE(syncs, 1u);

  // One writer: its own write is on the disk when SyncDurable returns.
  job.files[0].bytes_committed = 1000;
  ASSERT_TRUE(store->SaveFileProgress(job.id, 0, job.files[0]));
  const std::uint64_t written = vfs.wal_writes();
  ASSERT_TRUE(store->SyncDurable());
  EXPECT_GE(vfs.wal_writes_synced(), written);

  // Nothing written since: SyncDurable costs no sync at all.
  const std::uint64_t idle = vfs.wal_syncs();
  ASSERT_TRUE(store->SyncDurable());
  EXPECT_EQ(vfs.wal_syncs(), idle);
}

// Complete waits for its job's records only: another job's writes since (what a busy queue
// always has) cost it no sync; its own are on the disk when SyncJobDurable returns.
TEST_F(StoreCommitTest, SyncJobDurableWaitsForThatJobsWritesOnly) {
  testing::CountingVfs vfs;
  auto store = OpenStore();
  core::Job mine = JobOf(1);
  core::Job other = JobOf(1);
  ASSERT_TRUE(store->Save(mine));
  ASSERT_TRUE(store->Save(other));
  ASSERT_TRUE(store->SyncDurable());
  int without_sync = 0;
  for (int i = 1; i <= 20; ++i) {
    other.files[0].bytes_committed = static_cast<std::uint64_t>(i);
    ASSERT_TRUE(store->SaveFileProgress(other.id, 0, other.files[0]));
    const std::uint64_t syncs = vfs.wal_syncs();
    ASSERT_TRUE(store->SyncJobDurable(mine.id));
    // The background sync of `other` may fall in between now and then, not every time.
    if (vfs.wal_syncs() == syncs) ++without_sync;
  }
  EXPECT_GE(without_sync, 10) << "SyncJobDurable synced for another job's writes";

  mine.files[0].completed = true;
  ASSERT_TRUE(store->SaveFileProgress(mine.id, 0, mine.files[0]));
  const std::uint64_t written = vfs.wal_writes();
  other.files[0].bytes_committed = 100;
  ASSERT_TRUE(store->SaveFileProgress(other.id, 0, other.files[0]));
  ASSERT_TRUE(store->SyncJobDurable(mine.id));
  EXPECT_GE(vfs.wal_writes_synced(), written);

  // A job not written since Open: Open made everything durable.
  auto reopened = (store.reset(), OpenStore());
  const std::uint64_t syncs = vfs.wal_syncs();
  ASSERT_TRUE(reopened->SyncJobDurable(mine.id));
  EXPECT_EQ(vfs.wal_syncs(), syncs);
}

TEST_F(StoreCommitTest, AWriteBecomesDurableWithinABoundedLagWithoutCallers) {
  testing::CountingVfs vfs;
  auto store = OpenStore();
  core::Job job = JobOf(1);
  ASSERT_TRUE(store->Save(job));
  job.state = JobState::kTransferring;
  const auto start = steady_clock::now();
  ASSERT_TRUE(store->Save(job));
  const std::uint64_t written = vfs.wal_writes();
  while (vfs.wal_writes_synced() < written && steady_clock::now() - start < std::chrono::seconds(5))
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_GE(vfs.wal_writes_synced(), written);
  EXPECT_LT(steady_clock::now() - start, std::chrono::milliseconds(500));
}

// Open writes too (the schema of a new queue, the migrations of an older one), with
// synchronous=NORMAL like every write: when it returns, those writes are on the disk, as
// SqliteJobStore::Open promises, not left in the page cache for a power loss to take.
TEST_F(StoreCommitTest, WhatOpenWroteIsDurableWhenItReturns) {
  testing::CountingVfs vfs;
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const std::uint64_t written = vfs.wal_writes();
  ASSERT_GT(written, 0u) << "a new queue's schema goes through the log";
  EXPECT_GE(vfs.wal_writes_synced(), written)
      << vfs.wal_syncs() << " WAL syncs for the " << written << " writes of Open";
}

// A child process saves jobs and reports each one whose Save returned; it is killed with
// SIGKILL at a moment the parent does not choose. Every reported job is in the store after.
TEST_F(StoreCommitTest, AWriteThatReturnedSurvivesKill9) {
  for (int round = 0; round < 3; ++round) {
    int report[2];
    ASSERT_EQ(pipe(report), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(report[0]);
      auto store = SqliteJobStore::Open(path_, secrets_);
      if (!store) _exit(2);
      for (;;) {
        core::Job job = JobOf(2);
        if (!(*store)->Save(job)) _exit(3);
        job.state = JobState::kTransferring;
        job.files[0].bytes_committed = 7;
        if (!(*store)->Save(job)) _exit(3);
        const std::string line = job.id.ToString() + "\n";
        if (write(report[1], line.data(), line.size()) != static_cast<ssize_t>(line.size()))
          _exit(4);
      }
    }
    close(report[1]);
    std::string reported;
    char buffer[4096];
    const std::size_t wanted = 40 + static_cast<std::size_t>(round) * 75;  // some jobs
    while (std::count(reported.begin(), reported.end(), '\n') < static_cast<long>(wanted)) {
      const ssize_t n = read(report[0], buffer, sizeof buffer);
      ASSERT_GT(n, 0) << "the child stopped";
      reported.append(buffer, static_cast<std::size_t>(n));
    }
    kill(child, SIGKILL);
    // What it reported before it died, too.
    for (ssize_t n; (n = read(report[0], buffer, sizeof buffer)) > 0;)
      reported.append(buffer, static_cast<std::size_t>(n));
    close(report[0]);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << status;

    auto store = OpenStore();
    ASSERT_TRUE(store);
    auto loaded = store->LoadAll();
    ASSERT_TRUE(loaded) << loaded.error().ToString();
    std::map<std::string, const core::Job*> jobs;
    for (const core::Job& job : *loaded) jobs[job.id.ToString()] = &job;
    std::size_t start = 0;
    std::size_t checked = 0;
    for (std::size_t end; (end = reported.find('\n', start)) != std::string::npos;
         start = end + 1) {
      const std::string id = reported.substr(start, end - start);
      ++checked;
      auto it = jobs.find(id);
      ASSERT_NE(it, jobs.end()) << "job " << id << " was saved, and is lost";
      EXPECT_EQ(it->second->state, JobState::kTransferring);
      EXPECT_EQ(it->second->files.at(0).bytes_committed, 7u);
    }
    EXPECT_GE(checked, wanted);
  }
}

// bitsd blocks SIGTERM in its threads only once its bus loop starts, after the store opened,
// and waits for it on a signalfd: a thread of the store must not take the signal instead.
TEST_F(StoreCommitTest, TheStoreThreadTakesNoProcessSignal) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto store = SqliteJobStore::Open(path_, secrets_);
    if (!store) _exit(2);
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, nullptr);  // as the bus loop does
    kill(getpid(), SIGTERM);
    const timespec limit{5, 0};
    _exit(sigtimedwait(&term, nullptr, &limit) == SIGTERM ? 0 : 3);
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the child died of signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

// A checkpoint copies the log into the database and syncs both: it runs on the store's own
// thread, never in the commit of a writer (which may hold its caller's locks).
TEST_F(StoreCommitTest, WritersNeverCheckpoint) {
  testing::CountingVfs vfs;
  auto store = OpenStore();
  core::Job job = JobOf(64);
  ASSERT_TRUE(store->Save(job));
  const std::uint64_t here_before = testing::CountingVfs::db_syncs_on_this_thread();
  const std::uint64_t before = vfs.db_syncs();
  // Several times kCheckpointFrames frames of the log (each write is one frame), written
  // without a pause.
  const int rounds = 4 * SqliteJobStore::kCheckpointFrames / 64;
  for (int round = 1; round <= rounds; ++round) {
    for (std::uint32_t index = 0; index < 64; ++index) {
      job.files[index].bytes_committed = static_cast<std::uint64_t>(round);
      ASSERT_TRUE(store->SaveFileProgress(job.id, index, job.files[index]));
    }
  }
  EXPECT_EQ(testing::CountingVfs::db_syncs_on_this_thread(), here_before)
      << "a writer synced the database file: it ran a checkpoint";
  // The checkpoints ran elsewhere, and kept the log from growing without bound.
  const auto start = steady_clock::now();
  while (vfs.db_syncs() == before && steady_clock::now() - start < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GT(vfs.db_syncs(), before);
  // The log started again from its beginning after a checkpoint: it never holds much more
  // than kCheckpointFrames frames (a 4 KiB page and its header each), however long the
  // stream of writes.
  EXPECT_LT(fs::file_size(path_ + "-wal"), 2u * SqliteJobStore::kCheckpointFrames * (4096 + 24))
      << "the log grew with every write";
}

}  // namespace
}  // namespace openbits::store
