#include "directory/database_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

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

bool DatabaseFileExists(const std::string& db_path, std::string* error) {
  std::error_code ec;
  std::filesystem::file_status status = std::filesystem::status(db_path, ec);
  if (status.type() == std::filesystem::file_type::not_found) {
    *error = db_path + " does not exist";
    return false;
  }
  if (ec) {
    *error = "cannot check " + db_path + ": " + ec.message();
    return false;
  }
  if (std::filesystem::is_directory(status)) {
    *error = db_path + " is a folder, not a database file";
    return false;
  }
  return true;
}

bool EnsureDatabaseFolder(const std::string& db_path, std::string* error) {
  std::filesystem::path folder = FolderOf(db_path);
  std::error_code ec;
  if (std::filesystem::is_directory(folder, ec)) return true;
  if (std::filesystem::exists(folder, ec)) {
    *error = folder.string() + " is not a folder";
    return false;
  }
  // Like mkdir -p; the database's own folder is kept from other users (0700: serve warns about
  // a folder its group or others can read).
  std::filesystem::create_directories(folder, ec);
  if (!ec) std::filesystem::permissions(folder, std::filesystem::perms(0700), ec);
  if (ec) {
    *error = "cannot create " + folder.string() + ": " + ec.message();
    return false;
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
