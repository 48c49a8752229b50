// The job database's schema: one step per version from an empty file to the current one,
// applied in order by Migrate. Every column is documented in docs/storage-schema.md.
#pragma once

#include <sqlite3.h>

#include <string>

#include "openbits/result.h"
#include "store/secret_box.h"

namespace openbits::store {

// The schema version that seals proxy lists, proxy environments and PAC URLs (which may
// hold a password) and seals the plaintext rows of older versions.
inline constexpr int kProxySealingVersion = 11;
// The current schema version.
inline constexpr int kSchemaVersion = 14;

// Runs the steps from `from` up to `to`, each in its own transaction. The sealing step
// (kProxySealingVersion) also seals the plaintext rows older versions wrote, with
// secure_delete on so that the old bytes are overwritten.
Status Migrate(sqlite3* db, const std::string& path, int from, int to, const SecretBox& secrets);

// What lost rows leave inconsistent after a recovery: jobs that lost some of their files (the
// indexes have a gap: such a job would transfer other files than it was given), then the files
// and credentials of jobs that were lost.
inline constexpr const char* kRecoveryCleanup = R"sql(
DELETE FROM jobs WHERE id IN
  (SELECT job_id FROM files GROUP BY job_id HAVING max(idx) + 1 != count(*));
DELETE FROM files WHERE job_id NOT IN (SELECT id FROM jobs);
DELETE FROM credentials WHERE job_id NOT IN (SELECT id FROM jobs);
)sql";

// A database of a newer schema than this bitsd knows.
Error NewerSchema(const std::string& path, int version);

}  // namespace openbits::store
