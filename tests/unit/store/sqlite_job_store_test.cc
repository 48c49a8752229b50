// The SQLite store on a real file: round trip, reopen, progress checkpoints, corruption.
#include "store/sqlite_job_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

namespace openbits::store {
namespace {

namespace fs = std::filesystem;

class SqliteJobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("openbits-store-" + Guid::Generate().ToHex());
    fs::create_directories(dir_);
    path_ = (dir_ / "jobs.db").string();
    auto box = SecretBox::OpenOrCreate((dir_ / "secret.key").string());
    ASSERT_TRUE(box) << box.error().ToString();
    secrets_ = std::move(*box);
  }
  Result<std::unique_ptr<SqliteJobStore>> OpenStore() {
    return SqliteJobStore::Open(path_, secrets_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static core::Job SampleJob() {
    core::Job job;
    job.id = Guid::Generate();
    job.owner_uid = 1000;
    job.owner_gid = 100;
    job.display_name = "nightly 'quoted' name";
    job.description = "ünïcode description";
    job.priority = JobPriority::kHigh;
    job.state = JobState::kTransientError;
    job.error = core::JobError{0x801901F7, ErrorContext::kRemoteFile, 1, "HTTP status 503"};
    job.error_count = 2;
    job.minimum_retry_delay_s = 60;
    job.no_progress_timeout_s = 3600;
    job.times = {1, 2, 0};
    job.last_progress_us = 3;
    job.retry_at_us = 4;
    job.notify_flags = 0x1B;
    job.notify_command =
        core::NotifyCommand{"/usr/bin/notify-send", "notify-send \"done\"", 1000, 100};
    job.minimum_notification_interval_ms = 250;
    job.security_flags = 0x0902;
    job.maximum_download_time_s = 60;
    job.transfer_time_us = 1234;
    job.custom_headers = SecretString("X-Api-Token: tok-12345\r\n");
    job.custom_headers_write_only = true;
    job.http_method = "POST";
    job.dynamic_content = true;
    job.max_download_size = 1 << 20;
    job.resumed_once = true;
    job.parallel_files = 8;
    job.client_certificate = core::ClientCertificateRef{0, "MY", std::string(40, 'a'), ""};
    for (int i = 0; i < 2; ++i) {
      core::JobFile file;
      file.remote_url = "http://h/f" + std::to_string(i);
      file.local_path = "/d/f" + std::to_string(i);
      file.temp_path = "/d/.f" + std::to_string(i) + ".tmp";
      file.bytes_total = i == 0 ? 100 : kSizeUnknown;
      file.bytes_committed = i == 0 ? 100 : 0;
      file.completed = i == 0;
      file.validators = {"\"etag\"", "Wed, 21 Oct 2015 07:28:00 GMT"};
      file.remote_mtime_us = 1445412480000000;
      file.response_headers = "HTTP/1.1 206 Partial Content\r\nETag: \"etag\"\r\n";
      if (i == 0) file.validation_state = true;
      if (i == 1) file.ranges = {{0, 100}, {4096, core::kLengthToEof}};
      job.files.push_back(file);
    }
    return job;
  }

  fs::path dir_;
  std::string path_;
  std::shared_ptr<const SecretBox> secrets_;
};

TEST_F(SqliteJobStoreTest, JobRoundTripsThroughReopen) {
  const core::Job job = SampleJob();
  {
    auto store = OpenStore();
    ASSERT_TRUE(store) << store.error().ToString();
    ASSERT_TRUE((*store)->Save(job));
  }
  auto store = OpenStore();
  ASSERT_TRUE(store);
  auto loaded = (*store)->LoadAll();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  const core::Job& back = loaded->front();
  EXPECT_EQ(back.id, job.id);
  EXPECT_EQ(back.owner_uid, 1000u);
  EXPECT_EQ(back.owner_gid, 100u);
  EXPECT_EQ(back.display_name, job.display_name);
  EXPECT_EQ(back.description, job.description);
  EXPECT_EQ(back.priority, JobPriority::kHigh);
  EXPECT_EQ(back.state, JobState::kTransientError);
  ASSERT_TRUE(back.error);
  EXPECT_EQ(back.error->code, 0x801901F7u);
  EXPECT_EQ(back.error->context, ErrorContext::kRemoteFile);
  EXPECT_EQ(back.error->file_index, 1u);
  EXPECT_EQ(back.error->message, "HTTP status 503");
  EXPECT_EQ(back.error_count, 2u);
  EXPECT_EQ(back.minimum_retry_delay_s, 60u);
  EXPECT_EQ(back.no_progress_timeout_s, 3600u);
  EXPECT_EQ(back.times.creation_us, 1);
  EXPECT_EQ(back.retry_at_us, 4);
  EXPECT_EQ(back.notify_flags, 0x1Bu);
  EXPECT_EQ(back.notify_command, job.notify_command);
  EXPECT_EQ(back.minimum_notification_interval_ms, 250u);
  EXPECT_EQ(back.security_flags, 0x0902u);
  EXPECT_EQ(back.maximum_download_time_s, 60u);
  EXPECT_EQ(back.transfer_time_us, 1234);
  EXPECT_EQ(back.custom_headers, job.custom_headers);
  EXPECT_TRUE(back.custom_headers_write_only);
  EXPECT_EQ(back.http_method, "POST");
  EXPECT_TRUE(back.dynamic_content);
  EXPECT_FALSE(back.high_performance);
  EXPECT_EQ(back.max_download_size, 1u << 20);
  EXPECT_TRUE(back.resumed_once);
  EXPECT_EQ(back.parallel_files, 8u);
  EXPECT_EQ(back.client_certificate, job.client_certificate);
  EXPECT_EQ(back.files[0].response_headers, job.files[0].response_headers);
  EXPECT_EQ(back.files[0].validation_state, true);
  EXPECT_FALSE(back.files[1].validation_state.has_value());
  EXPECT_TRUE(back.files[0].ranges.empty());
  EXPECT_EQ(back.files[1].ranges, job.files[1].ranges);
  ASSERT_EQ(back.files.size(), 2u);
  EXPECT_EQ(back.files[0].bytes_total, 100u);
  EXPECT_TRUE(back.files[0].completed);
  EXPECT_EQ(back.files[1].bytes_total, kSizeUnknown);
  EXPECT_EQ(back.files[1].validators, job.files[1].validators);
  EXPECT_EQ(back.files[1].temp_path, "/d/.f1.tmp");
  EXPECT_EQ(back.files[1].bytes_transferred, 0u);
}

TEST_F(SqliteJobStoreTest, SecretsAreEncryptedOnDiskAndBoundToTheirJob) {
  core::Job job = SampleJob();
  {
    auto store = OpenStore();
    ASSERT_TRUE((*store)->Save(job));
  }
  // Neither the database nor its WAL holds the plaintext.
  for (const char* file : {"jobs.db", "jobs.db-wal"}) {
    std::ifstream in(dir_ / file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find("tok-12345"), std::string::npos) << file;
  }
  // The key file is private.
  EXPECT_EQ(fs::status(dir_ / "secret.key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  // Another machine key cannot read the secret; the job itself survives.
  fs::remove(dir_ / "secret.key");
  auto other_key = SecretBox::OpenOrCreate((dir_ / "secret.key").string());
  ASSERT_TRUE(other_key);
  auto store = SqliteJobStore::Open(path_, std::move(*other_key));
  auto loaded = (*store)->LoadAll();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_TRUE(loaded->front().custom_headers.empty());
  EXPECT_EQ(loaded->front().display_name, job.display_name);
}

TEST_F(SqliteJobStoreTest, AKeyFileOthersCanReadIsRefused) {
  fs::permissions(dir_ / "secret.key", fs::perms::others_read, fs::perm_options::add);
  auto box = SecretBox::OpenOrCreate((dir_ / "secret.key").string());
  ASSERT_FALSE(box);
  EXPECT_EQ(box.error().code(), hr::E_ACCESSDENIED);
}

TEST_F(SqliteJobStoreTest, AKeyFileHalfWrittenByACrashedStartDoesNotBlockTheNext) {
  const fs::path key = dir_ / "other.key";
  {
    std::ofstream stale(dir_ / "other.key.new", std::ios::binary);
    stale << "half";
  }
  auto box = SecretBox::OpenOrCreate(key.string());
  ASSERT_TRUE(box) << box.error().ToString();
  EXPECT_EQ(fs::file_size(key), 32u);
  EXPECT_FALSE(fs::exists(dir_ / "other.key.new"));
}

TEST_F(SqliteJobStoreTest, ProgressCheckpointPersistsOnlyThatFile) {
  core::Job job = SampleJob();
  auto store = OpenStore();
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->Save(job));
  core::JobFile file = job.files[1];
  file.bytes_committed = 4096;
  file.bytes_transferred = 9999;  // live, not durable: must not be stored
  file.bytes_total = 10000;
  file.completed = true;
  file.delivery = core::Delivery::kDone;  // Complete renamed it into place
  file.response_headers = "HTTP/1.1 206 Partial Content\r\n";
  ASSERT_TRUE((*store)->SaveFileProgress(job.id, 1, file));
  auto loaded = (*store)->LoadAll();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->front().files[1].bytes_committed, 4096u);
  EXPECT_EQ(loaded->front().files[1].bytes_transferred, 4096u);
  EXPECT_EQ(loaded->front().files[1].bytes_total, 10000u);
  EXPECT_TRUE(loaded->front().files[1].completed);
  EXPECT_EQ(loaded->front().files[1].delivery, core::Delivery::kDone);
  EXPECT_EQ(loaded->front().files[0].delivery, core::Delivery::kNone);
  EXPECT_EQ(loaded->front().files[1].response_headers, "HTTP/1.1 206 Partial Content\r\n");
  EXPECT_EQ(loaded->front().files[0].bytes_committed, 100u);
}

TEST_F(SqliteJobStoreTest, RemoveDeletesJobAndFiles) {
  const core::Job job = SampleJob();
  auto store = OpenStore();
  ASSERT_TRUE((*store)->Save(job));
  ASSERT_TRUE((*store)->Remove(job.id));
  EXPECT_TRUE((*store)->LoadAll()->empty());
}

TEST_F(SqliteJobStoreTest, VersionOneDatabaseIsMigratedWithBitsDefaults) {
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    // The version 1 schema as bitsd 0.1 wrote it, with one job.
    const char* v1 = R"sql(
      CREATE TABLE jobs (id TEXT PRIMARY KEY, owner_uid INTEGER NOT NULL,
        owner_gid INTEGER NOT NULL, display_name TEXT NOT NULL, description TEXT NOT NULL,
        type INTEGER NOT NULL, priority INTEGER NOT NULL, state INTEGER NOT NULL,
        error_code INTEGER, error_context INTEGER, error_file INTEGER, error_message TEXT,
        error_count INTEGER NOT NULL, minimum_retry_delay_s INTEGER NOT NULL,
        no_progress_timeout_s INTEGER NOT NULL, creation_us INTEGER NOT NULL,
        modification_us INTEGER NOT NULL, transfer_completion_us INTEGER NOT NULL,
        last_progress_us INTEGER NOT NULL, retry_at_us INTEGER NOT NULL);
      CREATE TABLE files (job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL, remote_url TEXT NOT NULL, local_path TEXT NOT NULL,
        temp_path TEXT NOT NULL, bytes_total INTEGER NOT NULL, bytes_committed INTEGER NOT NULL,
        completed INTEGER NOT NULL, etag TEXT NOT NULL, last_modified TEXT NOT NULL,
        remote_mtime_us INTEGER NOT NULL, PRIMARY KEY (job_id, idx));
      INSERT INTO jobs VALUES ('{01234567-89AB-CDEF-0123-456789ABCDEF}', 1000, 1000, 'old', '',
        0, 2, 3, NULL, NULL, NULL, NULL, 0, 600, 1209600, 1, 1, 0, 1, 0);
      INSERT INTO files VALUES ('{01234567-89AB-CDEF-0123-456789ABCDEF}', 0, 'http://h/f',
        '/d/f', '/d/.f.tmp', 5, 5, 1, '', '', 0);
      PRAGMA user_version = 1;)sql";
    ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = OpenStore();
  ASSERT_TRUE(store) << store.error().ToString();
  auto loaded = (*store)->LoadAll();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ(loaded->front().display_name, "old");
  EXPECT_EQ(loaded->front().notify_flags, kDefaultNotifyFlags);
  EXPECT_FALSE(loaded->front().notify_command);
  EXPECT_EQ(loaded->front().minimum_notification_interval_ms, 500u);
  EXPECT_EQ(loaded->front().maximum_download_time_s, 7'776'000u);
  EXPECT_EQ(loaded->front().max_download_size, kNoMaxDownloadSize);
  ASSERT_EQ(loaded->front().files.size(), 1u);
  EXPECT_TRUE(loaded->front().files[0].completed);
  EXPECT_EQ(loaded->front().files[0].delivery, core::Delivery::kNone);  // version 12

  // The migrated rows take the writes of today's store: a loaded job's first Save (whole),
  // then a delta of its row and one of a file, all read back after a restart.
  core::Job job = loaded->front();
  job.state = JobState::kTransferred;
  ASSERT_TRUE((*store)->Save(job));
  job.description = "migrated";
  job.files[0].bytes_committed = 5;
  job.files[0].delivery = core::Delivery::kDone;
  ASSERT_TRUE((*store)->Save(job));
  store->reset();
  store = OpenStore();
  ASSERT_TRUE(store) << store.error().ToString();
  loaded = (*store)->LoadAll();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ(loaded->front().state, JobState::kTransferred);
  EXPECT_EQ(loaded->front().description, "migrated");
  ASSERT_EQ(loaded->front().files.size(), 1u);
  EXPECT_EQ(loaded->front().files[0].delivery, core::Delivery::kDone);
  EXPECT_EQ(loaded->front().files[0].remote_url, "http://h/f");
}

TEST_F(SqliteJobStoreTest, SchemaThirteenGainsParallelFilesAndAChangeOfItAloneIsWritten) {
  core::Job job = SampleJob();
  job.parallel_files = 0;
  {
    auto store = OpenStore();
    ASSERT_TRUE(store) << store.error().ToString();
    ASSERT_TRUE((*store)->Save(job));
  }
  {
    // The database as schema 13 wrote it.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(db, "ALTER TABLE jobs DROP COLUMN parallel_files; PRAGMA user_version = 13;",
                     nullptr, nullptr, nullptr),
        SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  auto store = OpenStore();
  ASSERT_TRUE(store) << store.error().ToString();
  auto loaded = (*store)->LoadAll();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ(loaded->front().parallel_files, 0u);  // the daemon's default
  EXPECT_EQ(loaded->front().display_name, job.display_name);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* version = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &version, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(version), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(version, 0), 14);
    sqlite3_finalize(version);
    sqlite3_close(db);
  }
  // The property alone changes: the delta still writes it (it is in the jobs row's hash).
  core::Job changed = loaded->front();
  ASSERT_TRUE((*store)->Save(changed));
  changed.parallel_files = 12;
  ASSERT_TRUE((*store)->Save(changed));
  store->reset();
  store = OpenStore();
  ASSERT_TRUE(store) << store.error().ToString();
  loaded = (*store)->LoadAll();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ(loaded->front().parallel_files, 12u);
}

// Every file of the database (jobs.db, -wal, -shm), concatenated.
std::string DatabaseBytes(const fs::path& dir) {
  std::string bytes;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.path().filename().string().starts_with("jobs.db")) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    bytes.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return bytes;
}

constexpr const char* kProxyPassword = "S3cretPw";

core::Job WithProxySecrets(core::Job job) {
  job.proxy = {ProxyUsage::kOverride, "http=user:S3cretPw@proxy.example:3128", "<local>"};
  job.proxy_environment = {{"http_proxy", "http://user:S3cretPw@127.0.0.1:3128"},
                           {"no_proxy", "localhost"}};
  return job;
}

const core::AccountProxy kAccountWithSecret{core::AccountProxyMode::kManualProxy,
                                            "user:S3cretPw@proxy.example:8080", "*.corp", ""};
const core::AccountProxy kScriptWithSecret{core::AccountProxyMode::kAutoscript, "", "",
                                           "http://user:S3cretPw@pac.example/proxy.pac"};

TEST_F(SqliteJobStoreTest, ProxyListsAndEnvironmentsAreSealedOnDisk) {
  const core::Job job = WithProxySecrets(SampleJob());
  {
    auto store = OpenStore();
    ASSERT_TRUE(store) << store.error().ToString();
    ASSERT_TRUE((*store)->Save(job));
    ASSERT_TRUE((*store)->SaveAccountProxy(1000, kAccountWithSecret));
    ASSERT_TRUE((*store)->SaveAccountProxy(1001, kScriptWithSecret));
    EXPECT_EQ(DatabaseBytes(dir_).find(kProxyPassword), std::string::npos) << "while open";
  }
  EXPECT_EQ(DatabaseBytes(dir_).find(kProxyPassword), std::string::npos) << "after close";
  auto store = OpenStore();
  ASSERT_TRUE(store);
  auto loaded = (*store)->LoadAll();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ(loaded->front().proxy, job.proxy);
  EXPECT_EQ(loaded->front().proxy_environment, job.proxy_environment);
  auto accounts = (*store)->LoadAccountProxies();
  ASSERT_TRUE(accounts);
  EXPECT_EQ(accounts->at(1000), kAccountWithSecret);
  EXPECT_EQ(accounts->at(1001), kScriptWithSecret);
}

TEST_F(SqliteJobStoreTest, TheMigrationSealsProxySecretsStoredInPlaintext) {
  const core::Job job = WithProxySecrets(SampleJob());
  {
    auto store = OpenStore();
    ASSERT_TRUE(store) << store.error().ToString();
    core::Job plain = job;
    plain.proxy = {};
    plain.proxy_environment = {};
    ASSERT_TRUE((*store)->Save(plain));
    ASSERT_TRUE((*store)->SaveAccountProxy(1000, core::AccountProxy{}));
  }
  {
    // The database as the schema before sealing wrote it: the secrets in plaintext columns.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    for (const char* undo :
         {"ALTER TABLE jobs DROP COLUMN proxy_sealed",
          "ALTER TABLE account_proxies DROP COLUMN sealed",
          "ALTER TABLE files DROP COLUMN delivery", "ALTER TABLE jobs DROP COLUMN helper_sealed",
          "ALTER TABLE jobs DROP COLUMN parallel_files"}) {
      sqlite3_exec(db, undo, nullptr, nullptr, nullptr);  // absent before the sealing schema
    }
    const std::string plaintext =
        "UPDATE jobs SET proxy_usage = 2, proxy_list = 'http=user:S3cretPw@proxy.example:3128', "
        "proxy_bypass = '<local>', error_message = 'the creator''s proxy environment cannot be "
        "used: the proxy entry ''http://user:S3cretPw@127.0.0.1:3128'' is not host[:port]', "
        "proxy_environment = "
        "'http_proxy=http://user:S3cretPw@127.0.0.1:3128\nno_proxy=localhost\n';"
        "UPDATE account_proxies SET mode = 2, list = 'user:S3cretPw@proxy.example:8080', "
        "bypass = '*.corp';"
        "INSERT INTO account_proxies VALUES (1001, 3, '', '', "
        "'http://user:S3cretPw@pac.example/proxy.pac');"
        "PRAGMA user_version = " +
        std::to_string(SqliteJobStore::kProxySealingVersion - 1) + ";";
    ASSERT_EQ(sqlite3_exec(db, plaintext.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
    ASSERT_NE(DatabaseBytes(dir_).find(kProxyPassword), std::string::npos);
  }
  {
    auto store = OpenStore();
    ASSERT_TRUE(store) << store.error().ToString();
    auto loaded = (*store)->LoadAll();
    ASSERT_TRUE(loaded);
    ASSERT_EQ(loaded->size(), 1u);
    EXPECT_EQ(loaded->front().proxy, job.proxy);
    EXPECT_EQ(loaded->front().proxy_environment, job.proxy_environment);
    ASSERT_TRUE(loaded->front().error);
    EXPECT_NE(loaded->front().error->message.find("'http://***@127.0.0.1:3128'"), std::string::npos)
        << loaded->front().error->message;
    auto accounts = (*store)->LoadAccountProxies();
    ASSERT_TRUE(accounts);
    EXPECT_EQ(accounts->at(1000), kAccountWithSecret);
    EXPECT_EQ(accounts->at(1001), kScriptWithSecret);
    // Not in the file, nor in its WAL or free pages, once migrated.
    EXPECT_EQ(DatabaseBytes(dir_).find(kProxyPassword), std::string::npos) << "while open";
  }
  EXPECT_EQ(DatabaseBytes(dir_).find(kProxyPassword), std::string::npos) << "after close";
}

std::string KeptCorruptCopy(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("jobs.db.corrupt-") && !name.ends_with("-wal") &&
        !name.ends_with("-shm")) {
      return entry.path().string();
    }
  }
  return "";
}

TEST_F(SqliteJobStoreTest, AFileThatIsNoDatabaseIsKeptAsideAndAnEmptyQueueStarts) {
  const std::string garbage(8192, 'x');
  {
    std::ofstream out(path_, std::ios::binary);
    out << garbage;
  }
  auto store = OpenStore();
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_TRUE((*store)->LoadAll()->empty());
  // Never replaced: the file is kept, byte for byte, beside the new database.
  const std::string kept = KeptCorruptCopy(dir_);
  ASSERT_FALSE(kept.empty());
  std::ifstream in(kept, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), garbage);
}

TEST_F(SqliteJobStoreTest, ACorruptPageLosesOnlyTheJobsOnIt) {
  std::vector<core::Job> saved;
  {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    for (int i = 0; i < 30; ++i) {
      core::Job job = SampleJob();
      job.times.creation_us = i;
      job.description = "job-" + std::to_string(100 + i) + "-" + std::string(1000, 'd');
      ASSERT_TRUE((*store)->Save(job));
      saved.push_back(job);
    }
  }
  ASSERT_FALSE(fs::exists(path_ + "-wal")) << "closing checkpoints the WAL";
  std::string bytes;
  {
    std::ifstream in(path_, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::size_t page_size =
      (static_cast<unsigned char>(bytes[16]) << 8) | static_cast<unsigned char>(bytes[17]);
  const std::size_t page = bytes.find("job-115-") / page_size * page_size;
  {
    std::fstream file(path_, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(page));
    const std::string garbage(page_size, '\xA5');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }

  auto store = OpenStore();
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_FALSE(KeptCorruptCopy(dir_).empty());
  auto loaded = (*store)->LoadAll();
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  EXPECT_GT(loaded->size(), 20u);
  EXPECT_LT(loaded->size(), 30u);
  std::set<std::string> names;
  for (const core::Job& job : *loaded) {
    names.insert(job.description.substr(0, 8));
    // Each job that comes back is whole: its files and its sealed secrets.
    EXPECT_EQ(job.files.size(), 2u);
    EXPECT_EQ(job.custom_headers, saved.front().custom_headers);
    EXPECT_EQ(job.files[1].ranges, saved.front().files[1].ranges);
  }
  EXPECT_TRUE(names.contains("job-100-"));
  EXPECT_TRUE(names.contains("job-129-"));
  EXPECT_FALSE(names.contains("job-115-"));
  // The recovered database is a working one.
  EXPECT_TRUE((*store)->Save(SampleJob()));
}

TEST_F(SqliteJobStoreTest, AnEmptiedDatabaseOfAQueueThatHeldJobsIsRefused) {
  {
    auto store = OpenStore();
    ASSERT_TRUE(store);
    ASSERT_TRUE((*store)->Save(SampleJob()));
    ASSERT_TRUE((*store)->Remove(SampleJob().id));  // the marker stays when the queue empties
  }
  EXPECT_TRUE(fs::exists(path_ + ".held-jobs"));
  fs::resize_file(path_, 0);
  auto store = OpenStore();
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), hr::BG_E_DATABASE_CORRUPT);
  EXPECT_NE(store.error().message().find(path_ + ".held-jobs"), std::string::npos);
  EXPECT_EQ(fs::file_size(path_), 0u);  // the evidence is left as it was
}

TEST_F(SqliteJobStoreTest, AMissingDatabaseOfAQueueThatHeldJobsIsRefused) {
  {
    auto store = OpenStore();
    ASSERT_TRUE((*store)->Save(SampleJob()));
  }
  fs::remove(path_);
  auto store = OpenStore();
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), hr::BG_E_DATABASE_CORRUPT);
}

TEST_F(SqliteJobStoreTest, AQueueFromBeforeTheMarkerGetsItWhenItHoldsJobs) {
  {
    auto store = OpenStore();
    ASSERT_TRUE((*store)->Save(SampleJob()));
  }
  fs::remove(path_ + ".held-jobs");
  ASSERT_TRUE(OpenStore());
  EXPECT_TRUE(fs::exists(path_ + ".held-jobs"));
}

}  // namespace
}  // namespace openbits::store

namespace openbits::store {
namespace {

// The helper binding (SetHelperToken) round-trips, sealed: the helper's credential cache name
// is not in the file, and a binding with flags only (no token yet) keeps its flags.
TEST_F(SqliteJobStoreTest, TheHelperBindingIsSealedAndRoundTrips) {
  core::Job bound = SampleJob();
  bound.helper.identity = core::HelperIdentity{1001, 1001, false, "FILE:/tmp/helper-cache-4711"};
  bound.helper.flags = core::kTokenNetwork | core::kTokenLocalFile;
  core::Job flags_only = SampleJob();
  flags_only.helper.flags = core::kTokenNetwork;
  flags_only.helper.stored_credentials = 2;  // USE_STORED_CREDENTIALS: PROXY
  bound.helper.stored_credentials = 2;
  core::Job none = SampleJob();
  {
    auto store = OpenStore();
    ASSERT_TRUE(store) << store.error().ToString();
    for (const core::Job* job : {&bound, &flags_only, &none}) ASSERT_TRUE((*store)->Save(*job));
    EXPECT_EQ(DatabaseBytes(dir_).find("helper-cache-4711"), std::string::npos);
  }
  auto store = OpenStore();
  ASSERT_TRUE(store);
  auto loaded = (*store)->LoadAll();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 3u);
  for (const core::Job& job : *loaded) {
    const core::Job& saved = job.id == bound.id        ? bound
                             : job.id == flags_only.id ? flags_only
                                                       : none;
    EXPECT_EQ(job.helper, saved.helper) << job.id.ToString();
  }
}

}  // namespace
}  // namespace openbits::store

namespace openbits::store {
namespace {

// Every column group the store writes (job_rows.h): equal images, equal rows.
void ExpectSameRows(const core::Job& a, const core::Job& b) {
  const JobImage left = ImageOf(a);
  const JobImage right = ImageOf(b);
  EXPECT_EQ(left.columns, right.columns);
  EXPECT_EQ(left.custom_headers, right.custom_headers);
  EXPECT_EQ(left.proxy, right.proxy);
  EXPECT_EQ(left.helper, right.helper);
  EXPECT_EQ(left.credentials, right.credentials);
  EXPECT_EQ(left.files, right.files);
}

// Load reads one job as LoadAll reads it: every column, its files in order, its secrets; an
// unknown id is BG_E_NOT_FOUND.
TEST_F(SqliteJobStoreTest, LoadReadsOneJobAsLoadAllDoes) {
  core::Job job = SampleJob();
  core::Credential credential;
  credential.user = SecretString("alice");
  credential.password = SecretString("pw");
  job.credentials.Set(credential);
  job.helper.identity = core::HelperIdentity{1001, 1001, false, ""};
  job.helper.flags = core::kTokenNetwork;
  job.proxy = {ProxyUsage::kOverride, "http://proxy:3128", "<local>"};
  const core::Job other = SampleJob();
  {
    auto store = OpenStore();
    ASSERT_TRUE(store) << store.error().ToString();
    ASSERT_TRUE((*store)->Save(job));
    ASSERT_TRUE((*store)->Save(other));
  }
  auto store = OpenStore();
  ASSERT_TRUE(store);
  auto all = (*store)->LoadAll();
  ASSERT_TRUE(all);
  auto one = (*store)->Load(job.id);
  ASSERT_TRUE(one) << one.error().ToString();
  const core::Job& listed = (*all)[0].id == job.id ? (*all)[0] : (*all)[1];
  ExpectSameRows(*one, listed);
  ExpectSameRows(*one, job);
  EXPECT_EQ(one->custom_headers.reveal(), job.custom_headers.reveal());
  EXPECT_EQ(one->credentials.all().size(), 1u);
  EXPECT_EQ(one->helper, job.helper);
  ASSERT_EQ(one->files.size(), 2u);
  EXPECT_EQ(one->files[1].remote_url, "http://h/f1");
  EXPECT_EQ(one->files[0].bytes_transferred, 100u);  // as LoadAll: the committed bytes

  auto missing = (*store)->Load(Guid::Generate());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), hr::BG_E_NOT_FOUND);
}

// LoadOutlines reads a few columns, but says of each job what its whole row says: summary,
// progress over its files (an unknown size makes the total unknown), times, helper binding.
TEST_F(SqliteJobStoreTest, OutlinesSayWhatTheWholeJobsSay) {
  core::Job unknown_size = SampleJob();  // one file of unknown size
  core::Job known = SampleJob();
  known.files[1].bytes_total = 50;
  known.files[1].bytes_committed = 20;
  known.helper.flags = core::kTokenLocalFile;
  core::Job no_files = SampleJob();
  no_files.files.clear();
  no_files.state = JobState::kSuspended;
  no_files.error.reset();
  {
    auto store = OpenStore();
    ASSERT_TRUE(store) << store.error().ToString();
    for (const core::Job* job : {&unknown_size, &known, &no_files}) {
      ASSERT_TRUE((*store)->Save(*job));
    }
  }
  auto store = OpenStore();
  ASSERT_TRUE(store);
  auto outlines = (*store)->LoadOutlines();
  ASSERT_TRUE(outlines) << outlines.error().ToString();
  auto all = (*store)->LoadAll();
  ASSERT_TRUE(all);
  ASSERT_EQ(outlines->size(), 3u);
  for (const core::JobOutline& outline : *outlines) {
    auto whole = std::find_if(all->begin(), all->end(),
                              [&](const core::Job& job) { return job.id == outline.summary.id; });
    ASSERT_NE(whole, all->end());
    const core::JobOutline expected = core::OutlineOf(*whole);
    const core::JobSummary& got = outline.summary;
    SCOPED_TRACE(got.id.ToString());
    EXPECT_EQ(got.display_name, expected.summary.display_name);
    EXPECT_EQ(got.type, expected.summary.type);
    EXPECT_EQ(got.state, expected.summary.state);
    EXPECT_EQ(got.priority, expected.summary.priority);
    EXPECT_EQ(got.owner_uid, expected.summary.owner_uid);
    EXPECT_EQ(got.creation_us, expected.summary.creation_us);
    EXPECT_EQ(got.progress.bytes_total, expected.summary.progress.bytes_total);
    EXPECT_EQ(got.progress.bytes_transferred, expected.summary.progress.bytes_transferred);
    EXPECT_EQ(got.progress.files_total, expected.summary.progress.files_total);
    EXPECT_EQ(got.progress.files_transferred, expected.summary.progress.files_transferred);
    EXPECT_EQ(outline.modification_us, expected.modification_us);
    EXPECT_EQ(outline.last_progress_us, expected.last_progress_us);
    EXPECT_EQ(outline.has_helper, expected.has_helper);
  }
  const auto& known_outline =
      *std::find_if(outlines->begin(), outlines->end(),
                    [&](const core::JobOutline& o) { return o.summary.id == known.id; });
  EXPECT_EQ(known_outline.summary.progress.bytes_total, 150u);
  EXPECT_EQ(known_outline.summary.progress.bytes_transferred, 120u);
  EXPECT_EQ(known_outline.summary.progress.files_transferred, 1u);
  EXPECT_TRUE(known_outline.has_helper);
}

}  // namespace
}  // namespace openbits::store
