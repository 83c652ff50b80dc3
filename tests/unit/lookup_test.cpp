// Lookup<T> (directory/lookup.h): three states, never two.
#include "directory/lookup.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace frontline {
namespace {

Lookup<std::vector<std::string>> Names() {
  return Lookup<std::vector<std::string>>::Found({"ann", "bob"});
}

TEST_CASE("lookup: found, absent and unavailable are distinct") {
  Lookup<std::string> found = Lookup<std::string>::Found("x");
  CHECK(found.found());
  CHECK_FALSE(found.absent());
  CHECK_FALSE(found.unavailable());
  CHECK(*found == "x");
  CHECK(found->size() == 1);
  CHECK(found.error().empty());

  Lookup<std::string> absent = Lookup<std::string>::Absent();
  CHECK(absent.absent());
  CHECK_FALSE(absent.found());
  CHECK(absent.error().empty());

  Lookup<std::string> unavailable = Lookup<std::string>::Unavailable("disk I/O error");
  CHECK(unavailable.unavailable());
  CHECK_FALSE(unavailable.found());
  CHECK_FALSE(unavailable.absent());
  CHECK(unavailable.error() == "disk I/O error");
  CHECK(unavailable.state() == Lookup<std::string>::State::kUnavailable);
}

TEST_CASE("lookup: the value moves out, and a temporary's value outlives it") {
  Lookup<std::string> found = Lookup<std::string>::Found(std::string(100, 'a'));
  std::string taken = std::move(found).value();
  CHECK(taken.size() == 100);
  std::string joined;
  for (const std::string& name : Names().value()) joined += name;  // no dangling reference
  CHECK(joined == "annbob");
}

}  // namespace
}  // namespace frontline
