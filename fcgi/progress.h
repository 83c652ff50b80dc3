// The progress bar of `frontline-fcgi import` on a terminal: "\rimport [####....]  42.0%  N
// customers checked" (pass 1) or "… written" (pass 2), redrawn in place at most 10 times a
// second from ImportOptions::progress, and ended with a newline by Finish (success, "N
// customers") or Abort (before an error message).
// Thread-safety: one thread at a time (the importing thread calls Update).
#ifndef FRONTLINE_FCGI_PROGRESS_H_
#define FRONTLINE_FCGI_PROGRESS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>

#include "directory/import.h"

namespace frontline {

class ProgressBar {
 public:
  explicit ProgressBar(std::FILE* out) : out_(out) {}

  // For ImportOptions::progress; the bar must outlive the import.
  std::function<void(const ImportProgress&)> Callback() {
    return [this](const ImportProgress& p) { Update(p); };
  }

  void Update(const ImportProgress& progress);
  // Draws the full bar with the imported customers and ends the line.
  void Finish(size_t customers);
  // Ends the bar's line before an error message follows it.
  void Abort();

 private:
  void Print(double fraction, size_t customers, const char* suffix);

  std::FILE* out_;
  bool printed_ = false;
  size_t width_ = 0;  // the longest line drawn, "\r" included
  std::chrono::steady_clock::time_point last_;
};

}  // namespace frontline

#endif  // FRONTLINE_FCGI_PROGRESS_H_
