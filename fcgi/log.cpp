#include "fcgi/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace frontline {
namespace {

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
  }
  return "info";
}

// syslog priorities as sd-daemon(3) prefixes.
const char* JournalPrefix(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "<3>";
    case LogLevel::kWarning: return "<4>";
    case LogLevel::kInfo: return "<6>";
    case LogLevel::kDebug: return "<7>";
  }
  return "<6>";
}

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis.count()));
  return buf;
}

// Plain-text values are quoted when they could be mistaken for several fields, and control
// characters are escaped so one event is always one line.
void AppendPlainValue(std::string* out, std::string_view value) {
  bool quote = value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) quote = true;
  }
  if (!quote) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      out->append("\\n");
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out->append(buf);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

int OpenAppend(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

}  // namespace

Log::~Log() {
  if (fd_ > 2) ::close(fd_);
}

bool Log::Open(const std::string& path, std::string* error) {
  int fd = OpenAppend(path);
  if (fd < 0) {
    *error = "cannot open log file " + path + ": " + std::strerror(errno);
    return false;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (fd_ > 2) ::close(fd_);
  fd_ = fd;
  path_ = path;
  return true;
}

void Log::Reopen() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (path_.empty()) return;
  int fd = OpenAppend(path_);
  if (fd < 0) return;
  if (fd_ > 2) ::close(fd_);
  fd_ = fd;
}

std::string Log::Format(LogLevel level, std::string_view message, const LogFields& fields) const {
  if (format_ == LogFormat::kJson) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("ts");
    w.String(Timestamp());
    w.Key("level");
    w.String(LevelName(level));
    w.Key("msg");
    w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
    for (const auto& [key, value] : fields) {
      w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
      w.String(value);
    }
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize());
  }
  std::string line;
  if (format_ == LogFormat::kJournal) {
    line = JournalPrefix(level);  // journald adds its own timestamp
  } else {
    line = Timestamp();
    line += ' ';
    line += LevelName(level);
    line += ' ';
  }
  for (char c : message) line.push_back(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
  for (const auto& [key, value] : fields) {
    line += ' ';
    line.append(key);
    line += '=';
    AppendPlainValue(&line, value);
  }
  return line;
}

void Log::Write(LogLevel level, std::string_view message, const LogFields& fields) {
  std::string line = Format(level, message, fields);
  line += '\n';
  std::lock_guard<std::mutex> lock(mutex_);
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere else to report a failing log
    data += n;
    left -= static_cast<size_t>(n);
  }
}

bool StderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  unsigned long long device = 0, inode = 0;
  if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2) return false;
  struct stat st {};
  if (fstat(2, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == device &&
         static_cast<unsigned long long>(st.st_ino) == inode;
}

}  // namespace frontline
