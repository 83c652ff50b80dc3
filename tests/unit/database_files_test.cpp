// Database files on disk: the side files SQLite makes, creating the folder for a new database,
// and handing files root made to the owner of their folder.
#include "directory/database_files.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/directory_test_util.h"

namespace frontline {
namespace {

using testing::TempDir;

struct stat StatOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st;
}

TEST_CASE("DatabaseFiles names the database and every side file SQLite creates") {
  CHECK(DatabaseFiles("/var/lib/x/directory.db") ==
        std::vector<std::string>{"/var/lib/x/directory.db", "/var/lib/x/directory.db-wal",
                                 "/var/lib/x/directory.db-shm", "/var/lib/x/directory.db-journal"});
}

TEST_CASE("DatabaseFileExists accepts a file and names a missing path or a folder") {
  TempDir dir;
  std::string error;
  const std::string db = dir.Write("directory.db", "x");
  CHECK(DatabaseFileExists(db, &error));
  CHECK(error.empty());
  CHECK_FALSE(DatabaseFileExists(dir.File("typo.db"), &error));
  CHECK(error == dir.File("typo.db") + " does not exist");
  CHECK_FALSE(DatabaseFileExists(dir.File("no/such/folder/directory.db"), &error));
  CHECK(error == dir.File("no/such/folder/directory.db") + " does not exist");
  CHECK_FALSE(DatabaseFileExists(dir.File(""), &error));
  CHECK(error.find("is a folder") != std::string::npos);
  CHECK_FALSE(DatabaseFileExists(db + "/x.db", &error));  // a file where a folder should be
  CHECK(error.find(db + "/x.db") != std::string::npos);
  // Checking creates nothing.
  CHECK_FALSE(DatabaseFileExists(dir.File("typo.db"), &error));
  CHECK(::access(dir.File("typo.db").c_str(), F_OK) != 0);
}

TEST_CASE("EnsureDatabaseFolder creates missing folders and refuses a file in the way") {
  TempDir dir;
  struct Case {
    std::string db_path;
    bool ok;
    std::string folder;  // must be a folder afterwards when ok
  };
  std::string blocker = dir.Write("plain-file", "x");
  const Case cases[] = {
      {dir.File("directory.db"), true, dir.File("")},
      {dir.File("a/directory.db"), true, dir.File("a")},
      {dir.File("b/c/d/directory.db"), true, dir.File("b/c/d")},
      {dir.File("a/directory.db"), true, dir.File("a")},  // already there
      {blocker + "/directory.db", false, ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.db_path);
    std::string error;
    CHECK(EnsureDatabaseFolder(c.db_path, &error) == c.ok);
    if (c.ok) {
      CHECK(error.empty());
      CHECK(S_ISDIR(StatOf(c.folder).st_mode));
    } else {
      CHECK(error.find("is not a folder") != std::string::npos);
    }
  }
  CHECK((StatOf(dir.File("b/c/d")).st_mode & 0777) == 0700);
}

TEST_CASE("MatchFolderOwner gives root's files to the folder owner, and only as root") {
  TempDir dir;
  const uid_t kOther = 65534;  // nobody
  std::string db = dir.Write("directory.db", "db");
  std::string wal = dir.Write("directory.db-wal", "wal");
  std::string unrelated = dir.Write("notes.txt", "n");
  const uid_t me = ::geteuid();
  std::string error;
  if (me == 0) {
    REQUIRE(::chown(dir.File("").c_str(), kOther, kOther) == 0);
    CHECK(MatchFolderOwner(db, &error));
    CHECK(error.empty());
    CHECK(StatOf(db).st_uid == kOther);
    CHECK(StatOf(db).st_gid == kOther);
    CHECK(StatOf(wal).st_uid == kOther);
    CHECK(StatOf(unrelated).st_uid == 0);  // not a database file: left alone
    // A root-owned folder: nothing changes.
    REQUIRE(::chown(dir.File("").c_str(), 0, 0) == 0);
    REQUIRE(::chown(db.c_str(), 0, 0) == 0);
    CHECK(MatchFolderOwner(db, &error));
    CHECK(StatOf(db).st_uid == 0);
  } else {
    // Not root: never tries to chown, whoever owns the folder.
    CHECK(MatchFolderOwner(db, &error));
    CHECK(StatOf(db).st_uid == me);
  }
}

}  // namespace
}  // namespace frontline
