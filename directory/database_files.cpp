#include "directory/database_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace frontline {
namespace {

std::string FolderOf(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

std::vector<std::string> DatabaseFiles(const std::string& db_path) {
  return {db_path, db_path + "-wal", db_path + "-shm", db_path + "-journal"};
}

bool EnsureDatabaseFolder(const std::string& db_path, std::string* error) {
  std::string folder = FolderOf(db_path);
  struct stat st;
  if (::stat(folder.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return true;
    *error = folder + " is not a folder";
    return false;
  }
  // Create each missing level in turn, like mkdir -p.
  for (size_t pos = 1; pos <= folder.size(); ++pos) {
    if (pos != folder.size() && folder[pos] != '/') continue;
    std::string prefix = folder.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0750) != 0 && errno != EEXIST) {
      *error = "cannot create " + prefix + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

bool MatchFolderOwner(const std::string& db_path, std::string* error) {
  if (::geteuid() != 0) return true;
  struct stat folder;
  if (::stat(FolderOf(db_path).c_str(), &folder) != 0 || folder.st_uid == 0) return true;
  for (const std::string& file : DatabaseFiles(db_path)) {
    struct stat st;
    if (::lstat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (st.st_uid == folder.st_uid && st.st_gid == folder.st_gid) continue;
    if (::chown(file.c_str(), folder.st_uid, folder.st_gid) != 0) {
      *error = "cannot give " + file + " to the owner of its folder: " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

}  // namespace frontline
