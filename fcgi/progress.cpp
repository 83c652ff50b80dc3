#include "fcgi/progress.h"

#include <algorithm>

namespace frontline {

void ProgressBar::Update(const ImportProgress& progress) {
  auto now = std::chrono::steady_clock::now();
  if (printed_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  printed_ = true;
  const double fraction =
      progress.total == 0 ? 1.0
                          : std::min(1.0, static_cast<double>(progress.done) / progress.total);
  // Pass 1 counts the customers checked, pass 2 those written: say which.
  Print(fraction, progress.customers, progress.pass == 1 ? " checked" : " written");
}

void ProgressBar::Finish(size_t customers) {
  if (printed_) std::fprintf(out_, "\r%*s", static_cast<int>(width_), "");  // blank the last one
  Print(1.0, customers, "");
  std::fputc('\n', out_);
  std::fflush(out_);
}

void ProgressBar::Abort() {
  std::fputc('\n', out_);
  std::fflush(out_);
}

void ProgressBar::Print(double fraction, size_t customers, const char* suffix) {
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth);
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
  bar[kWidth] = '\0';
  const int n = std::fprintf(out_, "\rimport [%s] %5.1f%%  %zu customers%s", bar, fraction * 100.0,
                             customers, suffix);
  if (n > 0) width_ = std::max(width_, static_cast<size_t>(n));
  std::fflush(out_);
}

}  // namespace frontline
