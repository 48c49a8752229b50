// The SQLite store on a real file: round trip, reopen, progress checkpoints, corruption.
#include "store/sqlite_job_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>

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
  EXPECT_EQ(loaded->front().files[0].delivery, core::Delivery::kNone);  // version 10
}

TEST_F(SqliteJobStoreTest, CorruptDatabaseIsReportedAndMovedAsideNeverReplaced) {
  {
    std::ofstream garbage(path_, std::ios::binary);
    garbage << std::string(8192, 'x');
  }
  auto store = OpenStore();
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), hr::BG_E_DATABASE_CORRUPT);
  EXPECT_FALSE(fs::exists(path_));
  bool kept = false;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.path().filename().string().starts_with("jobs.db.corrupt-")) kept = true;
  }
  EXPECT_TRUE(kept);
  // The next start begins with an empty queue.
  auto fresh = OpenStore();
  ASSERT_TRUE(fresh);
  EXPECT_TRUE((*fresh)->LoadAll()->empty());
}

}  // namespace
}  // namespace openbits::store
