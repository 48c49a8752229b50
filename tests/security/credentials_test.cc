// Security tests: the credentials boundary. Each case is an attack by a local user, an
// administrator or a hostile server, asserting the secure outcome (docs/security.md).
//
// Kerberos credential caches named by the caller (KRB5CCNAME): bitsd reads them as root, so
// a user must not be able to make it read another user's tickets and authenticate as them.
// What the server saw (Apache's access log) is the proof: never bob for alice's job.
#include "security/user_paths_fixture.h"

namespace openbits::integration {
namespace {

class CredentialCacheTest : public UserPathsTest {};

TEST_F(CredentialCacheTest, AlicesOwnCacheWorksAsFileAndAsDirCache) {
  KinitInto("alice", alice_dir_ + "/cache", alice_);
  const UserJob file = RunImplicit(alice_, "own-file", "/negotiate/file.bin", "NEGOTIATE",
                                   {"KRB5CCNAME=FILE:" + alice_dir_ + "/cache"});
  EXPECT_EQ(file.state, "TRANSFERRED") << file.error;
  // A DIR: collection: its primary names the cache file in the same directory.
  const std::string collection = alice_dir_ + "/collection";
  ASSERT_EQ(mkdir(collection.c_str(), 0700), 0);
  ASSERT_EQ(chown(collection.c_str(), alice_.uid, alice_.gid), 0);
  KinitInto("alice", collection + "/tktalice", alice_);
  harness::WriteFile(collection + "/primary", "tktalice\n");
  ASSERT_EQ(chown((collection + "/primary").c_str(), alice_.uid, alice_.gid), 0);
  const UserJob dir = RunImplicit(alice_, "own-dir", "/negotiate/file.bin", "NEGOTIATE",
                                  {"KRB5CCNAME=DIR:" + collection});
  EXPECT_EQ(dir.state, "TRANSFERRED") << dir.error;
  EXPECT_TRUE(ServerSaw("alice@TEST.LOCAL"));
  EXPECT_FALSE(ServerSaw("bob@"));
}

TEST_F(CredentialCacheTest, ASymbolicOrHardLinkToBobsCacheIsRefused) {
  KinitInto("bob", bob_dir_ + "/cache", bob_);
  ASSERT_EQ(chmod(bob_dir_.c_str(), 0755), 0);  // bob's cache itself stays 0600
  const std::string alias = alice_dir_ + "/cache";
  ASSERT_EQ(symlink((bob_dir_ + "/cache").c_str(), alias.c_str()), 0);
  ASSERT_EQ(lchown(alias.c_str(), alice_.uid, alice_.gid), 0);
  const UserJob job = RunImplicit(alice_, "symlink", "/negotiate/file.bin", "NEGOTIATE",
                                  {"KRB5CCNAME=FILE:" + alias});
  EXPECT_EQ(job.state, "ERROR");
  EXPECT_NE(job.error.find("is a symbolic link"), std::string::npos) << job.error;
  // A hard link to bob's cache (fs.protected_hardlinks stops alice; root makes it here),
  // which bob left readable: alice can open it, and the owner check on what was opened
  // refuses it.
  ASSERT_EQ(chmod((bob_dir_ + "/cache").c_str(), 0644), 0);
  ASSERT_EQ(link((bob_dir_ + "/cache").c_str(), (alice_dir_ + "/hard").c_str()), 0);
  const UserJob hard = RunImplicit(alice_, "hardlink", "/negotiate/file.bin", "NEGOTIATE",
                                   {"KRB5CCNAME=FILE:" + alice_dir_ + "/hard"});
  EXPECT_EQ(hard.state, "ERROR");
  EXPECT_NE(hard.error.find("must belong to uid " + std::to_string(alice_.uid)), std::string::npos)
      << hard.error;
  EXPECT_FALSE(ServerSaw("bob@"));
}

// A DIR: collection needs no race: the caller's directory passes an owner check, and its
// primary file names a link to bob's cache, which krb5 follows.
TEST_F(CredentialCacheTest, ADirCacheWhosePrimaryNamesBobsCacheIsRefused) {
  KinitInto("bob", bob_dir_ + "/cache", bob_);
  ASSERT_EQ(chmod(bob_dir_.c_str(), 0755), 0);
  const std::string collection = alice_dir_ + "/collection";
  ASSERT_EQ(mkdir(collection.c_str(), 0700), 0);
  ASSERT_EQ(chown(collection.c_str(), alice_.uid, alice_.gid), 0);
  ASSERT_EQ(symlink((bob_dir_ + "/cache").c_str(), (collection + "/tktbob").c_str()), 0);
  ASSERT_EQ(lchown((collection + "/tktbob").c_str(), alice_.uid, alice_.gid), 0);
  harness::WriteFile(collection + "/primary", "tktbob\n");
  ASSERT_EQ(chown((collection + "/primary").c_str(), alice_.uid, alice_.gid), 0);
  const UserJob job = RunImplicit(alice_, "dir-primary", "/negotiate/file.bin", "NEGOTIATE",
                                  {"KRB5CCNAME=DIR:" + collection});
  EXPECT_EQ(job.state, "ERROR");
  EXPECT_NE(job.error.find("is a symbolic link"), std::string::npos) << job.error;
  EXPECT_FALSE(ServerSaw("bob@"));
  // A primary that leaves the directory is refused as well.
  harness::WriteFile(collection + "/primary", "../../bob/cache\n");
  const UserJob escaping = RunImplicit(alice_, "dir-escape", "/negotiate/file.bin", "NEGOTIATE",
                                       {"KRB5CCNAME=DIR:" + collection});
  EXPECT_EQ(escaping.state, "ERROR");
  EXPECT_FALSE(ServerSaw("bob@"));
}

TEST_F(CredentialCacheTest, CacheTypesThatCannotBeCheckedAreRefusedByName) {
  for (const std::string& cache :
       {"KCM:" + std::to_string(alice_.uid), std::string("KEYRING:persistent:1"),
        std::string("MEMORY:stolen")}) {
    const UserJob job = RunImplicit(alice_, "type-" + cache.substr(0, cache.find(':')),
                                    "/negotiate/file.bin", "NEGOTIATE", {"KRB5CCNAME=" + cache});
    EXPECT_EQ(job.state, "ERROR") << cache;
    EXPECT_NE(job.error.find("use a FILE: or DIR: cache"), std::string::npos) << job.error;
  }
}

}  // namespace
}  // namespace openbits::integration
