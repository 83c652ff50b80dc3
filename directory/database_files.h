// The files of a directory database on disk: making room for a new one, and keeping their
// owner right when root writes into a folder that belongs to the service user (the systemd
// units' DynamicUser owns /var/lib/frontline-fcgi; an admin runs `import` as root).
// Stateless; safe to call from any thread, though the calls race with other processes
// creating the same files.
#ifndef FRONTLINE_DIRECTORY_DATABASE_FILES_H_
#define FRONTLINE_DIRECTORY_DATABASE_FILES_H_

#include <string>
#include <vector>

namespace frontline {

// The database file and the side files SQLite may create next to it (-wal, -shm, -journal).
std::vector<std::string> DatabaseFiles(const std::string& db_path);

// True when the database file `db_path` exists. False with `error` = "<db_path> does not
// exist" (or why it cannot be checked, or that it is a folder) otherwise. Commands that must not
// create a database (serve, export, outbox) check this first: SQLite would silently create an
// empty one, and a mistyped path would then look like an empty directory.
[[nodiscard]] bool DatabaseFileExists(const std::string& db_path, std::string* error);

// Creates the folder that will hold `db_path` (mode 0750) and missing parents when it does not
// exist. False with `error` set when it cannot.
bool EnsureDatabaseFolder(const std::string& db_path, std::string* error);

// When the process runs as root and the folder holding `db_path` belongs to another user, gives
// every existing database file that user and group, so the service can still open them.
// Otherwise does nothing. False with `error` naming the file when a chown fails.
bool MatchFolderOwner(const std::string& db_path, std::string* error);

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_DATABASE_FILES_H_
