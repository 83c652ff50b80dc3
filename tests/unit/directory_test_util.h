// Helpers shared by the directory unit tests: a temporary directory removed at scope exit,
// file writing, and small customer builders. Test-only; not thread-safe by itself.
#ifndef FRONTLINE_TESTS_UNIT_DIRECTORY_TEST_UTIL_H_
#define FRONTLINE_TESTS_UNIT_DIRECTORY_TEST_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "directory/customer.h"

namespace frontline {
namespace testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "frontline-test.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // Writes `content` to `name` in the directory and returns the full path.
  std::string Write(const std::string& name, const std::string& content) const {
    std::ofstream out(File(name), std::ios::binary);
    out << content;
    return File(name);
  }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline Customer MakeCustomer(const std::string& id, const std::string& name,
                             const std::string& worker = "alice@example.com") {
  Customer c;
  c.customer_id = id;
  c.display_name = name;
  c.worker = worker;
  return c;
}

}  // namespace testing
}  // namespace frontline

#endif  // FRONTLINE_TESTS_UNIT_DIRECTORY_TEST_UTIL_H_
