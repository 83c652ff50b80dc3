// The process log: one line per event to stderr or a file, as plain text, JSON, or plain text
// with systemd journal priority prefixes ("<6>"). Thread-safe: each line is written with one
// write(2) under a mutex; Reopen (SIGHUP) may race with writers safely.
#ifndef FRONTLINE_FCGI_LOG_H_
#define FRONTLINE_FCGI_LOG_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace frontline {

enum class LogFormat { kPlain, kJson, kJournal };
enum class LogLevel { kError, kWarning, kInfo, kDebug };

// Key/value fields of a log line, in order. Values are written escaped; never pass secrets.
using LogFields = std::vector<std::pair<std::string_view, std::string>>;

class Log {
 public:
  // Logs to stderr until Open() names a file.
  explicit Log(LogFormat format = LogFormat::kPlain) : format_(format) {}
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Appends to `path` from now on (created 0640). False with `error` when it cannot be opened.
  bool Open(const std::string& path, std::string* error);
  // Reopens the file after rotation; keeps the old descriptor if the reopen fails.
  void Reopen();
  void set_format(LogFormat format) { format_ = format; }

  void Write(LogLevel level, std::string_view message, const LogFields& fields = {});
  void Error(std::string_view message, const LogFields& fields = {}) {
    Write(LogLevel::kError, message, fields);
  }
  void Warning(std::string_view message, const LogFields& fields = {}) {
    Write(LogLevel::kWarning, message, fields);
  }
  void Info(std::string_view message, const LogFields& fields = {}) {
    Write(LogLevel::kInfo, message, fields);
  }

  // The line Write would emit (without the trailing newline); for tests.
  std::string Format(LogLevel level, std::string_view message, const LogFields& fields) const;

 private:
  LogFormat format_;
  std::mutex mutex_;
  std::string path_;
  int fd_ = 2;
};

// True when stderr is the systemd journal stream named by $JOURNAL_STREAM ("device:inode").
bool StderrIsJournal();

}  // namespace frontline

#endif  // FRONTLINE_FCGI_LOG_H_
