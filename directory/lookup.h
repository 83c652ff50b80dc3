// The answer of a store lookup: found (with the value), absent (the store answered: there is
// none), or unavailable (the store could not answer: I/O error, lock timeout, lost connection,
// a row that cannot be decoded). SPEC §8: unavailable is never reported as absent, so callers
// must look at all three; [[nodiscard]] makes dropping one a compile error under -Werror.
//
// A plain value type (a state, an optional value, an error string for the log): cheap to move,
// not synchronised; share it between threads only as any other value.
#ifndef FRONTLINE_DIRECTORY_LOOKUP_H_
#define FRONTLINE_DIRECTORY_LOOKUP_H_

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace frontline {

template <class T>
class [[nodiscard]] Lookup {
 public:
  enum class State { kFound, kAbsent, kUnavailable };

  static Lookup Found(T value) { return Lookup(State::kFound, std::move(value), {}); }
  static Lookup Absent() { return Lookup(State::kAbsent, std::nullopt, {}); }
  // `error` says what failed, for the log; never sent to a client.
  static Lookup Unavailable(std::string error) {
    return Lookup(State::kUnavailable, std::nullopt, std::move(error));
  }

  State state() const { return state_; }
  bool found() const { return state_ == State::kFound; }
  bool absent() const { return state_ == State::kAbsent; }
  bool unavailable() const { return state_ == State::kUnavailable; }

  // The value; only when found().
  const T& value() const& {
    assert(found());
    return *value_;
  }
  T& value() & {
    assert(found());
    return *value_;
  }
  // Moved out of a temporary: returned by value, so that `for (x : Find().value())` does not
  // iterate over a destroyed temporary.
  T value() && {
    assert(found());
    return std::move(*value_);
  }
  const T* operator->() const { return &value(); }
  const T& operator*() const& { return value(); }

  // Why the store could not answer; empty unless unavailable().
  const std::string& error() const { return error_; }

 private:
  Lookup(State state, std::optional<T> value, std::string error)
      : state_(state), value_(std::move(value)), error_(std::move(error)) {}

  State state_;
  std::optional<T> value_;
  std::string error_;
};

}  // namespace frontline

#endif  // FRONTLINE_DIRECTORY_LOOKUP_H_
